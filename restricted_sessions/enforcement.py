"""The I/O shells around ``binding.decide``: load what the session stores, apply the outcome.

Each step has a sync and an async twin that differ only in how they reach the session, the cache,
the signal and the failure handler; everything they decide is in the shared plain functions.
The HTTP middleware (sync and async) and the Channels middleware all call these.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.core.cache import caches
from django.http import HttpRequest, HttpResponseBase

from restricted_sessions.binding import (
    BINDING_SESSION_KEY,
    EMPTY,
    LEGACY_SESSION_KEYS,
    MATCH,
    REASON_DBSC,
    Binding,
    Outcome,
    Presented,
    decide,
)
from restricted_sessions.changes import Change, log_receiver_errors
from restricted_sessions.clients import ClientInputs, client_inputs, presented, presented_from
from restricted_sessions.conf import Config
from restricted_sessions.dbsc import protocol as dbsc_protocol
from restricted_sessions.dbsc import session as dbsc_state
from restricted_sessions.headers import header
from restricted_sessions.signals import session_restricted

__all__ = [
    "AUTH_USER_SESSION_KEY",
    "Examination",
    "abind",
    "acarry_registration",
    "aend",
    "aexamine",
    "aremember_refused",
    "areport",
    "awas_refused",
    "bind",
    "carry_registration",
    "end",
    "examine",
    "remember_refused",
    "remembered",
    "report",
    "was_refused",
]

logger = logging.getLogger("restricted_sessions")

#: ``django.contrib.auth.SESSION_KEY``, spelled out so that sites without contrib.auth work.
AUTH_USER_SESSION_KEY = "_auth_user_id"
OWN_SESSION_KEYS = frozenset((BINDING_SESSION_KEY, *LEGACY_SESSION_KEYS, dbsc_state.SESSION_KEY))
# Refused keys are remembered under a digest: a key is a bearer credential, never a cache key.
REFUSED_PREFIX = "restricted_sessions:refused:"
#: How many examinations of matching requests a configuration remembers before it starts afresh.
MATCHES_MEMO_SIZE = 4096
#: Request values longer than this are never part of a memo key, so that junk cannot fill memory.
MAX_INPUT_LENGTH = 1024
#: Where the response phase finds what the request phase found.
REQUEST_ATTRIBUTE = "_restricted_sessions_examination"


@dataclass(frozen=True, slots=True)
class Examination:
    """What the request phase found for a request with a session."""

    #: What the request presented (empty for ``refused_before``: nothing about the client is read).
    presented: Presented
    outcome: Outcome
    #: The session's ``_auth_user_id`` (None: anonymous).
    user_id: Any
    #: The presented key named no session, and it is one the library refused before.
    refused_before: bool = False
    #: The session had registered a device key (DBSC).
    device_bound: bool = False


#: A key that names no session and was refused before: refused whatever the client presents, so
#: nothing about the client is read (a long forwarding chain is not walked again for it).
REFUSED_BEFORE = Examination(Presented(None, None), Outcome(), None, refused_before=True)


# Request phase -------------------------------------------------------------------------


def _refused_cache_key(session_key: str) -> str:
    return REFUSED_PREFIX + hashlib.sha256(session_key.encode("utf-8", "surrogatepass")).hexdigest()


def _memo_key(stored: object, user_id: Any, inputs: ClientInputs) -> tuple[object, ...] | None:
    """The key under which a match of exactly these values is remembered; None: never remembered.

    Never remembered: values of unusual types, and request values long enough to fill memory (the
    thumbprint has a fixed length).
    """
    address, forwarded, user_agent, _ = inputs
    if (
        type(stored) is str
        and (user_id is None or type(user_id) is str or type(user_id) is int)
        and (address is None or len(address) <= MAX_INPUT_LENGTH)
        and (forwarded is None or len(forwarded) <= MAX_INPUT_LENGTH)
        and (user_agent is None or len(user_agent) <= MAX_INPUT_LENGTH)
    ):
        return (stored, user_id, *inputs)
    return None


def remembered(request: HttpRequest, session: SessionBase, config: Config) -> Examination | None:
    """``examine`` for the steady state: the match remembered for this session and client, or None.

    Loads the session as ``examine`` does. A key that names no session is answered as ``examine``
    answers it (``REFUSED_BEFORE`` for a key refused before, else None: nothing to check). Otherwise
    the examination remembered for the stored binding, the user and the request's
    ``client_inputs``, or None when there is none (``examine`` decides then). Never remembers
    under DPoP or DBSC, whose proofs are verified on every request (``Config.remembers_matches``).
    """
    key = session.session_key
    if key is None or not config.remembers_matches:
        return None
    get = session.get
    try:
        user_id = get(AUTH_USER_SESSION_KEY)  # loads the session, which forgets a key that names none
    except BaseException:
        del key  # a store that fails to load: the key stays out of the error report's frame locals
        raise
    if session.session_key is None:
        return REFUSED_BEFORE if was_refused(key, config) else None
    del key
    memo_key = _memo_key(get(BINDING_SESSION_KEY, None), user_id, client_inputs(request, config))
    return None if memo_key is None else config.matches.get(memo_key)


def _decide(request: HttpRequest, config: Config, get: Callable[[str, Any], Any], user_id: Any) -> Examination | None:
    """The examination of a request whose loaded session ``get(key, default)`` reads; ``user_id`` is its user.

    ``decide`` is a pure function of the configuration, the stored binding and the request's
    ``client_inputs``, so the examination of a match without a write is remembered on the
    configuration under exactly those values: a client's later requests pay one lookup.
    """
    if config.authed_only and user_id is None:
        return None
    state = get(dbsc_state.SESSION_KEY, None) if config.dbsc.enabled else None
    device_bound = state is not None and dbsc_protocol.is_registered(state)
    inputs = client_inputs(request, config)
    # A device-bound session is never remembered: its answer depends on the clock, as its bound
    # cookie expires.
    memo_key = None if device_bound else _memo_key(get(BINDING_SESSION_KEY, None), user_id, inputs)
    if memo_key is not None:
        found: Examination | None = config.matches.get(memo_key)
        if found is not None:
            return found
    client = presented_from(inputs, config)
    binding = config.policy.read(get)
    if device_bound:
        binding = replace(binding, device=True)
        cookie = request.COOKIES.get(config.dbsc.cookie_name)
        if not dbsc_protocol.bound_cookie_ok(state, cookie, time.time(), config.dbsc.cookie_age):
            client = replace(client, device_proof=False)
    outcome = decide(config.policy, binding, client)
    examination = Examination(client, outcome, user_id, device_bound=binding.device)
    if memo_key is not None and outcome is MATCH:
        if len(config.matches) >= MATCHES_MEMO_SIZE:
            config.matches.clear()
        config.matches[memo_key] = examination
    return examination


def examine(request: HttpRequest, session: SessionBase, config: Config) -> Examination | None:
    """Load the session and decide about the request; None when there is nothing to check.

    A key that names no session (any more) is checked against the keys refused before, so that
    a refused key stays refused for as long as its session could have lived.
    """
    key = session.session_key
    if key is None:
        return None
    get = session.get
    try:
        user_id = get(AUTH_USER_SESSION_KEY)  # loads the session, which forgets a key that names none
    except BaseException:
        del key  # a store that fails to load: the key stays out of the error report's frame locals
        raise
    if session.session_key is None:
        if was_refused(key, config):
            return REFUSED_BEFORE
        return None
    examination = _decide(request, config, get, user_id)
    if examination is not None and examination.outcome.save is not None:
        session.update(_written(examination.outcome.save))
        for legacy in LEGACY_SESSION_KEYS:
            session.pop(legacy, None)
    return examination


async def aexamine(request: HttpRequest, session: SessionBase, config: Config) -> Examination | None:
    """``examine`` with the async session and cache APIs."""
    key = session.session_key
    if key is None:
        return None
    try:
        data = dict(await session.aitems())
    except BaseException:
        del key
        raise
    if session.session_key is None:
        if await awas_refused(key, config):
            return REFUSED_BEFORE
        return None
    examination = _decide(request, config, data.get, data.get(AUTH_USER_SESSION_KEY))
    if examination is not None and examination.outcome.save is not None:
        await session.aupdate(_written(examination.outcome.save))
        for legacy in LEGACY_SESSION_KEYS:
            await session.apop(legacy, None)
    return examination


def _written(binding: Binding) -> dict[str, str]:
    return {BINDING_SESSION_KEY: binding.encode()}


# A change: report, then end the session ---------------------------------------------------


def _change(request: HttpRequest, examination: Examination, config: Config) -> Change:
    return Change(
        request=request,
        outcome=examination.outcome,
        client_ip=examination.presented.ip,
        user_id=examination.user_id,
        enforced=not config.report_only,
        hashed=config.hashed,
    )


def report(request: HttpRequest, examination: Examination, config: Config, sender: Any, **extra: Any) -> None:
    """Log the change and send ``session_restricted`` (receivers that raise are logged)."""
    change = _change(request, examination, config)
    change.log(config.policy)
    log_receiver_errors(session_restricted.send_robust(**change.signal_kwargs(sender, **extra)))


async def areport(request: HttpRequest, examination: Examination, config: Config, sender: Any, **extra: Any) -> None:
    change = _change(request, examination, config)
    change.log(config.policy)
    log_receiver_errors(await session_restricted.asend_robust(**change.signal_kwargs(sender, **extra)))


def was_refused(session_key: str, config: Config) -> bool:
    """Whether the library refused ``session_key`` before (and its session could still live).

    Asked only for a key that names no session. A cache that cannot be reached answers no: the
    key names no session anyway, so the request is served as anonymous, as Django serves it.
    """
    if not config.server_side_store:
        return False
    digest = _refused_cache_key(session_key)
    del session_key  # only the digest is held while the cache is read (see remember_refused)
    try:
        return caches[config.cache_alias].get(digest) is not None
    except Exception:
        logger.warning("RESTRICTEDSESSIONS_CACHE cannot be read: refused keys are not recognised.", exc_info=True)
        return False


async def awas_refused(session_key: str, config: Config) -> bool:
    """``was_refused`` with the cache's async API."""
    if not config.server_side_store:
        return False
    digest = _refused_cache_key(session_key)
    del session_key
    try:
        return await caches[config.cache_alias].aget(digest) is not None
    except Exception:
        logger.warning("RESTRICTEDSESSIONS_CACHE cannot be read: refused keys are not recognised.", exc_info=True)
        return False


