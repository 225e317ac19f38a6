"""Request JSON, strictly: no duplicate keys and no NUL character, at any depth.

orjson decodes (and refuses NaN, lone surrogates, control characters and nesting deeper than
1024), but like every dict-building decoder it keeps the last of two equal keys, so
`{"to": A, "to": B}` would silently send to B. Duplicates are detected without slowing the
common body down: every object member contributes exactly one structural `:` to the raw text,
and re-encoding the decoded value emits one `:` per member it kept, while colons inside strings
appear literally in both. So, when no string in the raw text spells a colon as an escape
(`\\u003a`), the two counts are equal exactly when no member was dropped. Otherwise, and to name
the duplicated key, the standard library's decoder runs with an `object_pairs_hook`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from tidings.core.errors import RequestInvalid, invalid
from tidings.core.nul import find_nul, member_path


def loads_strict(raw: bytes) -> Any:
    """The decoded body; RequestInvalid (400) for malformed JSON, a duplicate key or a NUL."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _refused(f"The request body is not valid JSON: {exc}") from None
    escaped = b"\\" in raw  # one fast byte search spares the two below for most bodies
    if (escaped and b"\\u003" in raw) or raw.count(b":") != orjson.dumps(value).count(b":"):
        _refuse_duplicates(raw)
    if escaped and b"\\u0000" in raw:
        refuse_nul(value)
    return value


def refuse_nul(value: Any) -> None:
    """RequestInvalid naming the first string (value or key) in `value` that holds a NUL."""
    at = find_nul(value)
    if at is None:
        return
    if at.in_key:
        where = f"An object key in {at.path}" if at.path else "An object key"
        raise _refused(f"{where} contains a NUL character (\\u0000)", at.path or None)
    what = at.path or "The request body"
    raise _refused(f"{what} must not contain a NUL character (\\u0000)", at.path or None)


def _refused(detail: str, source: str | None = None) -> RequestInvalid:
    return RequestInvalid([invalid(detail, source)])


class _Object(dict[str, Any]):
    duplicate: str | None = None


def _pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                obj.duplicate = key
                break
            seen.add(key)
    return obj


def _refuse_duplicates(raw: bytes) -> None:
    """Raise for the first object (in document order) that repeats a key; return if none does."""
    try:
        value = json.loads(raw, object_pairs_hook=_pairs)
    except (RecursionError, ValueError):  # orjson accepted it: only depth or a huge integer
        raise _refused("The request body is nested too deeply or too large to read") from None
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, _Object):
            if v.duplicate is not None:
                where = f" in {path}" if path else ""
                raise _refused(
                    f'The key "{v.duplicate}" appears more than once{where}',
                    member_path(path, v.duplicate),
                )
            stack.extend((member_path(path, k), item) for k, item in reversed(v.items()))
        elif isinstance(v, list):
            stack.extend((f"{path}[{i}]", v[i]) for i in range(len(v) - 1, -1, -1))
