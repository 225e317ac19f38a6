"""Where a decoded request value holds a NUL character.

PostgreSQL cannot store U+0000 in text (SQLite can), so a NUL that got in would be a 500, or a
message accepted but never written. Tidings refuses NUL in every text field on both backends;
this finds the first one, in document order, as a path in the error `source` style
(`messages[1].text`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NUL = "\x00"


@dataclass(frozen=True, slots=True)
class NulAt:
    path: str  # "" for the top level
    in_key: bool  # the NUL is in a key of the object at `path`, not in a value


def member_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def find_nul(value: Any) -> NulAt | None:
    """The first string (value or key) holding a NUL, or None. Iterative: depth is no limit."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, str):
            if NUL in v:
                return NulAt(path, False)
        elif isinstance(v, dict):
            if any(NUL in k for k in v):
                return NulAt(path, True)
            stack.extend((member_path(path, k), item) for k, item in reversed(v.items()))
        elif isinstance(v, list):
            stack.extend((f"{path}[{i}]", v[i]) for i in range(len(v) - 1, -1, -1))
    return None