def remember_refused(session: SessionBase, config: Config) -> None:
    """Remember the session's key as refused, in RESTRICTEDSESSIONS_CACHE, for its remaining age.

    A second request with the key is then refused again instead of served as anonymous, or from
    a cache that keyed a page on it. Signed cookies need none of this: their binding travels with
    them and refuses them again.
    """
    # Only the key's digest is held while the cache is written: a failure's logged traceback
    # carries frame locals to some log handlers (Sentry, for one).
    digest = None if session.session_key is None else _refused_cache_key(session.session_key)
    if digest is not None and config.server_side_store:
        try:
            caches[config.cache_alias].set(digest, 1, session.get_expiry_age())
        except Exception:
            # The session is ended all the same; only the memory of its key is lost.
            logger.warning(
                "RESTRICTEDSESSIONS_CACHE cannot be written: a refused key is not remembered.", exc_info=True
            )


async def aremember_refused(session: SessionBase, config: Config) -> None:
    digest = None if session.session_key is None else _refused_cache_key(session.session_key)
    if digest is not None and config.server_side_store:
        try:
            await caches[config.cache_alias].aset(digest, 1, await session.aget_expiry_age())
        except Exception:
            logger.warning(
                "RESTRICTEDSESSIONS_CACHE cannot be written: a refused key is not remembered.", exc_info=True
            )


