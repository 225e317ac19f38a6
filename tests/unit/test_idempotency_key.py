"""Idempotency-Key: which keys are usable, and which requests count as the same request."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidings.core.idempotency import MAX_KEY_LENGTH, canonical_json, fingerprint, key_problem


@pytest.mark.parametrize(
    "key",
    ["a", "0b6a7c1e-8f3a-4c55-9d0e-2b7f1c3d4e5f", "order-1234/attempt 2", "~" * MAX_KEY_LENGTH],
)
def test_usable_keys(key: str) -> None:
    assert key_problem(key) is None


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("", "must not be empty"),
        ("k" * (MAX_KEY_LENGTH + 1), "at most 255"),
        ("nul\x00inside", "printable ASCII"),
        ("tab\there", "printable ASCII"),
        ("del\x7f", "printable ASCII"),
        ("ключ", "printable ASCII"),
        ("caf\xe9", "printable ASCII"),  # latin-1 obs-text, as a header value may carry
    ],
)
def test_refused_keys(key: str, says: str) -> None:
    problem = key_problem(key)
    assert problem is not None and says in problem and "Idempotency-Key" in problem


def _fp(
    body: bytes,
    method: str = "POST",
    path: str = "/v1/omnimessage",
    query: Sequence[tuple[str, str]] = (),
) -> str:
    return fingerprint(method, path, query, body)


def test_fingerprint_tells_requests_apart() -> None:
    base = _fp(b'{"to":"+37251234567"}')
    assert base == _fp(b'{"to":"+37251234567"}')
    assert base != _fp(b'{"to":"+37251234568"}')
    assert base != _fp(b'{"to":"+37251234567"}', method="DELETE")
    assert base != _fp(b'{"to":"+37251234567"}', path="/v1/omnimessages")
    assert base != _fp(b'{"to":"+37251234567"}', query=[("skip_missed", "true")])
    assert _fp(b"", query=[("a", "1"), ("b", "2")]) == _fp(b"", query=[("b", "2"), ("a", "1")])
    # No boundary games: the parts are separated.
    assert fingerprint("POST", "/a", [], b"b") != fingerprint("POST", "/ab", [], b"")
    assert len(base) == 64 and int(base, 16) >= 0


def test_canonical_json_ignores_key_order_and_whitespace() -> None:
    a = canonical_json({"b": 2, "a": {"y": [1, {"k": 1, "j": 2}], "x": None}})
    b = canonical_json({"a": {"x": None, "y": [1, {"j": 2, "k": 1}]}, "b": 2})
    assert a == b == b'{"a":{"x":null,"y":[1,{"j":2,"k":1}]},"b":2}'
    assert canonical_json([1, 2]) != canonical_json([2, 1])  # order of a list is meaning


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6))
def test_canonical_json_of_a_reordered_object_is_the_same(value: dict[str, object]) -> None:
    reordered = dict(reversed(list(value.items())))
    assert canonical_json(reordered) == canonical_json(value)
