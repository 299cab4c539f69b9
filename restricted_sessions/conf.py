"""The library's settings: one typed property per ``RESTRICTEDSESSIONS_*`` setting.

Values are read from ``django.conf.settings`` on first use and kept on the ``conf`` object until
a setting changes (Django's ``setting_changed`` signal, sent by ``override_settings``), so the
hot path pays an attribute lookup and nothing is ever written into Django's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from restricted_sessions.addresses import Networks, parse_networks
from restricted_sessions.binding import Policy
from restricted_sessions.keys import meta_key

PREFIX = "RESTRICTEDSESSIONS_"

DEFAULTS: dict[str, Any] = {
    "SESSION_HEADER": "X-SessionID",
    "RESTRICT_IP": True,
    "RESTRICT_UA": True,
    "REMOTE_ADDR_KEY": "REMOTE_ADDR",
    "IPV4_LENGTH": 32,
    "IPV6_LENGTH": 64,
    "REDIRECT_VIEW": None,
    "FAILURE_STATUS": 400,
    "AUTHED_ONLY": False,
    "TRUSTED_PROXIES": [],
    "UA_MATCH": "exact",
    "IP_EXEMPT_NETWORKS": [],
    "DUAL_STACK": False,
    "REPORT_ONLY": False,
    "FAILURE_HANDLER": None,
    "STORE": "raw",
}


def _get(name: str) -> Any:
    return getattr(settings, PREFIX + name, DEFAULTS[name])


class Settings:
    """Typed access to every ``RESTRICTEDSESSIONS_*`` setting, with its default."""

    @cached_property
    def SESSION_HEADER(self) -> str | None:
        return _get("SESSION_HEADER")  # type: ignore[no-any-return]

    @cached_property
    def RESTRICT_IP(self) -> bool:
        return _get("RESTRICT_IP")  # type: ignore[no-any-return]

    @cached_property
    def RESTRICT_UA(self) -> bool:
        return _get("RESTRICT_UA")  # type: ignore[no-any-return]

    @cached_property
    def REMOTE_ADDR_KEY(self) -> str:
        return _get("REMOTE_ADDR_KEY")  # type: ignore[no-any-return]

    @cached_property
    def IPV4_LENGTH(self) -> int:
        return _get("IPV4_LENGTH")  # type: ignore[no-any-return]

    @cached_property
    def IPV6_LENGTH(self) -> int:
        return _get("IPV6_LENGTH")  # type: ignore[no-any-return]

    @cached_property
    def REDIRECT_VIEW(self) -> str | None:
        return _get("REDIRECT_VIEW")  # type: ignore[no-any-return]

    @cached_property
    def FAILURE_STATUS(self) -> int:
        return _get("FAILURE_STATUS")  # type: ignore[no-any-return]

    @cached_property
    def AUTHED_ONLY(self) -> bool:
        return _get("AUTHED_ONLY")  # type: ignore[no-any-return]

    @cached_property
    def TRUSTED_PROXIES(self) -> list[str]:
        return _get("TRUSTED_PROXIES")  # type: ignore[no-any-return]

    @cached_property
    def UA_MATCH(self) -> str:
        return _get("UA_MATCH")  # type: ignore[no-any-return]

    @cached_property
    def IP_EXEMPT_NETWORKS(self) -> list[str]:
        return _get("IP_EXEMPT_NETWORKS")  # type: ignore[no-any-return]

    @cached_property
    def DUAL_STACK(self) -> bool:
        return _get("DUAL_STACK")  # type: ignore[no-any-return]

    @cached_property
    def REPORT_ONLY(self) -> bool:
        return _get("REPORT_ONLY")  # type: ignore[no-any-return]

    @cached_property
    def FAILURE_HANDLER(self) -> str | None:
        return _get("FAILURE_HANDLER")  # type: ignore[no-any-return]

    @cached_property
    def STORE(self) -> str:
        return _get("STORE")  # type: ignore[no-any-return]

    # Prepared forms, for the hot path (valid settings assumed: the checks ran at start-up).

    @cached_property
    def session_header_meta_key(self) -> str | None:
        """The ``request.META`` key of SESSION_HEADER (``HTTP_X_SESSIONID``), or None."""
        return meta_key(self.SESSION_HEADER) if self.SESSION_HEADER else None

    @cached_property
    def session_cookie_name(self) -> str:
        return str(settings.SESSION_COOKIE_NAME)

    @cached_property
    def save_every_request(self) -> bool:
        return bool(settings.SESSION_SAVE_EVERY_REQUEST)

    @cached_property
    def trusted_proxy_networks(self) -> Networks:
        return parse_networks(tuple(self.TRUSTED_PROXIES))

    @cached_property
    def forwarded_for_key(self) -> str:
        """The META key of the header that trusted proxies append the client address to."""
        key = self.REMOTE_ADDR_KEY
        return "HTTP_X_FORWARDED_FOR" if key == "REMOTE_ADDR" else key

    def policy(self) -> Policy:
        return _policy()

    def failure_handler(self) -> Callable[..., Any] | None:
        path = self.FAILURE_HANDLER
        return import_string(path) if path else None


@lru_cache(maxsize=1)
def _policy() -> Policy:
    return Policy(
        restrict_ip=conf.RESTRICT_IP,
        restrict_ua=conf.RESTRICT_UA,
        ipv4_length=conf.IPV4_LENGTH,
        ipv6_length=conf.IPV6_LENGTH,
        exempt_networks=parse_networks(tuple(conf.IP_EXEMPT_NETWORKS)),
        ua_match=conf.UA_MATCH,
        dual_stack=conf.DUAL_STACK,
        hashed=conf.STORE == "hashed",
        secrets=(settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())),
    )


@receiver(setting_changed)
def _forget_settings(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith((PREFIX, "SECRET_KEY", "SESSION_")):
        conf.__dict__.clear()
        _policy.cache_clear()


conf = Settings()
