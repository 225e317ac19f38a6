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

# The Phonebook API's own pairs (`ErrorPhonebook`; messente-api's ErrorTitlePhonebook and
# ErrorCodePhonebook): another numbering than the Omnichannel one above.
PB_INVALID = ("Invalid data", "201")
PB_UNAUTHORIZED = ("Unauthorized", "202")
PB_MISSING = ("Missing resource", "203")
PB_CONFLICT = ("Conflict", "204")
PB_CLIENT = ("Client error", "244")
PB_GENERAL = ("General error", "205")
PHONEBOOK_PAIRS = (PB_INVALID, PB_UNAUTHORIZED, PB_MISSING, PB_CONFLICT, PB_CLIENT, PB_GENERAL)
_PHONEBOOK_BY_STATUS = {
    400: PB_INVALID,
    413: PB_INVALID,
    415: PB_INVALID,
    422: PB_INVALID,
    401: PB_UNAUTHORIZED,
    404: PB_MISSING,
    409: PB_CONFLICT,
}


def phonebook_pair(status: int) -> tuple[str, str]:
    """The Phonebook title and code for an error answer's HTTP status."""
    return _PHONEBOOK_BY_STATUS.get(status, PB_CLIENT if status < 500 else PB_GENERAL)


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
