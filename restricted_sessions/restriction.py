"""RestrictedSessionsMiddleware: the check of each request against its session's binding."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.contrib.auth import SESSION_KEY as AUTH_USER_SESSION_KEY
from django.contrib.auth import alogout, logout
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponseBase
from django.urls import Resolver404, resolve

from restricted_sessions import binding
from restricted_sessions.checks import raise_on_misconfiguration
from restricted_sessions.conf import conf
from restricted_sessions.events import Change, client_ip
from restricted_sessions.responses import afailure_response, failure_response, is_redirect_target
from restricted_sessions.signals import session_restricted

logger = logging.getLogger("restricted_sessions")


class RestrictedSessionsMiddleware:
    """Bind each session to the client's IP address and User-Agent, and end it when they change.

    The binding is written into the session when the session is saved anyway (typically by the
    login response); later requests are compared with it. Requests without a session key are
    passed through untouched, and a matching request causes no session write.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        raise_on_misconfiguration()
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        # Only a request that carries a session key is checked: others cost an attribute lookup.
        session: SessionBase | None = getattr(request, "session", None)
        if session is not None and session.session_key is not None:
            refusal = self._check(request, session)
            if refusal is not None:
                return refusal
        response = self.get_response(request)
        # Bound only when the response saves the session anyway: no extra write, ever.
        session = getattr(request, "session", None)
        if session is not None and (session.modified or conf.save_every_request):
            self._bind(request, response, session)
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        session: SessionBase | None = getattr(request, "session", None)
        if session is not None and session.session_key is not None:
            refusal = await self._acheck(request, session)
            if refusal is not None:
                return refusal
        response = await self.get_response(request)
        session = getattr(request, "session", None)
        if session is not None and (session.modified or conf.save_every_request):
            await self._abind(request, response, session)
        return response

    def _check(self, request: HttpRequest, session: SessionBase) -> HttpResponseBase | None:
        """Compare the request with the binding; end the session and refuse it on a change."""
        if conf.AUTHED_ONLY and AUTH_USER_SESSION_KEY not in session:
            return None
        verdict = _verdict(request, session.get)
        if verdict.reason is None:
            if verdict.updates:
                session.update(verdict.updates)
            return None
        if _is_exempt(request):
            return None
        change = Change(request, session.get, verdict)
        for receiver, result in session_restricted.send_robust(**change.signal_kwargs()):
            _log_receiver_error(receiver, result)
        if conf.REPORT_ONLY:
            return None
        if conf.AUTHED_ONLY:
            logout(request)
        else:
            session.flush()
        return None if is_redirect_target(request) else failure_response(request, verdict.reason)

    async def _acheck(self, request: HttpRequest, session: SessionBase) -> HttpResponseBase | None:
        if conf.AUTHED_ONLY and not await session.ahas_key(AUTH_USER_SESSION_KEY):
            return None
        stored = {}
        for key in BINDING_KEYS:
            value = await session.aget(key, binding.UNBOUND)
            if value is not binding.UNBOUND:
                stored[key] = value
        verdict = _verdict(request, stored.get)
        if verdict.reason is None:
            if verdict.updates:
                await session.aupdate(verdict.updates)
            return None
        if _is_exempt(request):
            return None
        change = Change(request, stored.get, verdict)
        for receiver, result in await session_restricted.asend_robust(**change.signal_kwargs()):
            _log_receiver_error(receiver, result)
        if conf.REPORT_ONLY:
            return None
        if conf.AUTHED_ONLY:
            await alogout(request)
        else:
            await session.aflush()
        return None if is_redirect_target(request) else await afailure_response(request, verdict.reason)

    def _bind(self, request: HttpRequest, response: HttpResponseBase, session: SessionBase) -> None:
        """Write the binding into a session that this response saves and that has none yet."""
        if session.is_empty() or response.status_code >= 500:
            return
        if conf.AUTHED_ONLY and AUTH_USER_SESSION_KEY not in session:
            return
        for key, value in _binding_values(request):
            session.setdefault(key, value)

    async def _abind(self, request: HttpRequest, response: HttpResponseBase, session: SessionBase) -> None:
        if session.is_empty() or response.status_code >= 500:
            return
        if conf.AUTHED_ONLY and not await session.ahas_key(AUTH_USER_SESSION_KEY):
            return
        for key, value in _binding_values(request):
            await session.asetdefault(key, value)


BINDING_KEYS = (
    binding.IP_SESSION_KEY,
    binding.IP2_SESSION_KEY,
    binding.UA_SESSION_KEY,
    AUTH_USER_SESSION_KEY,
)


def _verdict(request: HttpRequest, stored: Callable[[str, Any], Any]) -> binding.Verdict:
    return binding.check(
        conf.policy(),
        stored_ip=stored(binding.IP_SESSION_KEY, binding.UNBOUND),
        stored_ip2=stored(binding.IP2_SESSION_KEY, binding.UNBOUND),
        stored_ua=stored(binding.UA_SESSION_KEY, binding.UNBOUND),
        current_ip=client_ip(request),
        current_ua=request.META.get("HTTP_USER_AGENT"),
    )


def _binding_values(request: HttpRequest) -> list[tuple[str, str]]:
    """The binding for this request, for a session that has none (an existing one is kept)."""
    policy = conf.policy()
    values = []
    if policy.restrict_ip:
        values.append((binding.IP_SESSION_KEY, policy.ip_value(client_ip(request))))
    if policy.restrict_ua:
        values.append((binding.UA_SESSION_KEY, policy.ua_value(request.META.get("HTTP_USER_AGENT"))))
    return values


def _is_exempt(request: HttpRequest) -> bool:
    # Resolved only when a change was found, so the steady state pays nothing for it.
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return getattr(match.func, "restriction_exempt", False) is True


def _log_receiver_error(receiver: Any, result: Any) -> None:
    if isinstance(result, Exception):
        logger.error(
            "A session_restricted receiver (%r) raised; the session is handled anyway.",
            receiver,
            exc_info=result,
        )
