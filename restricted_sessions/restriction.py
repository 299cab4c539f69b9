"""RestrictedSessionsMiddleware: the check of each request against its session's binding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve

from restricted_sessions import enforcement, proofs
from restricted_sessions.checks import raise_on_misconfiguration
from restricted_sessions.conf import Config, get_config
from restricted_sessions.enforcement import REQUEST_ATTRIBUTE, Examination
from restricted_sessions.responses import afailure_response, failure_response, is_redirect_target

__all__ = ["RestrictedSessionsMiddleware"]

# A change on a path whose view looks exempt waits for the view Django really resolves.
PENDING_ATTRIBUTE = "_restricted_sessions_pending"


class RestrictedSessionsMiddleware:
    """Bind each session to the client's IP address and User-Agent, and end it when they change.

    The binding is written into the session when the session is saved anyway (typically by the
    login response); later requests are compared with it. Requests without a session key are
    passed through untouched, and a matching request causes no session write.

    Extension points: ``refuse`` (sync) and ``arefuse`` (async) end a changed session and return
    the failure response; override them to change what a refusal does.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        raise_on_misconfiguration()
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
            # Django adapts a sync process_view with a thread under ASGI: give it an async one.
            self.process_view = self._aprocess_view  # type: ignore[method-assign, assignment]

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        # Only a request that carries a session key is checked: others cost an attribute lookup.
        session: SessionBase | None = getattr(request, "session", None)
        if session is not None and get_config().dpop_mode != "off":
            refused = proofs.check(request, get_config())
            if refused is not None:
                return refused
        if session is not None and session.session_key is not None:
            config = get_config()
            examination = enforcement.examine(request, session, config)
            if examination is not None and _changed(examination):
                setattr(request, REQUEST_ATTRIBUTE, examination)
                if examination.refused_before or not _looks_exempt(request):
                    refusal = self.refuse(request, session, examination, config)
                    if refusal is not None:
                        return refusal
                else:
                    setattr(request, PENDING_ATTRIBUTE, True)
            elif examination is not None:
                setattr(request, REQUEST_ATTRIBUTE, examination)
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None:
            return response
        if getattr(request, PENDING_ATTRIBUTE, False) is True:
            # The view was never reached (a later middleware answered): fail closed.
            refusal = self.refuse(request, session, getattr(request, REQUEST_ATTRIBUTE), get_config())
            if refusal is not None:
                return refusal
        enforcement.bind(request, response, session, get_config())
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        session: SessionBase | None = getattr(request, "session", None)
        if session is not None and get_config().dpop_mode != "off":
            refused = await proofs.acheck(request, get_config())
            if refused is not None:
                return refused
        if session is not None and session.session_key is not None:
            config = get_config()
            examination = await enforcement.aexamine(request, session, config)
            if examination is not None and _changed(examination):
                setattr(request, REQUEST_ATTRIBUTE, examination)
                if examination.refused_before or not _looks_exempt(request):
                    refusal = await self.arefuse(request, session, examination, config)
                    if refusal is not None:
                        return refusal
                else:
                    setattr(request, PENDING_ATTRIBUTE, True)
            elif examination is not None:
                setattr(request, REQUEST_ATTRIBUTE, examination)
        response = await self.get_response(request)
        session = getattr(request, "session", None)
        if session is None:
            return response
        if getattr(request, PENDING_ATTRIBUTE, False) is True:
            refusal = await self.arefuse(request, session, getattr(request, REQUEST_ATTRIBUTE), get_config())
            if refusal is not None:
                return refusal
        await enforcement.abind(request, response, session, get_config())
        return response

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponseBase | None:
        """Decide a pending change from the view Django resolved (``restriction_exempt``)."""
        if getattr(request, PENDING_ATTRIBUTE, False) is not True:
            return None
        delattr(request, PENDING_ATTRIBUTE)
        if _is_exempt_view(view_func):
            return None
        return self.refuse(request, request.session, getattr(request, REQUEST_ATTRIBUTE), get_config())

    async def _aprocess_view(
        self, request: HttpRequest, view_func: Callable[..., Any], view_args: Any, view_kwargs: Any
    ) -> HttpResponseBase | None:
        if getattr(request, PENDING_ATTRIBUTE, False) is not True:
            return None
        delattr(request, PENDING_ATTRIBUTE)
        if _is_exempt_view(view_func):
            return None
        return await self.arefuse(request, request.session, getattr(request, REQUEST_ATTRIBUTE), get_config())

    def refuse(
        self, request: HttpRequest, session: SessionBase, examination: Examination, config: Config
    ) -> HttpResponseBase | None:
        """Report the change, end the session and answer with the failure response.

        Returns None (the request goes on) with REPORT_ONLY, and for REDIRECT_VIEW itself.
        """
        if not examination.refused_before:
            enforcement.report(request, examination, config, sender=RestrictedSessionsMiddleware)
            if config.report_only:
                return None
            enforcement.end(request, session, examination, config)
        return None if is_redirect_target(request, config) else failure_response(request, _reason(examination), config)

    async def arefuse(
        self, request: HttpRequest, session: SessionBase, examination: Examination, config: Config
    ) -> HttpResponseBase | None:
        """``refuse`` with the async session, cache, signal and handler APIs."""
        if not examination.refused_before:
            await enforcement.areport(request, examination, config, sender=RestrictedSessionsMiddleware)
            if config.report_only:
                return None
            await enforcement.aend(request, session, examination, config)
        if is_redirect_target(request, config):
            return None
        return await afailure_response(request, _reason(examination), config)


def _changed(examination: Examination) -> bool:
    return examination.refused_before or examination.outcome.reason is not None


def _reason(examination: Examination) -> str:
    return examination.outcome.reason or "refused"


def _is_exempt_view(view_func: Callable[..., Any]) -> bool:
    return getattr(view_func, "restriction_exempt", False) is True


def _looks_exempt(request: HttpRequest) -> bool:
    # Resolved only when a change was found, so the steady state pays nothing for it. The final
    # word is process_view's: a later middleware may still set request.urlconf.
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return _is_exempt_view(match.func)
