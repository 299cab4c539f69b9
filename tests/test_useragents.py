"""RESTRICTEDSESSIONS_UA_MATCH = "ignore_versions": browser updates keep the session, other browsers do not.

Checked on real User-Agent strings of current browsers, first with the pure functions
(``restricted_sessions.useragents`` and ``binding.Policy``), then through the middleware.
"""

from __future__ import annotations

import pytest
from django.test import override_settings

from restricted_sessions.binding import Policy
from restricted_sessions.useragents import EXACT, IGNORE_VERSIONS, normalise
from tests.conftest import Http, create_session, stored
from tests.restriction_helpers import IP_KEY, UA_KEY, assert_restricted, bound_cookie_session, kept

# Desktop ----------------------------------------------------------------------------------------
CHROME_131_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
CHROME_132_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36"
)
CHROME_131_MACOS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
CHROME_132_MACOS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/132.0.0.0 Safari/537.36"
)
CHROME_131_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
CHROME_132_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36"
)
EDGE_131_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0"
)
EDGE_132_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/132.0.0.0 Safari/537.36 Edg/132.0.0.0"
)
FIREFOX_133_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
FIREFOX_134_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:134.0) Gecko/20100101 Firefox/134.0"
FIREFOX_133_MACOS = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0"
FIREFOX_134_MACOS = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:134.0) Gecko/20100101 Firefox/134.0"
FIREFOX_133_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
FIREFOX_134_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0"
FIREFOX_133_UBUNTU = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
FIREFOX_134_UBUNTU = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:134.0) Gecko/20100101 Firefox/134.0"
SAFARI_17_1_MACOS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15"
)
SAFARI_17_2_MACOS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15"
)

# Mobile -----------------------------------------------------------------------------------------
CHROME_131_PIXEL_8 = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.135 Mobile Safari/537.36"
)
CHROME_132_PIXEL_8 = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/132.0.6834.79 Mobile Safari/537.36"
)
CHROME_132_PIXEL_8_ANDROID_15 = (
    "Mozilla/5.0 (Linux; Android 15; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/132.0.6834.79 Mobile Safari/537.36"
)
CHROME_131_GALAXY_S23 = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.135 Mobile Safari/537.36"
)
# Chrome's reduced User-Agent on Android ("K" instead of the model).
CHROME_131_ANDROID_REDUCED = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)
CHROME_132_ANDROID_REDUCED = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Mobile Safari/537.36"
)
SAMSUNG_INTERNET_26_S23 = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"
)
SAMSUNG_INTERNET_27_S23 = (
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36"
)
FIREFOX_133_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0"
FIREFOX_134_ANDROID = "Mozilla/5.0 (Android 14; Mobile; rv:134.0) Gecko/134.0 Firefox/134.0"
SAFARI_IOS_17_1 = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
SAFARI_IOS_17_2 = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
SAFARI_IPAD_17_1 = (
    "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
SAFARI_IPAD_17_2 = (
    "Mozilla/5.0 (iPad; CPU OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1"
)
CHROME_IOS_131 = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
)

# A browser update (or an OS update) on the same device: the session is kept.
SAME_BROWSER = {
    "chrome-windows-131-to-132": (CHROME_131_WINDOWS, CHROME_132_WINDOWS),
    "chrome-macos-131-to-132": (CHROME_131_MACOS, CHROME_132_MACOS),
    "chrome-linux-131-to-132": (CHROME_131_LINUX, CHROME_132_LINUX),
    "edge-windows-131-to-132": (EDGE_131_WINDOWS, EDGE_132_WINDOWS),
    "firefox-windows-133-to-134": (FIREFOX_133_WINDOWS, FIREFOX_134_WINDOWS),
    "firefox-macos-133-to-134": (FIREFOX_133_MACOS, FIREFOX_134_MACOS),
    "firefox-linux-133-to-134": (FIREFOX_133_LINUX, FIREFOX_134_LINUX),
    "firefox-ubuntu-133-to-134": (FIREFOX_133_UBUNTU, FIREFOX_134_UBUNTU),
    "safari-macos-17.1-to-17.2": (SAFARI_17_1_MACOS, SAFARI_17_2_MACOS),
    "chrome-pixel-8-131-to-132": (CHROME_131_PIXEL_8, CHROME_132_PIXEL_8),
    "chrome-pixel-8-android-14-to-15": (CHROME_132_PIXEL_8, CHROME_132_PIXEL_8_ANDROID_15),
    "chrome-android-reduced-131-to-132": (CHROME_131_ANDROID_REDUCED, CHROME_132_ANDROID_REDUCED),
    "samsung-internet-26-to-27": (SAMSUNG_INTERNET_26_S23, SAMSUNG_INTERNET_27_S23),
    "firefox-android-133-to-134": (FIREFOX_133_ANDROID, FIREFOX_134_ANDROID),
    "safari-ios-17_1-to-17_2": (SAFARI_IOS_17_1, SAFARI_IOS_17_2),
    "safari-ipados-17_1-to-17_2": (SAFARI_IPAD_17_1, SAFARI_IPAD_17_2),
}

