"""The part of HTTP Structured Field Values (RFC 9651) that DBSC's headers use.

Serializing: strings, tokens, inner lists and parameters (sections 4.1.1.1-4.1.1.3, 4.1.6, 4.1.7).
Parsing: one Item whose bare value is a String or a Token, parameters read and ignored (section
4.2.3), which is all the request headers ``Secure-Session-Response`` and ``Sec-Secure-Session-Id``
carry. Chromium sends both as bare Tokens (a JWT and an identifier are valid Tokens), the draft
specifies Strings: both are accepted. Anything else parses to None; nothing here raises on input.
Written here rather than taken from ``http-sf`` because two headers need about sixty lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# RFC 9651 section 3.3.4: sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" ).
TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
STRING_CHARS = re.compile(r"[\x20-\x7e]*")
# Bare items other than String and Token that may stand as parameter values (read, then ignored).
OTHER_BARE_ITEM = re.compile(r"-?[0-9]{1,15}(\.[0-9]{1,3})?|\?[01]|:[A-Za-z0-9+/=]*:|@-?[0-9]{1,15}")


def string(value: str) -> str:
    """Serialize ``value`` as an sf-string (section 4.1.6); ValueError outside printable ASCII."""
    if STRING_CHARS.fullmatch(value) is None:
        raise ValueError("an sf-string holds printable ASCII only")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def token(value: str) -> str:
    """Serialize ``value`` as an sf-token (section 4.1.7); ValueError if it is not a valid token."""
    if TOKEN.fullmatch(value) is None:
        raise ValueError(f"{value!r} is not an sf-token")
    return value


def parameters(params: Sequence[tuple[str, str]]) -> str:
    """Serialize (key, string value) pairs as sf-parameters (section 4.1.1.2)."""
    out = []
    for key, value in params:
        if KEY.fullmatch(key) is None:
            raise ValueError(f"{key!r} is not an sf-key")
        out.append(f";{key}={string(value)}")
    return "".join(out)


def inner_list(tokens: Sequence[str], params: Sequence[tuple[str, str]] = ()) -> str:
    """Serialize tokens as an sf-inner-list with string parameters (section 4.1.1.1)."""
    return "(" + " ".join(token(t) for t in tokens) + ")" + parameters(params)


def _parse_string(text: str, pos: int) -> tuple[str, int] | None:
    out = []
    pos += 1  # the opening DQUOTE
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            if pos + 1 >= len(text) or text[pos + 1] not in '"\\':
                return None
            out.append(text[pos + 1])
            pos += 2
        elif char == '"':
            return "".join(out), pos + 1
        elif not " " <= char <= "~":
            return None
        else:
            out.append(char)
            pos += 1
    return None


def _parse_bare(text: str, pos: int, *, any_type: bool) -> tuple[str | None, int] | None:
    if text.startswith('"', pos):
        return _parse_string(text, pos)
    if match := TOKEN.match(text, pos):
        return match.group(), match.end()
    if any_type and (match := OTHER_BARE_ITEM.match(text, pos)):
        return None, match.end()
    return None


def parse_text_item(value: str | None) -> str | None:
    """The String or Token of a header that holds one sf-item, or None when it holds anything else.

    Parameters are checked for syntax and dropped (the draft says they SHOULD be ignored).
    """
    if value is None:
        return None
    text = value.strip(" \t")
    parsed = _parse_bare(text, 0, any_type=False)
    if parsed is None or parsed[0] is None:
        return None
    item, pos = parsed
    while pos < len(text) and text[pos] == ";":
        pos += 1
        while pos < len(text) and text[pos] == " ":
            pos += 1
        key = KEY.match(text, pos)
        if key is None:
            return None
        pos = key.end()
        if pos < len(text) and text[pos] == "=":
            param = _parse_bare(text, pos + 1, any_type=True)
            if param is None:
                return None
            pos = param[1]
    return item if pos == len(text) else None
