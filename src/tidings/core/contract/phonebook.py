"""The Phonebook blacklist's contract (Messente's `BlacklistApi`): the add request, the list
answer and the Phonebook error body, whose title/code pairs differ from the Omnichannel ones."""

from __future__ import annotations

from typing import Annotated

from annotated_types import Len
from pydantic import Field
from typing_extensions import TypedDict

from tidings.core.contract.responses import OneOf
from tidings.core.contract.rules import Wire
from tidings.core.contract.types import Recipient
from tidings.core.errors import PHONEBOOK_PAIRS

_E164 = (
    "Phone number in international format: `+` and digits, or digits starting with the country "
    "code (no spaces, punctuation, `0` or `00` prefix); stored and answered in E.164 with a "
    "leading `+`, as recipients are on send."
)


class NumberToBlacklist(Wire):
    """A number to add to the account's blacklist."""

    phone_number: Recipient = Field(
        alias="phoneNumber", description=_E164, examples=["+37251234567"]
    )

    __examples__ = ({"phoneNumber": "+37251234567"},)


class FetchBlacklistSuccess(TypedDict):
    """The account's blacklisted numbers, oldest first."""

    phoneNumbers: Annotated[list[str], Field(description="E.164 numbers, each once.")]


class ErrorItemPhonebook(TypedDict):
    """One Phonebook error. Codes are strings: "201" Invalid data (also for a body that is not
    JSON, too large, or not `application/json`), "202" Unauthorized, "203" Missing resource
    (not listed), "204" Conflict (already listed; an `Idempotency-Key` still in use), "244"
    Client error (another refusal, e.g. too many requests), "205" General error."""

    title: Annotated[
        str, OneOf(tuple(t for t, _ in PHONEBOOK_PAIRS)), Field(description="Paired with `code`.")
    ]
    detail: Annotated[str, Field(description="What is wrong, for humans.")]
    code: Annotated[
        str, OneOf(tuple(c for _, c in PHONEBOOK_PAIRS)), Field(description="A string.")
    ]
    source: Annotated[
        str | None,
        Field(
            description="Tidings extension (Messente's Phonebook errors have none; the official "
            "clients keep it as an extra property): the offending field or parameter, e.g. "
            "`phoneNumber` or `phone`; null when the whole request is meant."
        ),
    ]


class ErrorPhonebook(TypedDict):
    """The error body of every non-2xx Phonebook answer."""

    errors: Annotated[list[ErrorItemPhonebook], Len(1), Field(description="The problems found.")]
