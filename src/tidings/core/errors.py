"""The Messente error format (`{"errors":[{title, detail, code, source}]}`) as domain values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tidings.core.contract.responses import ErrorItemOmnichannel, ErrorOmnichannel

# Messente's title <-> code pairs; codes are strings on the wire.
NOT_FOUND = ("Not found", "101")
FORBIDDEN = ("Forbidden", "102")
UNAUTHORIZED = ("Unauthorized", "103")
INTERNAL = ("Internal Server Error", "104")
INVALID = ("Invalid data", "105")
MISSING = ("Missing data", "106")
METHOD_NOT_ALLOWED = ("Method not allowed", "107")
MAX_ERRORS = 20  # problems reported per omnimessage; the rest are left out
ERROR_PAIRS = (NOT_FOUND, FORBIDDEN, UNAUTHORIZED, INTERNAL, INVALID, MISSING, METHOD_NOT_ALLOWED)


@dataclass(frozen=True, slots=True)
class ErrorItem:
    title: str
    code: str
    detail: str
    source: str | None = None

    def to_json(self) -> ErrorItemOmnichannel:
        return {
            "title": self.title,
            "detail": self.detail,
            "code": self.code,
            "source": self.source,
        }


def invalid(detail: str, source: str | None) -> ErrorItem:
    return ErrorItem(INVALID[0], INVALID[1], detail, source)


def missing(detail: str, source: str | None) -> ErrorItem:
    return ErrorItem(MISSING[0], MISSING[1], detail, source)


class RequestInvalid(Exception):
    """Raised by validation with every problem found, each naming its field in `source`."""

    def __init__(self, errors: list[ErrorItem]) -> None:
        super().__init__("; ".join(f"{e.source}: {e.detail}" for e in errors))
        self.errors = errors


def errors_body(errors: list[ErrorItem]) -> ErrorOmnichannel:
    return {"errors": [e.to_json() for e in errors]}
