"""How a declaration reports a problem: custom pydantic errors that map to Messente items.

`invalid(...)` becomes "Invalid data" (105) and `missing(...)` "Missing data" (106);
`raise_at` reports several problems at once, each at its own field below the current object.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

INVALID_TYPE = "tidings_invalid"
MISSING_TYPE = "tidings_missing"

Kind = Literal["invalid", "missing"]
Loc = tuple[str | int, ...]
Problem = tuple[Loc, Kind, str]

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*", re.ASCII)
_BLANK_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f]")  # \s: every str.isspace() character


def invalid(detail: str, *, keyed: str = "") -> PydanticCustomError:
    """An "Invalid data" error. With `keyed` (" " or ": "), the field's name and `keyed` are
    put before `detail`, for checks shared by many fields."""
    return PydanticCustomError(INVALID_TYPE, detail, {"keyed": keyed} if keyed else None)


def missing(detail: str) -> PydanticCustomError:
    return PydanticCustomError(MISSING_TYPE, detail)


def raise_at(title: str, problems: Sequence[Problem], data: Any) -> NoReturn:
    """Raise every problem at once, each at `loc` below the object being validated."""
    raise ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(
                type=invalid(text) if kind == "invalid" else missing(text),
                loc=loc,
                input=data,
            )
            for loc, kind, text in problems
        ],
    )


def url_problem(value: str, *, web: bool) -> str | None:
    """Why `value` is not an acceptable absolute URL, or None if it is.

    web=True (resources the server or a provider fetches, webhooks): http/https with a host.
    web=False (links a recipient opens): any absolute URI with a scheme, e.g. tel: or viber:.
    """
    if _BLANK_OR_CONTROL.search(value):
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
