"""Small reusable field checkers for request validation.

A `Node` wraps one JSON object under validation. Each reader method checks one field (presence,
JSON type, length, range, enum), reports problems to the shared `Problems` under a precise source
path (``messages[0].template.components[2].parameters[0].type``), and copies the accepted value
into `Node.out`. Unknown keys and nulls never reach `out`, so `out` is the cleaned object.

Conventions: JSON null is the same as an absent key; a required field that is absent or null is
"Missing data" (106); everything else wrong is "Invalid data" (105). Readers return the accepted
value, or None when the field is absent or was rejected (use `Node.present` to tell them apart).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from tidings.core.errors import ErrorItem, invalid, missing

MAX_ERRORS = 20  # problems reported per omnimessage; the rest are counted, not listed
DEFAULT_MAX_LEN = 4096  # cap for free strings that have no documented limit
URL_MAX_LEN = 2048

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*", re.ASCII)


class Problems:
    """Collects the problems of one request: keeps the first `cap`, counts them all."""

    def __init__(self, cap: int = MAX_ERRORS) -> None:
        self.items: list[ErrorItem] = []
        self.total = 0
        self._cap = cap

    def add(self, item: ErrorItem) -> None:
        self.total += 1
        if len(self.items) < self._cap:
            self.items.append(item)

    def invalid(self, source: str | None, detail: str) -> None:
        self.add(invalid(detail, source))

    def missing(self, source: str | None, detail: str) -> None:
        self.add(missing(detail, source))


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for error details."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def url_problem(value: str, *, web: bool) -> str | None:
    """Why `value` is not an acceptable absolute URL, or None if it is.

    web=True (resources the server or a provider fetches, webhooks): http/https with a host.
    web=False (links a recipient opens): any absolute URI with a scheme, e.g. tel: or viber:.
    """
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "must be a URL without whitespace or control characters"
    scheme, sep, rest = value.partition(":")
    if not sep or not _SCHEME.fullmatch(scheme) or not rest:
        return "must be an absolute URL, e.g. https://example.com/path"
    if not web:
        return None
    if scheme.lower() not in ("http", "https"):
        return f"must be an http or https URL, not {scheme}:"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return "must be a well-formed URL (check the host and port)"
    if not parts.hostname:
        return "must be an absolute http or https URL with a host, e.g. https://example.com/dlr"
    return None


class Node:
    """One JSON object being validated; see the module docstring."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: Problems) -> None:
        self.data = data
        self.path = path
        self.p = problems
        self.out: dict[str, Any] = {}

    # -- basics ------------------------------------------------------------------------------

    def at(self, key: str) -> str:
        return join(self.path, key)

    def present(self, key: str) -> bool:
        return self.data.get(key) is not None

    def invalid(self, key: str | None, detail: str) -> None:
        self.p.invalid(self.path if key is None else self.at(key), detail)

    def missing(self, key: str | None, detail: str) -> None:
        self.p.missing(self.path if key is None else self.at(key), detail)

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            self.missing(key, f"{key} is required")
        return value

    def _wrong_type(self, key: str, expected: str, value: object) -> None:
        self.invalid(key, f"{key} must be {expected}, got {json_type(value)}")

    # -- scalars -----------------------------------------------------------------------------

    def string(
        self,
        key: str,
        *,
        required: bool = False,
        min_len: int = 1,
        max_len: int = DEFAULT_MAX_LEN,
        choices: Sequence[str] | None = None,
    ) -> str | None:
        """A string; with `choices`, one of them exactly (case-sensitive)."""
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            self._wrong_type(key, "a string", value)
            return None
        if choices is not None:
            if value not in choices:
                self.invalid(key, f"{key} must be one of {', '.join(choices)}")
                return None
        elif len(value) < min_len:
            self.invalid(
                key,
                f"{key} must not be empty"
                if min_len == 1
                else f"{key} must be at least {min_len} characters long",
            )
            return None
        elif len(value) > max_len:
            self.invalid(key, f"{key} must be at most {max_len} characters long ({len(value)})")
            return None
        self.out[key] = value
        return value

    def url(
        self, key: str, *, required: bool = False, web: bool = True, max_len: int = URL_MAX_LEN
    ) -> str | None:
        """An absolute URL (see `url_problem` for `web`)."""
        value = self.string(key, required=required, max_len=max_len)
        if value is None:
            return None
        problem = url_problem(value, web=web)
        if problem is not None:
            self.invalid(key, f"{key} {problem}")
            del self.out[key]
            return None
        return value

    def boolean(self, key: str, *, required: bool = False) -> bool | None:
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, bool):
            self._wrong_type(key, "true or false", value)
            return None
        self.out[key] = value
        return value

    def integer(
        self,
        key: str,
        *,
        required: bool = False,
        min_value: int | None = None,
        max_value: int | None = None,
    ) -> int | None:
        """A JSON integer: not a boolean, not a float (even 5.0), not a numeric string."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self._wrong_type(key, "an integer", value)
            return None
        if not self._in_range(key, value, min_value, max_value):
            return None
        self.out[key] = value
        return value

    def number(
        self,
        key: str,
        *,
        required: bool = False,
        min_value: float | None = None,
        max_value: float | None = None,
    ) -> float | None:
        """A finite JSON number (integer or fraction), not a boolean."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._wrong_type(key, "a number", value)
            return None
        if not math.isfinite(value):
            self.invalid(key, f"{key} must be a finite number")
            return None
        if not self._in_range(key, value, min_value, max_value):
            return None
        self.out[key] = value
        return float(value)

    def _in_range(
        self, key: str, value: float, min_value: float | None, max_value: float | None
    ) -> bool:
        if min_value is not None and value < min_value:
            self.invalid(key, f"{key} must be at least {min_value}")
            return False
        if max_value is not None and value > max_value:
            self.invalid(key, f"{key} must be at most {max_value}")
            return False
        return True

    # -- containers --------------------------------------------------------------------------

    def child(self, key: str, *, required: bool = False) -> Node | None:
        """A nested object, as a Node whose cleaned `out` becomes `self.out[key]`."""
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self._wrong_type(key, "an object", value)
            return None
        node = Node(value, self.at(key), self.p)
        self.out[key] = node.out
        return node

    def array(
        self,
        key: str,
        *,
        required: bool = False,
        min_items: int = 0,
        max_items: int | None = None,
    ) -> list[Any] | None:
        """A JSON array with a bounded number of items (items unchecked)."""
        value = self._get(key, required)
        if value is None:
            return None
        if not isinstance(value, list):
            self._wrong_type(key, "an array", value)
            return None
        if len(value) < min_items:
            self.invalid(
                key,
                f"{key} must not be empty"
                if min_items == 1
                else f"{key} must have at least {min_items} entries ({len(value)} given)",
            )
            return None
        if max_items is not None and len(value) > max_items:
            self.invalid(key, f"{key} must have at most {max_items} entries ({len(value)} given)")
            return None
        return value

    def children(
        self,
        key: str,
        *,
        required: bool = False,
        min_items: int = 0,
        max_items: int | None = None,
    ) -> list[Node]:
        """An array of objects, as Nodes (empty when absent or rejected as a whole)."""
        items = self.array(key, required=required, min_items=min_items, max_items=max_items)
        if items is None:
            return []
        nodes: list[Node] = []
        for i, item in enumerate(items):
            path = f"{self.at(key)}[{i}]"
            if isinstance(item, Mapping):
                nodes.append(Node(item, path, self.p))
            else:
                self.p.invalid(path, f"each item of {key} must be an object, got {json_type(item)}")
        self.out[key] = [node.out for node in nodes]
        return nodes

    def string_map(
        self, key: str, *, required: bool = False, max_entries: int = 100
    ) -> dict[str, str] | None:
        """An object whose values are all strings (e.g. template parameters)."""
        node = self.child(key, required=required)
        if node is None:
            return None
        if len(node.data) > max_entries:
            self.invalid(key, f"{key} must have at most {max_entries} entries")
            return None
        for name in node.data:
            node.string(str(name), required=True, min_len=0)
        return dict(node.out)

    # -- combinations ------------------------------------------------------------------------

    def exactly_one(self, keys: Sequence[str], *, what: str) -> str | None:
        """Exactly one of `keys` present: none -> 106 on this object, several -> 105 on the 2nd."""
        given = [key for key in keys if self.present(key)]
        if not given:
            self.missing(None, f"{what} needs exactly one of: {', '.join(keys)}")
            return None
        if len(given) > 1:
            self.invalid(
                given[1], f"{what} takes only one of {', '.join(keys)}; got {', '.join(given)}"
            )
            return None
        return given[0]

    def at_most_one(self, keys: Sequence[str], *, what: str) -> str | None:
        given = [key for key in keys if self.present(key)]
        if len(given) > 1:
            self.invalid(
                given[1], f"{what} takes at most one of {', '.join(keys)}; got {', '.join(given)}"
            )
            return None
        return given[0] if given else None
