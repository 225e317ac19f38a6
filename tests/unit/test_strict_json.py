"""Strict request JSON: duplicate keys and NUL characters at any depth, named by path; and the
strict whole-number reader."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidings.core.errors import RequestInvalid
from tidings.core.nul import NulAt, find_nul
from tidings.core.strict_int import INT64_MAX, INT64_MIN, parse_int
from tidings.web.strict_json import loads_strict


def refusal(raw: bytes) -> tuple[str, str | None]:
    with pytest.raises(RequestInvalid) as exc:
        loads_strict(raw)
    (item,) = exc.value.errors
    return item.code, item.source


@pytest.mark.parametrize(
    ("raw", "source"),
    [
        (b'{"to":"a","to":"b"}', "to"),
        (b'{"to":"a", "to" : "a"}', "to"),
        (b'{"t\\u006f":"a","to":"b"}', "to"),  # one key, two spellings
        (b'{"a":{"b":1,"b":2}}', "a.b"),
        (b'{"m":[{"x":1},{"y":1,"y":2}]}', "m[1].y"),
        (b'[[{"k":1,"k":1}]]', "[0][0].k"),
        (b'{"a\\u003a":1,"a:":2}', "a:"),  # a colon spelled as an escape
        (b'{"t":"\\u003a","t":"x"}', "t"),
        (b'{"a":1,"b":{"c":{"d":[1,{"e":"f:g","e":"h"}]}}}', "b.c.d[1].e"),
    ],
)
def test_duplicate_keys_are_refused_with_their_path(raw: bytes, source: str) -> None:
    assert refusal(raw) == ("105", source)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1,"b":{"a":1}}',
        b'{"text":"a:b:c","url":"https://x:8080/"}',
        b'{"k\\u003a":"\\u003a","k":1}',
        b'[{"a":1},{"a":1}]',
        b'"just: a string"',
        b"12",
    ],
)
def test_equal_keys_in_different_objects_and_colons_in_strings_are_fine(raw: bytes) -> None:
    assert loads_strict(raw) == orjson.loads(raw)


@pytest.mark.parametrize(
    ("raw", "source"),
    [
        (b'{"to":"+372\\u0000"}', "to"),
        (b'{"messages":[{"text":"ok"},{"text":"a\\u0000b"}]}', "messages[1].text"),
        (b'{"messages":[{"te\\u0000xt":"a"}]}', "messages[0]"),
        (b'{"\\u0000":1}', None),
        (b'"\\u0000"', None),
    ],
)
def test_nul_is_refused_with_its_path(raw: bytes, source: str | None) -> None:
    assert refusal(raw) == ("105", source)


def test_an_escaped_backslash_before_u0000_is_no_nul() -> None:
    assert loads_strict(b'{"text":"\\\\u0000"}') == {"text": "\\u0000"}


def test_find_nul_reports_the_first_in_document_order() -> None:
    value = {"a": ["x", "y\x00"], "b": "\x00"}
    assert find_nul(value) == NulAt("a[1]", False)
    assert find_nul({"ok": [1, 2.5, None, True, {"k": "v"}]}) is None
    deep: Any = "\x00"
    for _ in range(5000):  # deeper than Python's recursion limit: the walk is iterative
        deep = [deep]
    assert find_nul(deep) == NulAt("[0]" * 5000, False)


# Any JSON document, possibly with duplicate keys, written with any of these spellings.
_keys = st.sampled_from(["a", "b", "to", "a:", ":", 'q"'])
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.sampled_from(["", ":", "x:y", '"'])
)


def _spell(s: str, escape: bool) -> str:
    if not escape:
        return json.dumps(s)
    return '"' + "".join(f"\\u{ord(ch):04x}" for ch in s) + '"'


@st.composite
def documents(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 3 or draw(st.booleans()):
        value = draw(_scalars)
        if isinstance(value, str):
            return _spell(value, draw(st.booleans()))
        return json.dumps(value)
    if draw(st.booleans()):
        items = draw(st.lists(documents(depth + 1), max_size=3))
        return "[" + ",".join(items) + "]"
    members = draw(st.lists(st.tuples(_keys, st.booleans(), documents(depth + 1)), max_size=4))
    sep = draw(st.sampled_from([":", " : "]))
    return "{" + ",".join(_spell(k, esc) + sep + v for k, esc, v in members) + "}"


def _has_duplicates(raw: str) -> bool:
    found = False

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal found
        found = found or len({k for k, _ in pairs}) != len(pairs)
        return dict(pairs)

    json.loads(raw, object_pairs_hook=hook)
    return found


@settings(max_examples=400, deadline=None)
@given(documents())
def test_the_fast_check_agrees_with_the_object_pairs_hook(doc: str) -> None:
    raw = doc.encode()
    if _has_duplicates(doc):
        with pytest.raises(RequestInvalid):
            loads_strict(raw)
    else:
        assert loads_strict(raw) == json.loads(doc)


@pytest.mark.parametrize(
    ("raw", "lo", "hi", "expected"),
    [
        ("42", 0, 100, 42),
        ("-7", -10, 10, -7),
        (str(INT64_MAX), INT64_MIN, INT64_MAX, INT64_MAX),
        (str(INT64_MIN), INT64_MIN, INT64_MAX, INT64_MIN),
        ("0", 1, 10, None),
        ("11", 1, 10, None),
        ("²", 0, 100, None),
        ("٣", 0, 100, None),
        ("1_0", 0, 100, None),
        (" 5", 0, 100, None),
        ("+5", 0, 100, None),
        ("", 0, 100, None),
        ("-", -10, 10, None),
        (None, 0, 100, None),
        ("9" * 20, INT64_MIN, INT64_MAX, None),
        ("9" * 5000, INT64_MIN, INT64_MAX, None),
        (str(INT64_MAX + 1), INT64_MIN, INT64_MAX, None),
    ],
)
def test_parse_int_is_strict_and_bounded(
    raw: str | None, lo: int, hi: int, expected: int | None
) -> None:
    assert parse_int(raw, lo, hi) == expected