# Another browser, operating system or device: still a change.
ANOTHER_CLIENT = {
    "chrome-vs-firefox-windows": (CHROME_131_WINDOWS, FIREFOX_133_WINDOWS),
    "chrome-vs-firefox-linux": (CHROME_131_LINUX, FIREFOX_133_LINUX),
    "chrome-vs-edge-windows": (CHROME_131_WINDOWS, EDGE_131_WINDOWS),
    "chrome-vs-safari-macos": (CHROME_131_MACOS, SAFARI_17_1_MACOS),
    "chrome-windows-vs-macos": (CHROME_131_WINDOWS, CHROME_131_MACOS),
    "chrome-windows-vs-linux": (CHROME_131_WINDOWS, CHROME_131_LINUX),
    "chrome-macos-vs-linux": (CHROME_131_MACOS, CHROME_132_LINUX),
    "firefox-windows-vs-macos": (FIREFOX_133_WINDOWS, FIREFOX_134_MACOS),
    "firefox-linux-vs-ubuntu": (FIREFOX_133_LINUX, FIREFOX_133_UBUNTU),
    "pixel-8-vs-galaxy-s23": (CHROME_131_PIXEL_8, CHROME_131_GALAXY_S23),
    "chrome-vs-samsung-internet-on-one-phone": (CHROME_131_GALAXY_S23, SAMSUNG_INTERNET_26_S23),
    "chrome-desktop-vs-chrome-android": (CHROME_131_LINUX, CHROME_131_ANDROID_REDUCED),
    "chrome-desktop-vs-pixel-8": (CHROME_132_LINUX, CHROME_132_PIXEL_8),
    "firefox-desktop-vs-firefox-android": (FIREFOX_133_LINUX, FIREFOX_133_ANDROID),
    "safari-macos-vs-safari-ios": (SAFARI_17_1_MACOS, SAFARI_IOS_17_1),
    "iphone-vs-ipad": (SAFARI_IOS_17_1, SAFARI_IPAD_17_1),
    "safari-ios-vs-chrome-ios": (SAFARI_IOS_17_1, CHROME_IOS_131),
    "chrome-android-vs-firefox-android": (CHROME_131_ANDROID_REDUCED, FIREFOX_133_ANDROID),
}

IGNORING_VERSIONS = Policy(ua_match=IGNORE_VERSIONS)
EXACTLY = Policy(ua_match=EXACT)


# Pure functions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("before", "after"), SAME_BROWSER.values(), ids=SAME_BROWSER.keys())
def test_a_browser_update_normalises_to_the_same_user_agent(before: str, after: str) -> None:
    assert before != after
    assert normalise(before, IGNORE_VERSIONS) == normalise(after, IGNORE_VERSIONS)


@pytest.mark.parametrize(("first", "second"), ANOTHER_CLIENT.values(), ids=ANOTHER_CLIENT.keys())
def test_another_browser_os_or_device_normalises_differently(first: str, second: str) -> None:
    assert normalise(first, IGNORE_VERSIONS) != normalise(second, IGNORE_VERSIONS)


@pytest.mark.parametrize(("before", "after"), SAME_BROWSER.values(), ids=SAME_BROWSER.keys())
def test_ignore_versions_matches_a_browser_update(before: str, after: str) -> None:
    assert IGNORING_VERSIONS.ua_matches(IGNORING_VERSIONS.ua_value(before), after)
    assert IGNORING_VERSIONS.ua_matches(IGNORING_VERSIONS.ua_value(after), before)


