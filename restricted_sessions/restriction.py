"""RestrictedSessionsMiddleware: the check of each request against its session's binding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import Resolver404, resolve

from restricted_sessions import enforcement, proofs
from restricted_sessions.addresses import first_address
from restricted_sessions.binding import MATCH, REASON_IP, REASON_UA, UNBOUND, Binding, Outcome, Presented, decide
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

    Extension points (those of django-restricted-sessions 0.4, with their old meaning):

    * ``process_request(request)`` (async: ``aprocess_request``): the check of one request, before
      the view; returns None to go on, or the refusal response. A subclass that overrides only the
      sync one has it run in a thread under ASGI, as Django runs a sync middleware.
    * ``validate_ip(request, remote_ip)`` and ``validate_ua(request)``: whether the request's
      address / User-Agent is acceptable for its session. The defaults ask the engine
      (``binding.decide``); an override decides instead, on the sync and async paths alike, and
      is called only for requests with a session that is checked (so never with AUTHED_ONLY on
      an anonymous session). They are called directly on the async path: keep them free of
      blocking I/O.
    * ``refuse`` (sync) and ``arefuse`` (async) end a changed session and return the failure
      response; override them to change what a refusal does. A subclass that overrides only the
      sync one has it run in a thread under ASGI.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        raise_on_misconfiguration()
        self.get_response = get_response
        cls = type(self)
        base = RestrictedSessionsMiddleware
        # Decided once, so the steady state of a class without overrides pays one attribute read.
        self._validators = cls.validate_ip is not base.validate_ip or cls.validate_ua is not base.validate_ua
        self._sync_request_phase = (
            cls.process_request is not base.process_request and cls.aprocess_request is base.aprocess_request
        )
        if cls.refuse is not base.refuse and cls.arefuse is base.arefuse:
            # A subclass's sync refuse ends sessions under ASGI too, in a thread (it may do I/O).
            self.arefuse = sync_to_async(self.refuse, thread_sensitive=True)  # type: ignore[method-assign]
        # Without overrides of the hooks that process_request calls, __call__ takes its steps itself.
        self._plain = not self._validators and cls.process_request is base.process_request
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
            # Django adapts a sync process_view with a thread under ASGI: give it an async one.
            self.process_view = self._aprocess_view  # type: ignore[method-assign,assignment]

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        # Read once per request: settings change between requests (and in tests), not during one.
        config = get_config()
        session = getattr(request, "session", None)
        if session is None or not self._plain:
            refusal = self.process_request(request)
        elif session.session_key is None:
            # Nothing to examine: process_request would only check a DPoP proof (a login binds its key).
            refusal = None if config.dpop_mode == "off" else self.process_request(request)
        else:
            # The steady state in one call: a match remembered for this session and client.
            examination = enforcement.remembered(request, session, config)
            if examination is None:
                refusal = self.process_request(request)
            else:
                refusal = self._judge(request, session, examination, config)
        if refusal is not None:
            return refusal
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None:
            return response
        if getattr(request, PENDING_ATTRIBUTE, False) is True:
            # The view was never reached (a later middleware answered): fail closed.
            refusal = self.refuse(request, session, getattr(request, REQUEST_ATTRIBUTE), config)
            if refusal is not None:
                return refusal
        if session.modified or config.save_every_request or config.dbsc.enabled:
            # Checked here, not in bind(): the steady state (nothing saved) skips even the call.
            enforcement.bind(request, response, session, config)
        return response

    async def __acall__(self, request: HttpRequest) -> Any:
        if self._sync_request_phase:
            # A subclass's sync process_request may touch the session store: never in the event loop.
            refusal = await sync_to_async(self.process_request)(request)
        else:
            refusal = await self.aprocess_request(request)
        if refusal is not None:
            return refusal
        response = await self.get_response(request)
        session = getattr(request, "session", None)
        if session is None:
            return response
        config = get_config()
        if getattr(request, PENDING_ATTRIBUTE, False) is True:
            refusal = await self.arefuse(request, session, getattr(request, REQUEST_ATTRIBUTE), config)
            if refusal is not None:
                return refusal
        if session.modified or config.save_every_request or config.dbsc.enabled:
            await enforcement.abind(request, response, session, config)
        return response

    def process_request(self, request: HttpRequest) -> HttpResponseBase | None:
        """Check the request against its session's binding, before the view.

        Returns None when the request goes on (no session key, a match, REPORT_ONLY, an exempt
        view still to be confirmed by ``process_view``), else the refusal response of ``refuse``.
        Nothing is written into the session here (0.4 wrote the binding on every request).
        """
        # Only a request that carries a session key is checked: others cost an attribute lookup.
        session: SessionBase | None = getattr(request, "session", None)
        if session is None:
            return None
        config = get_config()
        if config.dpop_mode != "off":
            # A header session's DPoP proof, checked even without a key: a login binds its key.
            refused = proofs.check(request, config)
            if refused is not None:
                return refused
        if session.session_key is None:
            return None  # no key, nothing to check: the anonymous request costs no call
        examination = enforcement.examine(request, session, config)
        if examination is None:
            return None
        if self._validators:
            examination = self._validated(request, session, examination, config)
        return self._judge(request, session, examination, config)

    def _judge(
        self, request: HttpRequest, session: SessionBase, examination: Examination, config: Config
    ) -> HttpResponseBase | None:
        """Record the examination on the request; refuse a change, or leave it to ``process_view``."""
        setattr(request, REQUEST_ATTRIBUTE, examination)
        if examination.outcome.reason is None and not examination.refused_before:
            return None  # a match
        if examination.refused_before or not _looks_exempt(request):
            return self.refuse(request, session, examination, config)
        setattr(request, PENDING_ATTRIBUTE, True)
        return None

    async def aprocess_request(self, request: HttpRequest) -> HttpResponseBase | None:
        """``process_request`` with the async session, cache, signal and handler APIs."""
        session: SessionBase | None = getattr(request, "session", None)
        if session is None:
            return None
        config = get_config()
        if config.dpop_mode != "off":
            refused = await proofs.acheck(request, config)
            if refused is not None:
                return refused
        if session.session_key is None:
            return None  # no key, nothing to check: the anonymous request costs no call
        examination = await enforcement.aexamine(request, session, config)
        if examination is None:
            return None
        if self._validators:
            examination = self._validated(request, session, examination, config)
        setattr(request, REQUEST_ATTRIBUTE, examination)
        if examination.outcome.reason is None and not examination.refused_before:
            return None  # a match
        if examination.refused_before or not _looks_exempt(request):
            return await self.arefuse(request, session, examination, config)
        setattr(request, PENDING_ATTRIBUTE, True)
        return None

    def validate_ip(self, request: HttpRequest, remote_ip: str | None) -> bool:
        """Whether ``remote_ip`` is acceptable for the address bound to ``request.session``.

        ``remote_ip``: the client address as text (behind RESTRICTEDSESSIONS_TRUSTED_PROXIES, the
        address they saw), or None when the request has no readable one. True when the session
        binds no address or RESTRICT_IP is off; an address of the bound network (IPV4_LENGTH,
        IPV6_LENGTH, IP_EXEMPT_NETWORKS, DUAL_STACK) is acceptable; never raises.
        """
        session: SessionBase | None = getattr(request, "session", None)
        if session is None:
            return True
        policy = get_config().policy
        binding = replace(policy.read(session.get), ua=UNBOUND)
        address = None if remote_ip is None else first_address(remote_ip)
        return decide(policy, binding, Presented(address, None)).reason != REASON_IP

    def validate_ua(self, request: HttpRequest) -> bool:
        """Whether the request's User-Agent header is acceptable for the one bound to its session.

        True when the session binds no User-Agent or RESTRICT_UA is off; compared as
        RESTRICTEDSESSIONS_UA_MATCH says. A session bound without a User-Agent accepts requests
        without one; bound with one, a request without one is not acceptable. Never raises.
        """
        session: SessionBase | None = getattr(request, "session", None)
        if session is None:
            return True
        policy = get_config().policy
        binding = Binding(ua=policy.read(session.get).ua)
        user_agent = request.META.get("HTTP_USER_AGENT")
        return decide(policy, binding, Presented(None, user_agent)).reason != REASON_UA

    def _validated(
        self, request: HttpRequest, session: SessionBase, examination: Examination, config: Config
    ) -> Examination:
        """The examination as a subclass's ``validate_ip`` / ``validate_ua`` decide it."""
        if examination.refused_before:
            return examination
        found = examination.outcome
        client = examination.presented
        remote_ip = None if client.ip is None else str(client.ip)
        # In 0.4's order: the User-Agent is asked about only when the address is acceptable.
        if not self.validate_ip(request, remote_ip):
            reason, stored, current = REASON_IP, config.policy.read(session.get).ip, remote_ip
        elif not self.validate_ua(request):
            reason, stored, current = REASON_UA, config.policy.read(session.get).ua, client.user_agent
        else:
            return examination if found.reason is None else replace(examination, outcome=MATCH)
        if found.reason == reason:
            return examination
        return replace(examination, outcome=Outcome(reason, None if stored is UNBOUND else stored, current))

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

        Returns None (the request goes on) with REPORT_ONLY, and for REDIRECT_VIEW itself once the
        session is ended.
        """
        if not examination.refused_before:
            enforcement.report(request, examination, config, sender=RestrictedSessionsMiddleware)
            if config.report_only:
                return None
            enforcement.end(request, session, examination, config)
        if is_redirect_target(request, config):
            return _at_redirect_target(examination, config)
        return failure_response(request, _reason(examination), config)

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
            return _at_redirect_target(examination, config)
        return await afailure_response(request, _reason(examination), config)


def _at_redirect_target(examination: Examination, config: Config) -> HttpResponseBase | None:
    """The answer to REDIRECT_VIEW itself: served once the session is ended (a redirect would loop).

    A device-bound session refused for its bound cookie is not ended (``ends_session``), so its
    redirect target must not serve it: the empty FAILURE_STATUS response, which does not loop.
    """
    if enforcement.ends_session(examination):
        return None
    return HttpResponse(status=config.failure_status)


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
