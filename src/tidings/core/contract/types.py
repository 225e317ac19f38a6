"""Field types shared by the request models: each is a constraint a JSON schema states plus,
where a schema cannot say it all, the one hand-written check behind it.

`Checked` attaches such a check (and the schema keywords that describe it) to a type; a check
that goes beyond what its schema keywords say is named in the schema's `x-server-check`, so
the document itself tells where a schema-valid body can still be refused;
`UpToLimit` bounds a number or a list by a configurable `Limits` value, read from the
validation context at run time and published with its default in the OpenAPI document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from annotated_types import Len
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from tidings.core.contract.problems import invalid, url_problem
from tidings.core.model import Limits
from tidings.core.phone import SHAPE, normalise_msisdn
from tidings.core.quiet_hours import QUIET_HOURS_PATTERN, QuietHours, QuietHoursInvalid
from tidings.core.timeparse import DATE_TIME, parse_time_to_send
from tidings.core.validation_sender import (
    RCS_SENDER_FORMS,
    SENDER_FORMS,
    rcs_sender_problem,
    sender_problem,
)

DEFAULT_MAX_LEN = 4096  # cap for free strings that have no documented limit
SHORT_MAX = 255  # ours: mime types, file names, component types, ids
LANGUAGE_CODE_MAX = 20  # ours: "en", "pt_BR", "zh_Hant_TW"
URL_MAX_LEN = 2048
SERVER_CHECK = "x-server-check"  # schema extension: what the server checks beyond the schema
DEFAULTS = Limits()  # what the published document states; the server may be configured otherwise


def ecma(*forms: re.Pattern[str]) -> str:
    """Python regexes used with fullmatch, as one anchored ECMA-262 pattern (no named groups)."""
    return "|".join("^(?:" + re.sub(r"\?P<\w+>", "", form.pattern) + ")$" for form in forms)


SHAPE_PATTERN = ecma(SHAPE)
TIME_PATTERN = ecma(DATE_TIME)
SENDER_PATTERN = ecma(*SENDER_FORMS)
RCS_SENDER_PATTERN = ecma(*RCS_SENDER_FORMS)


@dataclass(frozen=True)
class Checked:
    """A hand-written check run after the type's own validation, and how the schema shows it.

    `check` returns the accepted (possibly normalised) value or raises `problems.invalid`;
    `beyond` says what it checks that `schema` cannot (None when `schema` says it all).
    """

    check: Callable[[Any], Any]
    schema: dict[str, Any] = field(default_factory=dict)
    beyond: str | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out.update(self.schema)
        if self.beyond is not None:
            out[SERVER_CHECK] = self.beyond
        return out

    def __hash__(self) -> int:
        return id(self)


def limits_of(info: ValidationInfo) -> Limits:
    """The `limits` of the validation context (`Limits()` when validated without one)."""
    context = info.context
    return context["limits"] if context else DEFAULTS


def now_of(info: ValidationInfo) -> datetime:
    """The `now` of the validation context, aware (a naive one is UTC)."""
    context = info.context
    now: datetime = context["now"] if context else datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


@dataclass(frozen=True)
class UpToLimit:
    """At most `Limits.<limit> // per`: a number's value, or a list's length.

    `detail` may name {top} (the bound) and {minutes} / {seconds} (the limit itself).
    """

    limit: str
    per: int = 1
    detail: str = "must be at most {top}"

    def maximum(self, limits: Limits) -> int:
        value: int = getattr(limits, self.limit)
        return value // self.per

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.with_info_after_validator_function(self._check, handler(source))

    def _check(self, value: Any, info: ValidationInfo) -> Any:
        limits = limits_of(info)
        top = self.maximum(limits)
        size = len(value) if isinstance(value, list) else value
        if size > top:
            total: int = getattr(limits, self.limit)
            detail = self.detail.format(top=top, minutes=total // 60, seconds=total, size=size)
            raise invalid(detail, keyed=" ")
        return value

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["maxItems" if out.get("type") == "array" else "maximum"] = self.maximum(DEFAULTS)
        return out


def _url(web: bool) -> Callable[[str], str]:
    def check(value: str) -> str:
        problem = url_problem(value, web=web)
        if problem is not None:
            raise invalid(problem, keyed=" ")
        return value

    return check


def _e164(value: str) -> str:
    try:
        return normalise_msisdn(value)
    except ValueError as exc:
        raise invalid(str(exc)) from None


def _time(value: str) -> str:
    try:
        parse_time_to_send(value)
    except ValueError as exc:
        raise invalid(str(exc), keyed=": ") from None
    return value


def _rule(problem: Callable[[str], str | None]) -> Callable[[str], str]:
    def check(value: str) -> str:
        text = problem(value)
        if text is not None:
            raise invalid(text)
        return value

    return check


def matches(pattern: str, detail: str) -> Checked:
    """A string matching `pattern` (fullmatch); `detail` says what is wrong otherwise."""
    regex = re.compile(pattern, re.ASCII)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            raise invalid(detail, keyed=" ")
        return value

    return Checked(check, {"pattern": ecma(regex)})


def _time_to_send(value: str, info: ValidationInfo) -> datetime:
    """`time_to_send`: the time rules (DESIGN.md sections 1-2) with the server's horizon."""
    try:
        when = parse_time_to_send(value)
    except ValueError as exc:
        raise invalid(str(exc), keyed=": ") from None
    now = now_of(info)
    horizon = timedelta(seconds=limits_of(info).max_schedule_ahead_s)
    if when - now > horizon:
        span = (
            f"{horizon.days} days"
            if horizon.seconds == 0 and horizon.microseconds == 0
            else f"{int(horizon.total_seconds())} seconds"
        )
        latest = (now + horizon).astimezone(UTC).isoformat(timespec="seconds")
        raise invalid(f"is too far ahead: at most {span} from now (latest {latest})", keyed=" ")
    return when