@pytest.mark.parametrize(("first", "second"), ANOTHER_CLIENT.values(), ids=ANOTHER_CLIENT.keys())
def test_ignore_versions_does_not_match_another_browser_os_or_device(first: str, second: str) -> None:
    assert not IGNORING_VERSIONS.ua_matches(IGNORING_VERSIONS.ua_value(first), second)
    assert not IGNORING_VERSIONS.ua_matches(IGNORING_VERSIONS.ua_value(second), first)


@pytest.mark.parametrize(("before", "after"), SAME_BROWSER.values(), ids=SAME_BROWSER.keys())
def test_exact_matching_the_default_treats_a_browser_update_as_a_change(before: str, after: str) -> None:
    assert Policy().ua_match == EXACT
    assert normalise(before, EXACT) == before
    assert EXACTLY.ua_matches(EXACTLY.ua_value(before), before)
    assert not EXACTLY.ua_matches(EXACTLY.ua_value(before), after)


@pytest.mark.parametrize(("before", "after"), SAME_BROWSER.values(), ids=SAME_BROWSER.keys())
def test_a_full_user_agent_stored_by_exact_matching_matches_its_update_under_ignore_versions(
    before: str, after: str
) -> None:
    assert IGNORING_VERSIONS.ua_matches(EXACTLY.ua_value(before), after)


@pytest.mark.parametrize(("first", "second"), ANOTHER_CLIENT.values(), ids=ANOTHER_CLIENT.keys())
def test_a_full_user_agent_stored_by_exact_matching_still_refuses_another_client(first: str, second: str) -> None:
    assert not IGNORING_VERSIONS.ua_matches(EXACTLY.ua_value(first), second)


def test_ignore_versions_still_refuses_a_missing_user_agent() -> None:
    stored_ua = IGNORING_VERSIONS.ua_value(CHROME_131_WINDOWS)

    assert not IGNORING_VERSIONS.ua_matches(stored_ua, None)
    assert not IGNORING_VERSIONS.ua_matches(stored_ua, "")


def test_ignore_versions_does_not_make_any_versionless_string_match() -> None:
    stored_ua = IGNORING_VERSIONS.ua_value(CHROME_131_WINDOWS)

    assert not IGNORING_VERSIONS.ua_matches(stored_ua, "Mozilla/5.0")
    assert not IGNORING_VERSIONS.ua_matches(stored_ua, "curl/8.5.0")


def test_ignore_versions_compares_a_huge_user_agent_whole_and_keeps_it_bounded() -> None:
    # No browser sends one; the version patterns never run over a header this size.
    huge = CHROME_131_WINDOWS + " Extra/1.0" * 10_000

    stored_ua = IGNORING_VERSIONS.ua_value(huge)

    assert len(stored_ua) <= 512
    assert IGNORING_VERSIONS.ua_matches(stored_ua, huge)
    assert not IGNORING_VERSIONS.ua_matches(stored_ua, huge.replace("Chrome/131", "Chrome/132"))
    assert not IGNORING_VERSIONS.ua_matches(stored_ua, huge.replace("Windows NT 10.0", "Linux x86_64"))


# Through the middleware -------------------------------------------------------------------------

THROUGH_MIDDLEWARE_SAME = {
    name: SAME_BROWSER[name]
    for name in (
        "chrome-windows-131-to-132",
        "edge-windows-131-to-132",
        "firefox-windows-133-to-134",
        "firefox-linux-133-to-134",
        "safari-macos-17.1-to-17.2",
        "chrome-pixel-8-131-to-132",
        "samsung-internet-26-to-27",
        "firefox-android-133-to-134",
        "safari-ios-17_1-to-17_2",
    )
}
THROUGH_MIDDLEWARE_OTHER = {
    name: ANOTHER_CLIENT[name]
    for name in (
        "chrome-vs-firefox-windows",
        "chrome-windows-vs-macos",
        "pixel-8-vs-galaxy-s23",
        "chrome-desktop-vs-chrome-android",
        "safari-macos-vs-safari-ios",
    )
}