def ends_session(examination: Examination) -> bool:
    """Whether a refusal ends the session: not for a missing DBSC bound cookie.

    Anyone holding a copy of a device-bound session's cookie could otherwise log its owner out at
    will; refusing the request is enough, since only the device can obtain a bound cookie.
    """
    return examination.outcome.reason != REASON_DBSC


def end(request: HttpRequest, session: SessionBase, examination: Examination, config: Config) -> None:
    """End a changed session: Django's ``logout`` when it holds a user, else ``flush``."""
    if not ends_session(examination):
        return
    remember_refused(session, config)
    if examination.user_id is not None and config.auth_installed:
        from django.contrib.auth import get_user, logout

        if not hasattr(request, "user"):
            # So that user_logged_out receivers hear who was logged out.
            request.user = get_user(request)
        logout(request)
        _forget_user(request)
    else:
        session.flush()


async def aend(request: HttpRequest, session: SessionBase, examination: Examination, config: Config) -> None:
    if not ends_session(examination):
        return
    await aremember_refused(session, config)
    if examination.user_id is not None and config.auth_installed:
        from django.contrib.auth import aget_user, alogout

        if not hasattr(request, "auser"):
            # alogout() asks request.auser() who is logged out, for user_logged_out receivers.
            user = await aget_user(request)
            request.auser = partial(_returning, user)
        await alogout(request)
        _forget_user(request)
    else:
        await session.aflush()


