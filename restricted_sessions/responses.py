"""The response to a restricted session: FAILURE_HANDLER, REDIRECT_VIEW or FAILURE_STATUS."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync, iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse

from restricted_sessions.conf import conf

logger = logging.getLogger("restricted_sessions")


def default_failure_response() -> HttpResponseBase:
    """A redirect to REDIRECT_VIEW when it is set, else an empty FAILURE_STATUS response."""
    redirect_view = conf.REDIRECT_VIEW
    if redirect_view:
        try:
            return HttpResponseRedirect(reverse(redirect_view))
        except NoReverseMatch:
            # The system check reports this at start-up; at request time, fail with the status.
            logger.error("RESTRICTEDSESSIONS_REDIRECT_VIEW %r cannot be reversed.", redirect_view)
    return HttpResponse(status=conf.FAILURE_STATUS)


def is_redirect_target(request: HttpRequest) -> bool:
    """True for a request to REDIRECT_VIEW itself, which is served after the flush.

    A client may send its old key again (a signed cookie cannot be revoked, a header client may
    retry): refusing the redirect target too would redirect it in a loop.
    """
    redirect_view = conf.REDIRECT_VIEW
    if not redirect_view or conf.FAILURE_HANDLER:
        return False
    try:
        return request.path == reverse(redirect_view)
    except NoReverseMatch:
        return False


def failure_response(request: HttpRequest, reason: str) -> HttpResponseBase:
    """The failure response for a restricted session, from the configured handler if any."""
    handler = conf.failure_handler()
    if handler is None:
        return default_failure_response()
    if iscoroutinefunction(handler):
        return async_to_sync(handler)(request, reason)  # type: ignore[no-any-return]
    return handler(request, reason)  # type: ignore[no-any-return]


async def afailure_response(request: HttpRequest, reason: str) -> HttpResponseBase:
    handler = conf.failure_handler()
    if handler is None:
        return default_failure_response()
    if iscoroutinefunction(handler):
        return await handler(request, reason)  # type: ignore[no-any-return]
    return await sync_to_async(handler)(request, reason)  # type: ignore[no-any-return]