@pytest.mark.django_db
@pytest.mark.parametrize(("before", "after"), THROUGH_MIDDLEWARE_SAME.values(), ids=THROUGH_MIDDLEWARE_SAME.keys())
@override_settings(RESTRICTEDSESSIONS_UA_MATCH="ignore_versions")
def test_a_browser_update_keeps_the_session(http: Http, before: str, after: str) -> None:
    bound_cookie_session(http, ua=before)

    assert kept(http.get("read", ua=after)) == {"value": "mine"}
    assert kept(http.get("read", ua=before)) == {"value": "mine"}


@pytest.mark.django_db
@pytest.mark.parametrize(("first", "second"), THROUGH_MIDDLEWARE_OTHER.values(), ids=THROUGH_MIDDLEWARE_OTHER.keys())
@override_settings(RESTRICTEDSESSIONS_UA_MATCH="ignore_versions")
def test_another_browser_os_or_device_ends_the_session(http: Http, first: str, second: str) -> None:
    key = bound_cookie_session(http, ua=first)

    assert_restricted(http.get("read", ua=second), key)


@pytest.mark.django_db
@override_settings()
def test_by_default_a_browser_update_ends_the_session(http: Http) -> None:
    key = bound_cookie_session(http, ua=CHROME_131_WINDOWS)

    assert_restricted(http.get("read", ua=CHROME_132_WINDOWS), key)


@pytest.mark.django_db
@override_settings(RESTRICTEDSESSIONS_UA_MATCH="ignore_versions")
def test_a_browser_update_keeps_a_header_session(header_http: Http) -> None:
    key = header_http.get("write", ua=FIREFOX_133_ANDROID).headers["X-SessionID"]

    assert kept(header_http.get("read", key=key, ua=FIREFOX_134_ANDROID)) == {"value": "x"}
    assert_restricted(header_http.get("read", key=key, ua=CHROME_131_ANDROID_REDUCED), key)


@pytest.mark.django_db
@override_settings(RESTRICTEDSESSIONS_UA_MATCH="ignore_versions")
def test_ignore_versions_does_not_relax_the_ip_check(http: Http) -> None:
    key = bound_cookie_session(http, ua=CHROME_131_WINDOWS, ip="192.0.2.7")

    assert_restricted(http.get("read", ua=CHROME_132_WINDOWS, ip="198.51.100.1"), key)


@pytest.mark.django_db
@override_settings(RESTRICTEDSESSIONS_UA_MATCH="ignore_versions")
def test_ignore_versions_still_ends_a_session_without_a_user_agent(http: Http) -> None:
    key = bound_cookie_session(http, ua=CHROME_131_WINDOWS)

    assert_restricted(http.get("read", ua=None), key)


@pytest.mark.django_db
def test_switching_on_ignore_versions_keeps_sessions_bound_under_exact_matching(http: Http) -> None:
    with override_settings(RESTRICTEDSESSIONS_UA_MATCH="exact"):
        key = bound_cookie_session(http, ua=CHROME_131_MACOS)
    assert stored(key)[UA_KEY] == CHROME_131_MACOS

    with override_settings(RESTRICTEDSESSIONS_UA_MATCH="ignore_versions"):
        assert kept(http.get("read", ua=CHROME_131_MACOS)) == {"value": "mine"}
        assert kept(http.get("read", ua=CHROME_132_MACOS)) == {"value": "mine"}
        assert_restricted(http.get("read", ua=SAFARI_17_1_MACOS), key)


@pytest.mark.django_db
@override_settings(RESTRICTEDSESSIONS_UA_MATCH="ignore_versions")
def test_a_session_bound_by_django_restricted_sessions_survives_a_browser_update(http: Http) -> None:
    key = create_session({"value": "legacy", IP_KEY: "192.0.2.7", UA_KEY: SAFARI_IOS_17_1})
    http.client.cookies["sessionid"] = key

    assert kept(http.get("read", ip="192.0.2.7", ua=SAFARI_IOS_17_2)) == {"value": "legacy"}
    assert_restricted(http.get("read", ip="192.0.2.7", ua=SAFARI_IPAD_17_2), key)