def _forget_user(request: HttpRequest) -> None:
    # logout() resets request.user, but request.auser() keeps answering with the user it cached.
    if hasattr(request, "auser"):
        request.auser = _anonymous_user


async def _returning(value: Any) -> Any:
    return value


async def _anonymous_user() -> Any:
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()


# Response phase: the binding is written when the session is saved anyway -------------------


def _binding_to_write(
    request: HttpRequest, config: Config, data: Mapping[str, Any], examination: Examination | None, *, rekeyed: bool
) -> Binding | None:
    changed = examination is not None and examination.outcome.reason is not None
    if changed and _holds_binding(data) and not _logged_in_now(data, examination):
        # An exempt view or REPORT_ONLY let a changed client through: its binding stays as it is.
        # Unless the view made the session anew: a flush emptied it (a login as another user), or
        # a login into an anonymous session kept its data under a new key (cycle_key). That
        # session is bound below, afresh, to the client that made it, as any new session is.
        return None
    if not any(key not in OWN_SESSION_KEYS for key in data):
        # Never create (or keep alive) a session only to hold a binding.
        return None
    if config.authed_only and data.get(AUTH_USER_SESSION_KEY) is None:
        return None
    # A refused key let through to REDIRECT_VIEW names no session: whatever the view saved (a
    # login there) is a new session, bound to the client that made it.
    client = examination.presented if examination and not examination.refused_before else presented(request, config)
    stored = EMPTY if changed else config.policy.read(data.get)
    # A DPoP key is bound when the session starts (no session was presented, or a refused one) or
    # is logged into (a new key: cycle_key or a flush), never later by whoever shows a proof.
    starts = examination is None or examination.refused_before or rekeyed or _logged_in_now(data, examination)
    return config.policy.to_save(stored, client, bind_proof_key=starts)


def _rekeyed(request: HttpRequest, session: SessionBase, config: Config) -> bool:
    """Whether the session's key is not the one the request presented (a login's cycle_key, a flush)."""
    if getattr(session, "csrf_exempt", False) is True and config.session_header_meta_key:
        return session.session_key != header(request, config.session_header_meta_key)
    return session.session_key != request.COOKIES.get(config.session_cookie_name)


def _holds_binding(data: Mapping[str, Any]) -> bool:
    return BINDING_SESSION_KEY in data or any(key in data for key in LEGACY_SESSION_KEYS)


