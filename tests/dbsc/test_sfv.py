"""RFC 9651 serialization and parsing of the DBSC headers' values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from restricted_sessions.dbsc import sfv


def test_an_inner_list_of_tokens_with_string_parameters() -> None:
    assert sfv.inner_list(["ES256", "RS256"], [("path", "/dbsc/"), ("challenge", "c")]) == (
        '(ES256 RS256);path="/dbsc/";challenge="c"'
    )


def test_strings_escape_backslash_and_quote() -> None:
    assert sfv.string('a"b\\c') == '"a\\"b\\\\c"'


@pytest.mark.parametrize("value", ["é", "\n", "\x7f"])
def test_strings_refuse_what_is_not_printable_ascii(value: str) -> None:
    with pytest.raises(ValueError, match="printable ASCII"):
        sfv.string(value)


@pytest.mark.parametrize("value", ["1ES", "", "a b", "a,b"])
def test_tokens_refuse_what_is_not_a_token(value: str) -> None:
    with pytest.raises(ValueError, match="sf-token"):
        sfv.token(value)


@pytest.mark.parametrize("key", ["Path", "1a", ""])
def test_parameter_keys_must_be_lowercase_keys(key: str) -> None:
    with pytest.raises(ValueError, match="sf-key"):
        sfv.parameters([(key, "v")])


@pytest.mark.parametrize(
    ("header", "item"),
    [
        ('"abc"', "abc"),
        ("abc", "abc"),  # Chromium sends identifiers and JWTs as bare tokens
        ("eyJh.eyJq.sig-_", "eyJh.eyJq.sig-_"),
        ('  "a\\"b"  ', 'a"b'),
        ('"x";id="y"', "x"),
        ('"x"; id=y;n=5;f=1.5;b=?1;bytes=:AAA=:;d=@1;flag', "x"),
        ("*tok:/x", "*tok:/x"),
    ],
)
def test_an_item_with_a_string_or_token_parses_to_its_text(header: str, item: str) -> None:
    assert sfv.parse_text_item(header) == item


@pytest.mark.parametrize(
    "header",
    [
        None, "", "5", "?1", ":AAA=:", '"open', '"bad \\x escape"', '"tab\t"', '"é"', "a b", '"a", "b"',
        '"x";Id="y"', '"x";id="y', '"x";id=%"y"', '"x"junk', "(a b)", '"x";', '"x";=1',
    ],
)
def test_anything_else_parses_to_none(header: str | None) -> None:
    assert sfv.parse_text_item(header) is None


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_every_serialized_string_parses_back(value: str) -> None:
    assert sfv.parse_text_item(sfv.string(value)) == value


@given(st.text())
def test_arbitrary_text_never_raises(value: str) -> None:
    result = sfv.parse_text_item(value)
    assert result is None or isinstance(result, str)
