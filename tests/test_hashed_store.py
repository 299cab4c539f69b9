"""RESTRICTEDSESSIONS_STORE = "hashed": the session store holds no IP address and no User-Agent.

The binding is kept as keyed hashes (HMAC with Django's SECRET_KEY) of the masked IP network and
of the normalised User-Agent: ``$hmac$4$<hex>``/``$hmac$6$<hex>`` and ``$hmac$<hex>``. Validation
works as with the raw store, raw bindings written earlier are upgraded on the next valid request
without a logout, and SECRET_KEY rotation with SECRET_KEY_FALLBACKS keeps every session.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core import signing
from django.test import override_settings

from restricted_sessions.addresses import parse_ip
from restricted_sessions.binding import Binding, Policy
from tests.conftest import HEADER, Http, create_session, stored
from tests.restriction_helpers import (
    BINDING_KEY,
    IP_KEY,
    UA_KEY,
    assert_restricted,
    bound,
    bound_cookie_session,
    bound_ip,
    kept,
)

pytestmark = pytest.mark.django_db

IP = "192.0.2.7"
IP6 = "2001:db8:1:2::7"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
UA_UPDATED = "Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0"

# Compact hashed forms (1.1): a family marker, then 128 bits of HMAC-SHA256 in base64url.
HASHED_IPV4 = re.compile(r"#4[A-Za-z0-9_-]{22}")
HASHED_IPV6 = re.compile(r"#6[A-Za-z0-9_-]{22}")
HASHED_UA = re.compile(r"#[A-Za-z0-9_-]{22}")


def raw_session_data(key: str) -> str:
    """The db row's session_data, and the JSON inside it, read without Django's session code."""
    session_data = Session.objects.get(pk=key).session_data
    payload = session_data.split(":", 1)[0]
    compressed = payload.startswith(".")
    raw = base64.urlsafe_b64decode(payload.lstrip(".") + "=" * (-len(payload.lstrip(".")) % 4))
    return session_data + "\n" + (zlib.decompress(raw) if compressed else raw).decode()


def fragments_of_the_client(ip: str, ua: str) -> list[str]:
    """What must not be findable in the store: the address, its network, the User-Agent and its parts."""
    network = ip.rsplit(".", 1)[0] if "." in ip else ip.split("::")[0]
    return [ip, network, ua, *re.findall(r"[A-Za-z]{4,}", ua.split("(")[1])]


# The store holds no IP address and no User-Agent --------------------------------------------------


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_the_session_row_holds_neither_the_ip_nor_the_user_agent(http: Http) -> None:
    key = bound_cookie_session(http, ip=IP, ua=UA)

    raw = raw_session_data(key)
    decoded = json.dumps(Session.objects.get(pk=key).get_decoded())

    assert "mine" in raw
    assert "mine" in decoded
    for fragment in fragments_of_the_client(IP, UA):
        assert fragment not in raw
        assert fragment not in decoded


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_an_ipv6_client_is_not_in_the_session_row_either(http: Http) -> None:
    key = bound_cookie_session(http, ip=IP6, ua=UA)

    raw = raw_session_data(key)

    for fragment in fragments_of_the_client(IP6, UA):
        assert fragment not in raw


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_the_bound_values_are_keyed_hashes(http: Http, new_http: Any) -> None:
    key = bound_cookie_session(http, ip=IP, ua=UA)
    v6_key = bound_cookie_session(new_http(), ip=IP6, ua=UA)

    assert HASHED_IPV4.fullmatch(str(bound_ip(stored(key))))
    assert HASHED_UA.fullmatch(str(bound(stored(key)).ua))
    assert HASHED_IPV6.fullmatch(str(bound_ip(stored(v6_key))))


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_the_hashes_depend_on_the_secret_key(http: Http, new_http: Any) -> None:
    key = bound_cookie_session(http, ip=IP, ua=UA)
    ours = stored(key)
    with override_settings(SECRET_KEY="another-site-another-secret"):
        theirs = stored(bound_cookie_session(new_http(), ip=IP, ua=UA))

    assert bound(ours).ip != bound(theirs).ip
    assert bound(ours).ua != bound(theirs).ua


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_a_huge_user_agent_is_stored_as_a_short_hash(http: Http) -> None:
    huge = UA + " x" * 50_000
    key = bound_cookie_session(http, ua=huge)

    assert HASHED_UA.fullmatch(str(bound(stored(key)).ua))
    assert kept(http.get("read", ua=huge)) == {"value": "mine"}
    assert_restricted(http.get("read", ua=huge + "y"), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed", SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies")
def test_a_signed_cookie_session_carries_neither_the_ip_nor_the_user_agent(http: Http) -> None:
    http.get("write", {"value": "mine"}, ip=IP, ua=UA)
    cookie = http.cookie_key
    assert cookie

    data = signing.loads(
        cookie,
        salt="django.contrib.sessions.backends.signed_cookies",
        serializer=signing.JSONSerializer,
    )

    assert data["value"] == "mine"
    for fragment in fragments_of_the_client(IP, UA):
        assert fragment not in json.dumps(data)
    assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "mine"}
    assert http.get("read", ip="198.51.100.1", ua=UA).status_code == 400


# Validation works --------------------------------------------------------------------------------


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_the_same_client_keeps_its_session(http: Http) -> None:
    bound_cookie_session(http, ip=IP, ua=UA)

    assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "mine"}
    assert kept(http.get("read", ip=f"::ffff:{IP}", ua=UA)) == {"value": "mine"}


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_another_ip_is_a_change(http: Http) -> None:
    key = bound_cookie_session(http, ip=IP, ua=UA)

    assert_restricted(http.get("read", ip="192.0.2.8", ua=UA), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_another_user_agent_is_a_change(http: Http) -> None:
    key = bound_cookie_session(http, ip=IP, ua=UA)

    assert_restricted(http.get("read", ip=IP, ua=UA_UPDATED), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_sending_the_stored_hash_as_user_agent_does_not_match(http: Http) -> None:
    key = bound_cookie_session(http, ip=IP, ua=UA)

    assert_restricted(http.get("read", ip=IP, ua=bound(stored(key)).ua), key)


@pytest.mark.parametrize("address", ["garbage", "", None], ids=["garbage", "empty", "missing"])
@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_an_unreadable_address_is_a_change(http: Http, address: str | None) -> None:
    key = bound_cookie_session(http, ip=IP, ua=UA)

    assert_restricted(http.get("read", ip=address, ua=UA), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed", RESTRICTEDSESSIONS_IPV4_LENGTH=24)
def test_the_hash_is_of_the_masked_network_so_prefix_lengths_still_apply(http: Http) -> None:
    key = bound_cookie_session(http, ip=IP, ua=UA)

    assert kept(http.get("read", ip="192.0.2.250", ua=UA)) == {"value": "mine"}
    assert_restricted(http.get("read", ip="192.0.3.7", ua=UA), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_ipv6_clients_are_compared_by_their_slash_64(http: Http) -> None:
    key = bound_cookie_session(http, ip=IP6, ua=UA)

    assert kept(http.get("read", ip="2001:db8:1:2::99", ua=UA)) == {"value": "mine"}
    assert_restricted(http.get("read", ip="2001:db8:1:3::7", ua=UA), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed", RESTRICTEDSESSIONS_UA_MATCH="ignore_versions")
def test_the_user_agent_hash_is_of_the_normalised_user_agent(http: Http) -> None:
    key = bound_cookie_session(http, ip=IP, ua=UA)

    assert kept(http.get("read", ip=IP, ua=UA_UPDATED)) == {"value": "mine"}
    assert_restricted(http.get("read", ip=IP, ua=UA.replace("X11; Linux x86_64", "Windows NT 10.0")), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_a_header_session_is_validated_too(header_http: Http) -> None:
    key = header_http.get("write", key="", ip=IP, ua=UA).headers[HEADER]

    assert kept(header_http.get("read", key=key, ip=IP, ua=UA)) == {"value": "x"}
    response = header_http.get("read", key=key, ip="198.51.100.1", ua=UA)
    assert_restricted(response, key)
    assert response.headers[HEADER] == ""


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_a_steady_hashed_session_is_not_written(http: Http, django_assert_num_queries: Any) -> None:
    bound_cookie_session(http, ip=IP, ua=UA)
    http.get("read", ip=IP, ua=UA)

    with django_assert_num_queries(1):
        assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "mine"}


# Raw bindings written earlier are upgraded without a logout, when the session is saved anyway --


def test_a_raw_binding_is_upgraded_at_the_next_save_only(http: Http) -> None:
    with override_settings(RESTRICTEDSESSIONS_STORE="raw"):
        key = bound_cookie_session(http, ip=IP, ua=UA)
    assert bound_ip(stored(key)) == IP

    with override_settings(RESTRICTEDSESSIONS_STORE="hashed"):
        assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "mine"}
        assert bound_ip(stored(key)) == IP
        assert http.get("write", {"value": "mine"}, ip=IP, ua=UA).status_code == 200

        assert HASHED_IPV4.fullmatch(str(bound_ip(stored(key))))
        assert HASHED_UA.fullmatch(str(bound(stored(key)).ua))
        for fragment in fragments_of_the_client(IP, UA):
            assert fragment not in raw_session_data(key)
        assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "mine"}
        assert_restricted(http.get("read", ip="198.51.100.1", ua=UA), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_a_logged_in_user_with_a_raw_binding_stays_logged_in(http: Http, alice: object) -> None:
    with override_settings(RESTRICTEDSESSIONS_STORE="raw"):
        http.post("login", {"username": "alice"}, ip=IP, ua=UA)
    key = http.cookie_key
    assert key

    assert http.get("whoami", ip=IP, ua=UA).json() == {"user": "alice"}
    assert bound_ip(stored(key)) == IP
    assert http.get("whoami", ip=IP, ua=UA).json() == {"user": "alice"}


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_a_session_bound_by_django_restricted_sessions_is_upgraded(http: Http) -> None:
    key = create_session({"value": "legacy", IP_KEY: IP, UA_KEY: UA})
    http.client.cookies["sessionid"] = key

    assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "legacy"}
    assert stored(key) == {"value": "legacy", IP_KEY: IP, UA_KEY: UA}
    http.get("write", {"value": "new"}, ip=IP, ua=UA)

    assert set(stored(key)) == {"value", BINDING_KEY}
    assert HASHED_IPV4.fullmatch(str(bound_ip(stored(key))))
    assert HASHED_UA.fullmatch(str(bound(stored(key)).ua))
    assert stored(key)["value"] == "new"


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_a_raw_binding_seen_from_elsewhere_is_refused_not_upgraded(http: Http) -> None:
    key = create_session({"value": "legacy", IP_KEY: IP, UA_KEY: UA})
    http.client.cookies["sessionid"] = key

    assert_restricted(http.get("read", ip="198.51.100.1", ua=UA), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed", RESTRICTEDSESSIONS_UA_MATCH="ignore_versions")
def test_a_raw_binding_is_upgraded_across_a_browser_update_with_ignore_versions(http: Http) -> None:
    key = create_session({"value": "legacy", IP_KEY: IP, UA_KEY: UA})
    http.client.cookies["sessionid"] = key

    assert kept(http.get("read", ip=IP, ua=UA_UPDATED)) == {"value": "legacy"}
    http.get("write", {"value": "legacy"}, ip=IP, ua=UA_UPDATED)
    assert HASHED_UA.fullmatch(str(bound(stored(key)).ua))
    assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "legacy"}


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_a_raw_header_session_is_upgraded_and_keeps_its_key(header_http: Http) -> None:
    key = create_session({"value": "legacy", IP_KEY: IP, UA_KEY: UA})

    response = header_http.get("read", key=key, ip=IP, ua=UA)

    assert kept(response) == {"value": "legacy"}
    assert response.headers.get(HEADER, key) == key
    header_http.get("write", {"value": "legacy"}, key=key, ip=IP, ua=UA)
    assert HASHED_IPV4.fullmatch(str(bound_ip(stored(key))))


# SECRET_KEY rotation ----------------------------------------------------------------------------

OLD_SECRET = "the-secret-key-of-last-year-" + "o" * 30
NEW_SECRET = "the-secret-key-of-this-year-" + "n" * 30


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_rotating_the_secret_key_with_fallbacks_keeps_sessions(http: Http, alice: object) -> None:
    with override_settings(SECRET_KEY=OLD_SECRET):
        http.post("login", {"username": "alice"}, ip=IP, ua=UA)
    key = http.cookie_key
    assert key

    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET]):
        assert http.get("whoami", ip=IP, ua=UA).json() == {"user": "alice"}
        assert http.get("whoami", ip=IP, ua=UA).json() == {"user": "alice"}
        assert_restricted(http.get("whoami", ip="198.51.100.1", ua=UA), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_after_rotation_a_user_agent_change_is_still_a_change(http: Http) -> None:
    with override_settings(SECRET_KEY=OLD_SECRET):
        key = bound_cookie_session(http, ip=IP, ua=UA)

    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET]):
        assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "mine"}
        assert_restricted(http.get("read", ip=IP, ua=UA_UPDATED), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_sessions_bound_after_the_rotation_use_the_new_key(http: Http) -> None:
    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET]):
        key = bound_cookie_session(http, ip=IP, ua=UA)
        assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "mine"}

    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[]):
        assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "mine"}
        assert_restricted(http.get("read", ip="198.51.100.1", ua=UA), key)


@override_settings(RESTRICTEDSESSIONS_STORE="hashed", RESTRICTEDSESSIONS_DUAL_STACK=True)
def test_rotation_keeps_both_families_of_a_dual_stack_session(http: Http) -> None:
    with override_settings(SECRET_KEY=OLD_SECRET):
        key = bound_cookie_session(http, ip=IP, ua=UA)
        assert kept(http.get("read", ip=IP6, ua=UA)) == {"value": "mine"}
        assert HASHED_IPV6.fullmatch(str(bound(stored(key)).ip2))

    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET]):
        assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "mine"}
        assert kept(http.get("read", ip=IP6, ua=UA)) == {"value": "mine"}


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_finishing_a_rotation_keeps_sessions_bound_under_the_old_key(http: Http, alice: object) -> None:
    with override_settings(SECRET_KEY=OLD_SECRET):
        http.post("login", {"username": "alice"}, ip=IP, ua=UA)
        key = http.cookie_key
        assert key
        old_binding = bound(stored(key))

    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET]):
        assert http.get("whoami", ip=IP, ua=UA).json() == {"user": "alice"}
        # Django's auth rewrites its own hash then, and cycles the session key with it.
        key = http.cookie_key
        assert key
        rewritten = bound(stored(key))
    new = Policy(hashed=True, secrets=(NEW_SECRET,))
    assert rewritten == Binding(new.ip_token(parse_ip(IP)), ua=new.ua_token(UA)) != old_binding

    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[]):
        assert http.get("whoami", ip=IP, ua=UA).json() == {"user": "alice"}
        assert_restricted(http.get("whoami", ip="198.51.100.1", ua=UA), key)


@override_settings()
def test_only_the_compact_binding_reaches_the_store(http: Http) -> None:
    key = bound_cookie_session(http, ip=IP, ua=UA)

    assert set(stored(key)) == {"value", BINDING_KEY}
    assert stored(key)[BINDING_KEY] == "1|192.0.2.7||~oACLSyCILCPONkl2FTMj1A"


@override_settings(RESTRICTEDSESSIONS_STORE="hashed")
def test_a_binding_matched_through_a_fallback_is_rewritten_on_a_read(http: Http) -> None:
    with override_settings(SECRET_KEY=OLD_SECRET):
        key = bound_cookie_session(http, ip=IP, ua=UA)

    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[OLD_SECRET]):
        assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "mine"}
        new = Policy(hashed=True, secrets=(NEW_SECRET,))
        assert bound(stored(key)) == Binding(new.ip_token(parse_ip(IP)), ua=new.ua_token(UA))

    with override_settings(SECRET_KEY=NEW_SECRET, SECRET_KEY_FALLBACKS=[]):
        assert kept(http.get("read", ip=IP, ua=UA)) == {"value": "mine"}