class _TimeToSend:
    """The str-to-datetime conversion of `time_to_send`, shown as a pattern-checked string."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.with_info_after_validator_function(
            _time_to_send, core_schema.str_schema(strict=True)
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": TIME_PATTERN, SERVER_CHECK: _TIME_BEYOND + _HORIZON}


_URL_BEYOND = "an absolute URL without whitespace"
_WEB_BEYOND = _URL_BEYOND + ", http or https, with a host and a valid port"
_E164_BEYOND = "a possible number for its country code (libphonenumber)"
_TIME_BEYOND = "a real date and time, offset under 24 hours"
_HORIZON = "; at most the server's max_schedule_ahead from now"

Text = Annotated[str, Len(1, DEFAULT_MAX_LEN)]
Short = Annotated[str, Len(1, SHORT_MAX)]
Url = Annotated[str, Len(1, URL_MAX_LEN), Checked(_url(web=True), {"format": "uri"}, _WEB_BEYOND)]
"""An absolute http or https URL with a host (fetched by the server or a provider)."""
Link = Annotated[str, Len(1, URL_MAX_LEN), Checked(_url(web=False), {"format": "uri"}, _URL_BEYOND)]
"""An absolute URI with any scheme (https:, tel:, viber:, ...), opened by the recipient."""
Recipient = Annotated[str, Len(1, 32), Checked(_e164, {"pattern": SHAPE_PATTERN}, _E164_BEYOND)]
PhoneNumber = Annotated[
    str, Len(1, SHORT_MAX), Checked(_e164, {"pattern": SHAPE_PATTERN}, _E164_BEYOND)
]
TimeText = Annotated[
    str, Len(1, SHORT_MAX), Checked(_time, {"pattern": TIME_PATTERN}, _TIME_BEYOND)
]
TimeToSend = Annotated[datetime, _TimeToSend]


def _quiet_hours(value: str) -> str:
    try:
        return str(QuietHours.parse(value))
    except QuietHoursInvalid as exc:
        raise invalid(str(exc), keyed=" ") from None


QuietHoursText = Annotated[
    str,
    Len(1, 32),
    Checked(_quiet_hours, {"pattern": QUIET_HOURS_PATTERN}, "two different times"),
]
"""A daily local-time window `HH:MM-HH:MM` (see `tidings.core.quiet_hours`)."""
Sender = Annotated[
    str, Len(1, SHORT_MAX), Checked(_rule(sender_problem), {"pattern": SENDER_PATTERN})
]
RcsSender = Annotated[
    str, Len(1, SHORT_MAX), Checked(_rule(rcs_sender_problem), {"pattern": RCS_SENDER_PATTERN})
]


@dataclass(frozen=True)
class Refused:
    """A field a model does not take: only null (= absent) is accepted; anything else is 105."""

    detail: str

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self._check)

    def _check(self, value: Any) -> None:
        if value is not None:
            raise invalid(self.detail)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "null", "description": self.detail}


@dataclass(frozen=True)
class IntegerOrDigits:
    """An integer, or a string of 1-18 digits with an optional minus (bool and 1.5 refused)."""

    detail: str
    digits: re.Pattern[str] = re.compile(r"-?[0-9]{1,18}", re.ASCII)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self._check)

    def _check(self, value: Any) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and self.digits.fullmatch(value):
            return value
        raise invalid(self.detail)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": ["integer", "string"], "pattern": ecma(self.digits)}
