"""A session engine for the tests: a site's own subclass of Django's signed_cookies SessionStore."""

from __future__ import annotations

from django.contrib.sessions.backends import signed_cookies


class SessionStore(signed_cookies.SessionStore):
    pass
