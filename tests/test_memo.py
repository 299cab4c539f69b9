"""The memo of matching examinations: the steady state pays one lookup, and never a different answer.

``enforcement._decide`` remembers the examination of a matching request by everything the answer
depends on (the stored binding, the user id, and the raw request values ``presented`` reads), on the
configuration object, so a settings change starts afresh.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import RequestFactory, override_settings
from hypothesis import given
from hypothesis import strategies as st

from restricted_sessions import enforcement, headers
from restricted_sessions.binding import BINDING_SESSION_KEY, MATCH, REASON_DBSC, REASON_DPOP, Presented, decide
from restricted_sessions.clients import client_ip, presented
from restricted_sessions.conf import get_config
from restricted_sessions.dbsc import session as dbsc_state
from restricted_sessions.enforcement import MAX_INPUT_LENGTH
from restricted_sessions.headers import meta_key_of
from restricted_sessions.proofs import PROOF_ATTRIBUTE
from tests import hypothesis_profiles  # noqa: F401 - registers the profiles
from tests.helpers import (
    Http,
    assert_restricted,
    bound_ip,
    create_session,
    data_of,
    login,
    session_store,
    stored,
)

pytestmark = pytest.mark.usefixtures("_fresh_config")

UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
OTHER_UA = "Mozilla/5.0 (Macintosh) Safari/605.1.15"


@pytest.fixture
def _fresh_config() -> None:
    get_config().matches.clear()


def request_from(ip: str | None = "203.0.113.7", ua: str | None = UA, **meta: Any) -> Any:
    request = RequestFactory().get("/")
    request.META.pop("REMOTE_ADDR")
    if ip is not None:
        request.META["REMOTE_ADDR"] = ip
    if ua is not None:
        request.META["HTTP_USER_AGENT"] = ua
    request.META.update(meta)
    return request


def session_data(ip: str | None = "203.0.113.7", ua: str | None = UA, user_id: Any = "1") -> dict[str, Any]:
    """What a session bound by a login from ``ip`` with ``ua`` holds."""
    config = get_config()
    binding = config.policy.new_binding(presented(request_from(ip, ua), config))
    return {"_auth_user_id": user_id, BINDING_SESSION_KEY: binding.encode()}


def bound_to(request: Any, user_id: Any = "1") -> dict[str, Any]:
    """What a session bound by a login with ``request`` holds, under the current settings."""
    config = get_config()
    return {
        "_auth_user_id": user_id,
        BINDING_SESSION_KEY: config.policy.new_binding(presented(request, config)).encode(),
    }


def examine(request: Any, data: dict[str, Any]) -> enforcement.Examination:
    """The examination of a request for a session holding ``data`` (every test session is checked)."""
    found = enforcement._decide(request, get_config(), data.get, data.get(enforcement.AUTH_USER_SESSION_KEY))
    assert found is not None
    return found


def test_a_repeated_matching_request_is_answered_from_the_memo() -> None:
    data = session_data()
    first = examine(request_from(), data)
    assert first.outcome is MATCH
    again = examine(request_from(), dict(data))
    assert again is first
    assert list(get_config().matches.values()) == [first]


def test_a_changed_client_is_refused_after_its_session_matched() -> None:
    data = session_data()
    assert examine(request_from(), data).outcome is MATCH
    moved = examine(request_from(ip="198.51.100.9"), data)
    assert moved.outcome.reason == "ip"
    other_browser = examine(request_from(ua=OTHER_UA), data)
    assert other_browser.outcome.reason == "ua"
    no_user_agent = examine(request_from(ua=None), data)
    assert no_user_agent.outcome.reason == "ua"


def test_changes_are_never_remembered() -> None:
    data = session_data()
    for _ in range(2):
        found = examine(request_from(ip="198.51.100.9"), data)
        assert found.outcome.reason == "ip"
    assert get_config().matches == {}


def test_each_user_gets_an_examination_naming_that_user() -> None:
    alice = examine(request_from(), session_data(user_id="1"))
    bob = examine(request_from(), session_data(user_id="2"))
    numbered = examine(request_from(), session_data(user_id=1))
    assert (alice.user_id, bob.user_id, numbered.user_id) == ("1", "2", 1)


def test_a_user_id_of_another_type_is_decided_without_the_memo() -> None:
    data = session_data(user_id=["1"])
    found = examine(request_from(), data)
    assert found.outcome is MATCH
    assert found.user_id == ["1"]
    assert get_config().matches == {}


def test_long_request_values_are_decided_but_never_remembered() -> None:
    long_ua = UA + " " + "x" * MAX_INPUT_LENGTH
    for length, remembered in ((MAX_INPUT_LENGTH + 1, False), (MAX_INPUT_LENGTH, True)):
        get_config().matches.clear()
        user_agent = long_ua[:length]
        found = examine(request_from(ua=user_agent), session_data(ua=user_agent))
        assert found.outcome is MATCH
        assert bool(get_config().matches) is remembered
    with override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.0.0.0/8"]):
        # Only the right-most entries are read; the client wrote the rest, of any length.
        long_header = "x" * MAX_INPUT_LENGTH + ", 203.0.113.7"
        found = examine(request_from(ip="10.0.0.2", HTTP_X_FORWARDED_FOR=long_header), session_data())
        assert found.outcome is MATCH
        assert get_config().matches == {}


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enforcement, "MATCHES_MEMO_SIZE", 3)
    for number in range(7):
        address = f"203.0.113.{number}"
        assert examine(request_from(ip=address), session_data(ip=address)).outcome is MATCH
        assert len(get_config().matches) <= 3
    assert len(get_config().matches) == 1


def test_a_settings_change_starts_with_an_empty_memo() -> None:
    data = session_data()
    examine(request_from(), data)
    assert get_config().matches
    with override_settings(RESTRICTEDSESSIONS_RESTRICT_UA=False):
        assert get_config().matches == {}
    with override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.0.0.0/8"]):
        # Behind a trusted proxy the client is the forwarded address: the remembered match of
        # the peer's own address is not this configuration's answer.
        proxied = examine(request_from(ip="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9"), data)
        assert proxied.outcome.reason == "ip"


def test_a_forwarded_address_is_part_of_what_is_remembered() -> None:
    with override_settings(RESTRICTEDSESSIONS_TRUSTED_PROXIES=["10.0.0.0/8"]):
        data = session_data(ip="203.0.113.7")
        via_proxy = request_from(ip="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
        assert examine(via_proxy, data).outcome is MATCH
        spoofed = request_from(ip="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.9")
        assert examine(spoofed, data).outcome.reason == "ip"


addresses = st.sampled_from(["203.0.113.7", "203.0.113.8", "198.51.100.9", "2001:db8::1", "2001:db8:0:0::1", "junk"])
user_agents = st.sampled_from([UA, OTHER_UA, "", None])


@given(
    bound_ip=addresses,
    bound_ua=user_agents,
    requests=st.lists(st.tuples(addresses, user_agents), min_size=1, max_size=8),
)
def test_remembered_answers_are_those_of_the_engine(
    bound_ip: str, bound_ua: str | None, requests: list[tuple[str, str | None]]
) -> None:
    config = get_config()
    config.matches.clear()
    data = session_data(bound_ip, bound_ua)
    binding = config.policy.read(data.get)
    for ip, ua in requests * 2:
        request = request_from(ip, ua)
        expected = decide(config.policy, binding, presented(request, config))
        found = examine(request, data)
        assert found.outcome == expected
        assert found.presented == presented(request, config)
        assert isinstance(found.presented, Presented)


@pytest.mark.django_db
def test_the_steady_state_through_the_middleware_writes_nothing_and_a_move_still_ends_the_session(
    http: Http, alice: Any
) -> None:
    login(http)
    key = http.cookie_key
    assert key is not None
    for _ in range(3):
        response = http.get("read")
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
    assert len(get_config().matches) == 1
    assert_restricted(http.get("read", ip="198.51.100.9"), key)


# What the memo must never answer differently: each test fails if the key lacks what it names ---------


@override_settings(RESTRICTEDSESSIONS_DBSC=True)
def test_a_session_that_registers_a_device_key_is_no_longer_answered_from_the_memo() -> None:
    data = session_data()
    data[dbsc_state.SESSION_KEY] = {"challenges": [["c1", 0]]}  # registration pending
    assert examine(request_from(), data).outcome is MATCH
    # The device registers: nothing the memo key holds changes, but the request now lacks its bound cookie.
    data[dbsc_state.SESSION_KEY] = {"id": "s" + "0" * 32, "jwk": {"kty": "EC"}, "registered_at": 0}
    found = examine(request_from(), data)
    assert found.outcome.reason == REASON_DBSC
    assert found.device_bound is True


@override_settings(RESTRICTEDSESSIONS_DPOP="optional")
def test_a_session_bound_to_a_proof_key_is_refused_without_a_proof_by_it_after_a_match() -> None:
    config = get_config()
    data = session_data()
    data[BINDING_SESSION_KEY] = replace(config.policy.read(data.get), jkt="thumbprint-A").encode()

    def with_proof(jkt: str | None) -> Any:
        request = request_from()
        if jkt is not None:
            setattr(request, PROOF_ATTRIBUTE, jkt)
        return request

    assert examine(with_proof("thumbprint-A"), data).outcome is MATCH
    assert examine(with_proof(None), data).outcome.reason == REASON_DPOP
    assert examine(with_proof("thumbprint-B"), data).outcome.reason == REASON_DPOP


@override_settings(RESTRICTEDSESSIONS_REMOTE_ADDR_KEY="HTTP_X_REAL_IP")
def test_a_custom_address_header_is_what_is_remembered_not_the_peer() -> None:
    data = bound_to(request_from(ip="10.0.0.1", HTTP_X_REAL_IP="203.0.113.7"))
    assert examine(request_from(ip="10.0.0.1", HTTP_X_REAL_IP="203.0.113.7"), data).outcome is MATCH
    moved = examine(request_from(ip="10.0.0.1", HTTP_X_REAL_IP="198.51.100.9"), data)
    assert moved.outcome.reason == "ip"


def asgi_request(headers: list[tuple[bytes, bytes]], peer: str = "10.0.0.1") -> Any:
    """A request as an ASGI handler of Django before 5.2.13 / 6.0.4 builds it: META joins both spellings."""
    request = request_from(ip=peer)
    request.scope = {"type": "http", "headers": [(b"user-agent", UA.encode()), *headers]}
    joined: dict[str, list[str]] = {}
    for name, value in headers:
        joined.setdefault(meta_key_of(name), []).append(value.decode("latin1"))
    request.META.update({key: ",".join(values) for key, values in joined.items()})
    return request


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"RESTRICTEDSESSIONS_TRUSTED_PROXIES": ["10.0.0.0/8"]}, b"forwarded-for"),
        ({"RESTRICTEDSESSIONS_REMOTE_ADDR_KEY": "HTTP_X_REAL_IP"}, b"real-ip"),
    ],
    ids=["trusted-proxies", "remote-addr-key"],
)
def test_an_underscored_header_joined_into_meta_never_reuses_a_remembered_match(
    monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], name: bytes
) -> None:
    monkeypatch.setattr(headers, "SCAN_ASGI_HEADERS", True)
    hyphen, underscore = b"x-" + name, b"x_" + name.replace(b"-", b"_")
    with override_settings(**settings):
        config = get_config()
        if "RESTRICTEDSESSIONS_TRUSTED_PROXIES" in settings:
            # The trusted proxy appended the address it saw (the client) to what the client sent.
            honest = asgi_request([(hyphen, b"198.51.100.9,203.0.113.7")])
            # A thief at 198.51.100.9 (written by the proxy) names the victim's address as x_forwarded_for.
            forged = asgi_request([(hyphen, b"198.51.100.9"), (underscore, b"203.0.113.7")])
        else:
            honest = asgi_request([(hyphen, b"203.0.113.7,198.51.100.9")])
            forged = asgi_request([(underscore, b"203.0.113.7"), (hyphen, b"198.51.100.9")])
        # What META holds is the same; only the header names differ.
        assert honest.META[meta_key_of(hyphen)] == forged.META[meta_key_of(hyphen)]
        assert str(client_ip(honest, config)) == "203.0.113.7"
        data = bound_to(honest)
        assert examine(honest, data).outcome is MATCH
        found = examine(forged, data)
        assert found.outcome.reason == "ip"
        assert str(found.presented.ip) == "198.51.100.9"


@pytest.mark.django_db
@override_settings(SESSION_SAVE_EVERY_REQUEST=True)
def test_save_every_request_binds_an_unbound_session_on_a_request_that_changes_nothing(http: Http) -> None:
    key = create_session({"value": "kept"})
    http.client.cookies[django_settings.SESSION_COOKIE_NAME] = key
    assert data_of(http.get("read", ip="203.0.113.7")) == {"value": "kept"}
    assert bound_ip(stored(key)) == "203.0.113.7"
    assert_restricted(http.get("read", ip="198.51.100.9"), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed", SECRET_KEY="old-" + "k" * 50)
def test_a_secret_key_rotation_is_decided_afresh_and_a_fallback_match_is_never_remembered() -> None:
    data = session_data()
    assert examine(request_from(), data).outcome is MATCH
    with override_settings(SECRET_KEY="new-" + "k" * 50, SECRET_KEY_FALLBACKS=[]):
        # The old key is gone: the remembered match of the old configuration is not this one's answer.
        assert examine(request_from(), data).outcome.reason == "ip"
    with override_settings(SECRET_KEY="new-" + "k" * 50, SECRET_KEY_FALLBACKS=["old-" + "k" * 50]):
        outcomes = [examine(request_from(), data).outcome for _ in range(2)]
        assert get_config().matches == {}
        assert outcomes[0] == outcomes[1]
        rewritten = outcomes[1].save
        assert outcomes[1].reason is None
        assert rewritten is not None
        data[BINDING_SESSION_KEY] = rewritten.encode()
        assert examine(request_from(), data).outcome is MATCH


def test_a_configuration_made_by_replace_starts_with_its_own_empty_memo() -> None:
    config = get_config()
    examine(request_from(), session_data())
    assert config.matches
    changed = replace(config, report_only=not config.report_only)
    assert changed.matches == {}
    assert changed.matches is not config.matches


# enforcement.remembered: the HTTP middleware's steady state, in one call ------------------------


@pytest.mark.django_db
def test_remembered_answers_only_the_matches_examine_remembered() -> None:
    config = get_config()
    key = create_session(session_data())
    assert enforcement.remembered(request_from(), session_store(key), config) is None
    first = enforcement.examine(request_from(), session_store(key), config)
    assert first is not None
    assert first.outcome is MATCH
    assert enforcement.remembered(request_from(), session_store(key), config) is first
    assert enforcement.remembered(request_from(ip="198.51.100.9"), session_store(key), config) is None
    assert enforcement.remembered(request_from(ua=OTHER_UA), session_store(key), config) is None
    assert enforcement.remembered(request_from(), session_store(None), config) is None


@pytest.mark.django_db
def test_remembered_answers_a_key_that_names_no_session_as_examine_does() -> None:
    config = get_config()
    refused, unknown = create_session(session_data()), create_session(session_data())
    enforcement.remember_refused(session_store(refused), config)
    session_store(refused).delete()
    session_store(unknown).delete()
    for key, answer in ((refused, enforcement.REFUSED_BEFORE), (unknown, None)):
        assert enforcement.examine(request_from(), session_store(key), config) is answer
        assert enforcement.remembered(request_from(), session_store(key), config) is answer


@pytest.mark.django_db
@pytest.mark.parametrize("setting", [{"RESTRICTEDSESSIONS_DPOP": "optional"}, {"RESTRICTEDSESSIONS_DBSC": True}])
def test_remembered_answers_nothing_where_a_proof_is_verified_on_every_request(setting: dict[str, Any]) -> None:
    with override_settings(**setting):
        config = get_config()
        assert config.remembers_matches is False
        key = create_session(session_data())
        assert enforcement.examine(request_from(), session_store(key), config).outcome is MATCH  # type: ignore[union-attr]
        assert config.matches
        assert enforcement.remembered(request_from(), session_store(key), config) is None
    assert get_config().remembers_matches is True