def _saves(session: SessionBase, status_code: int, config: Config) -> bool:
    return (session.modified or config.save_every_request) and status_code < 500


def _may_have_registered_meanwhile(config: Config, examination: Examination | None, state: Any) -> bool:
    # A session this request read unregistered, and saves unregistered: a registration may have
    # been stored since (a browser registers while its page's resources load). One that was read
    # registered and is saved without it was unbound on purpose.
    return (
        config.dbsc.enabled
        and examination is not None
        and not examination.device_bound
        and not examination.refused_before
        and not dbsc_protocol.is_registered(state)
    )


def carry_registration(session: SessionBase, examination: Examination | None, config: Config) -> None:
    """Before saving a session this request read unregistered: keep a DBSC registration stored meanwhile.

    Django saves a session whole and the last writer wins, so the save would remove the device key
    (and the need for a bound cookie). Costs one more session read, only in that case.
    """
    if _may_have_registered_meanwhile(config, examination, session.get(dbsc_state.SESSION_KEY)):
        registered = dbsc_state.stored_registration(session)
        if registered is not None:
            session[dbsc_state.SESSION_KEY] = registered


async def acarry_registration(session: SessionBase, examination: Examination | None, config: Config) -> None:
    """``carry_registration`` with the async session API."""
    if _may_have_registered_meanwhile(config, examination, await session.aget(dbsc_state.SESSION_KEY)):
        registered = await dbsc_state.astored_registration(session)
        if registered is not None:
            await session.aset(dbsc_state.SESSION_KEY, registered)


def _logged_in_now(data: Mapping[str, Any], examination: Examination | None) -> bool:
    return data.get(AUTH_USER_SESSION_KEY) is not None and (examination is None or examination.user_id is None)


def bind(request: HttpRequest, response: HttpResponseBase, session: SessionBase, config: Config) -> None:
    """Write the binding into a session that this response saves anyway (typically the login).

    With DBSC, the login response also invites the browser to register a device key, and the
    response that ends a device-bound session tells the browser to stop refreshing it.
    """
    examination: Examination | None = getattr(request, REQUEST_ATTRIBUTE, None)
    if config.dbsc.enabled and examination is not None and examination.device_bound and session.is_empty():
        dbsc_state.end_session(response)
    if not _saves(session, response.status_code, config) or session.is_empty():
        return
    carry_registration(session, examination, config)
    data = dict(session.items())
    new = _binding_to_write(request, config, data, examination, rekeyed=_rekeyed(request, session, config))
    if new is not None:
        session.update(_written(new))
        for legacy in LEGACY_SESSION_KEYS:
            session.pop(legacy, None)
    if config.dbsc.enabled and _logged_in_now(data, examination):
        invitation = dbsc_state.registration_header(request)
        if invitation is not None:
            response[dbsc_protocol.REGISTRATION_HEADER] = invitation


async def abind(request: HttpRequest, response: HttpResponseBase, session: SessionBase, config: Config) -> None:
    """``bind`` with the async session API."""
    examination: Examination | None = getattr(request, REQUEST_ATTRIBUTE, None)
    if config.dbsc.enabled and examination is not None and examination.device_bound and session.is_empty():
        dbsc_state.end_session(response)
    if not _saves(session, response.status_code, config) or session.is_empty():
        return
    await acarry_registration(session, examination, config)
    data = dict(await session.aitems())
    new = _binding_to_write(request, config, data, examination, rekeyed=_rekeyed(request, session, config))
    if new is not None:
        await session.aupdate(_written(new))
        for legacy in LEGACY_SESSION_KEYS:
            await session.apop(legacy, None)
    if config.dbsc.enabled and _logged_in_now(data, examination):
        invitation = await dbsc_state.aregistration_header(request)
        if invitation is not None:
            response[dbsc_protocol.REGISTRATION_HEADER] = invitation
