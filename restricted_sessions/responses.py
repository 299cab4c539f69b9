"""The response to a restricted session: FAILURE_HANDLER, REDIRECT_VIEW or FAILURE_STATUS."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse

from restricted_sessions.binding import REASON_DPOP
from restricted_sessions.changes import escaped
from restricted_sessions.conf import Config
from restricted_sessions.proofs import challenge_response, proof_key

__all__ = ["afailure_response", "default_failure_response", "failure_response", "is_redirect_target"]

logger = logging.getLogger("restricted_sessions")


def default_failure_response(config: Config) -> HttpResponseBase:
    """A redirect to REDIRECT_VIEW when it is set, else an empty FAILURE_STATUS response."""
    if config.redirect_view:
        try:
            return HttpResponseRedirect(reverse(config.redirect_view))
        except NoReverseMatch:
            # The system check reports this at start-up; at request time, fail with the status.
            logger.error("RESTRICTEDSESSIONS_REDIRECT_VIEW %r cannot be reversed.", config.redirect_view)
    return HttpResponse(status=config.failure_status)


def is_redirect_target(request: HttpRequest, config: Config) -> bool:
    """True for a request to REDIRECT_VIEW itself, which is served once the session is ended.

    A client may send its old key again (a signed cookie cannot be revoked, a header client may
    retry): refusing the redirect target too would redirect it in a loop.
    """
    if not config.redirect_view or config.failure_handler is not None:
        return False
    try:
        return request.path == reverse(config.redirect_view)
    except NoReverseMatch:
        return False


def _checked(request: HttpRequest, response: Any, config: Config) -> HttpResponseBase:
    if isinstance(response, HttpResponseBase):
        return response
    # A handler that returns no response would let the request through to the view after the
    # flush: treat it as a handler error.
    logger.error(
        "RESTRICTEDSESSIONS_FAILURE_HANDLER returned %s instead of an HttpResponse (path %s); "
        "answering with FAILURE_STATUS.",
        type(response).__name__,
        escaped(request.path),
    )
    return HttpResponse(status=config.failure_status)


def _default(request: HttpRequest, reason: str, config: Config) -> HttpResponseBase:
    if reason == REASON_DPOP:
        # A DPoP client is told in its own terms (RFC 9449 section 7.1).
        # The session has ended either way (a key-bound session used without its key is a change).
        if proof_key(request) is None:
            description = "The session was bound to a DPoP key and the request carried no proof by it: it has ended."
        else:
            description = "The session was bound to another key: it has ended."
        return challenge_response(config, "invalid_dpop_proof", description)
    return default_failure_response(config)


def failure_response(request: HttpRequest, reason: str, config: Config) -> HttpResponseBase:
    """The failure response for a restricted session, from the configured handler if any."""
    handler = config.failure_handler
    if handler is None:
        return _default(request, reason, config)
    if iscoroutinefunction(handler):
        return _checked(request, async_to_sync(handler)(request, reason), config)
    return _checked(request, handler(request, reason), config)


async def afailure_response(request: HttpRequest, reason: str, config: Config) -> HttpResponseBase:
    """``failure_response`` on the event loop: a sync handler runs in a thread."""
    handler = config.failure_handler
    if handler is None:
        return _default(request, reason, config)
    if iscoroutinefunction(handler):
        return _checked(request, await handler(request, reason), config)
    return _checked(request, await sync_to_async(handler)(request, reason), config)
