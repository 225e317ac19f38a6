"""Validation of `POST /v1/omnimessage` and `POST /v1/omnimessages` bodies (pure, no I/O).

The bodies are checked against the contract models (`tidings.core.contract`) and every problem
found is reported at once (up to `MAX_ERRORS`), each with the precise field in `source`:
"Missing data" (106) for a required field that is absent or null, "Invalid data" (105) for
everything else. A body that is not a JSON object has source null (or, for a bulk item, the item's
own path). Unknown fields are ignored and dropped from the result; null in an optional field means
absent. Rules that relate several fields of one object are checked once its fields are valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from tidings.core.contract.channels import ENVELOPE_KEYS, ChannelMessage
from tidings.core.contract.inbound import SandboxInbound
from tidings.core.contract.lifecycle import Reschedule
from tidings.core.contract.omnimessage import MAX_CHANNEL_MESSAGES, BulkOmnimessage, Omnimessage
from tidings.core.contract.phonebook import NumberToBlacklist
from tidings.core.contract.problems import INVALID_TYPE, MISSING_TYPE
from tidings.core.errors import MAX_ERRORS, ErrorItem, RequestInvalid, invalid, missing
from tidings.core.model import CHANNELS, ChannelRequest, Limits, OmnimessageRequest

__all__ = [
    "MAX_CHANNEL_MESSAGES",
    "MAX_ERRORS",
    "validate_bulk",
    "validate_number_to_blacklist",
    "validate_omnimessage",
    "validate_reschedule",
]

_OMNIMESSAGE = TypeAdapter(Omnimessage)
_BULK = TypeAdapter(BulkOmnimessage)
_RESCHEDULE = TypeAdapter(Reschedule)
_NUMBER_TO_BLACKLIST = TypeAdapter(NumberToBlacklist)
_ENVELOPE = set(ENVELOPE_KEYS)


def validate_omnimessage(
    data: object, *, now: datetime, limits: Limits, prefix: str = ""
) -> OmnimessageRequest:
    """Validate one omnimessage; raise RequestInvalid listing every problem found.

    `now` decides whether `time_to_send` is too far ahead (a naive `now` is taken as UTC).
    `prefix` is prepended to every source, e.g. ``messages[3].`` gives ``messages[3].to``.
    A `time_to_send` that is now or past is kept as given: the engine sends it at once.
    """
    path = prefix.removesuffix(".")
    try:
        model = _OMNIMESSAGE.validate_python(data, context={"now": now, "limits": limits})
    except ValidationError as exc:
        whole = "an omnimessage" if path else "the request body"
        raise RequestInvalid(error_items(exc, path, whole)) from None
    return OmnimessageRequest(
        to=model.to,
        messages=tuple(_channel_request(message, limits) for message in model.messages),
        time_to_send=model.time_to_send,
        dlr_url=model.dlr_url,
        text_store=model.text_store or "plaintext",
        priority=model.priority or "regular",
        quiet_hours=model.quiet_hours,
        quiet_hours_given="quiet_hours" in model.model_fields_set,
        batch=model.batch,
    )


def validate_reschedule(data: object, *, now: datetime, limits: Limits) -> datetime:
    """Validate a reschedule body (`{"time_to_send": ...}`): the new time, aware, UTC, with the
    same forms and horizon as `time_to_send` on send; RequestInvalid otherwise."""
    try:
        model = _RESCHEDULE.validate_python(data, context={"now": now, "limits": limits})
    except ValidationError as exc:
        raise RequestInvalid(error_items(exc, "", "the request body")) from None
    return model.time_to_send


def validate_number_to_blacklist(data: object) -> str:
    """Validate a Phonebook blacklist add body (`{"phoneNumber": ...}`): the number in E.164;
    RequestInvalid (source `phoneNumber`) otherwise."""
    try:
        model = _NUMBER_TO_BLACKLIST.validate_python(data)
    except ValidationError as exc:
        raise RequestInvalid(error_items(exc, "", "the request body")) from None
    return model.phone_number


def validate_bulk(
    data: object, *, now: datetime, limits: Limits
) -> list[OmnimessageRequest | RequestInvalid]:
    """Validate a bulk envelope ``{"messages": [omnimessage, ...]}``.

    A bad envelope (not an object, `messages` missing, not an array, empty, or longer than
    `limits.max_bulk`) raises RequestInvalid for the whole request. Otherwise each item is
    validated on its own, with sources prefixed ``messages[i].``, and the result holds, in order,
    either the validated request or the RequestInvalid describing that item.
    """
    try:
        envelope = _BULK.validate_python(data, context={"now": now, "limits": limits})
    except ValidationError as exc:
        raise RequestInvalid(error_items(exc, "", "the request body")) from None
    results: list[OmnimessageRequest | RequestInvalid] = []
    for i, item in enumerate(envelope.messages):
        try:
            results.append(
                validate_omnimessage(item, now=now, limits=limits, prefix=f"messages[{i}].")
            )
        except RequestInvalid as exc:
            results.append(exc)
    return results


def _channel_request(message: ChannelMessage, limits: Limits) -> ChannelRequest:
    if message.validity is not None:
        validity_s = message.validity * 60
    elif message.ttl is not None:
        validity_s = message.ttl
    else:
        validity_s = limits.default_validity_s
    return ChannelRequest(
        channel=message.channel,
        sender=message.sender,
        validity_s=validity_s,
        content=message.model_dump(exclude_none=True, exclude=_ENVELOPE),
    )


# -- pydantic errors -> Messente error items -----------------------------------------------------


def error_items(exc: ValidationError, path: str, whole: str) -> list[ErrorItem]:
    """The first `MAX_ERRORS` problems of `exc` as error items with sources under `path`.

    `whole` names the validated value in a detail when it is not even an object.
    """
    return [_item(err, path, whole) for err in exc.errors(include_url=False)[:MAX_ERRORS]]


def _item(err: ErrorDetails, path: str, whole: str) -> ErrorItem:
    loc = _without_tag(err["loc"])
    kind, value = err["type"], err.get("input")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        source = _source(path, (*loc, "channel"))
        tag = value.get("channel") if isinstance(value, Mapping) else None
        if tag is None:
            return missing("channel is required", source)
        return invalid(f"channel must be one of {', '.join(CHANNELS)}", source)
    source = _source(path, loc)
    key = next((part for part in reversed(loc) if isinstance(part, str)), "")
    if kind == MISSING_TYPE:
        return missing(err["msg"], source)
    if kind == "missing" or (value is None and loc and isinstance(loc[-1], str)):
        return missing(f"{key} is required", source)
    return invalid(_detail(err, loc, key, whole), source)


def _without_tag(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """Drop the union member's name pydantic puts after ``messages[i]``."""
    if len(loc) > 2 and loc[0] == "messages" and isinstance(loc[1], int) and loc[2] in CHANNELS:
        return (*loc[:2], *loc[3:])
    return loc


def _source(path: str, loc: tuple[int | str, ...]) -> str | None:
    out = path
    for part in loc:
        out = f"{out}[{part}]" if isinstance(part, int) else f"{out}.{part}" if out else part
    return out or None


_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "an array",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
}


def _detail(err: ErrorDetails, loc: tuple[int | str, ...], key: str, whole: str) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == INVALID_TYPE:
        keyed = ctx.get("keyed")
        return f"{key}{keyed}{err['msg']}" if keyed else err["msg"]
    if kind in _EXPECTED:
        if not loc:
            return f"{whole} must be a JSON object, got {json_type(value)}"
        what = key if isinstance(loc[-1], str) else f"each item of {key}"
        return f"{what} must be {_EXPECTED[kind]}, got {json_type(value)}"
    if kind == "string_too_short":
        low = ctx["min_length"]
        return (
            f"{key} must not be empty"
            if low == 1
            else f"{key} must be at least {low} characters long"
        )
    if kind == "string_too_long":
        return f"{key} must be at most {ctx['max_length']} characters long ({len(str(value))})"
    if kind == "too_short":
        low, got = ctx["min_length"], ctx["actual_length"]
        return (
            f"{key} must not be empty"
            if low == 1
            else f"{key} must have at least {low} entries ({got} given)"
        )
    if kind == "too_long":
        return f"{key} must have at most {ctx['max_length']} entries ({ctx['actual_length']} given)"
    if kind == "literal_error":
        return f"{key} must be one of {ctx['expected']}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{key} must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{key} must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "finite_number":
        return f"{key} must be a finite number"
    return f"{key}: {err['msg']}" if key else err["msg"]


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


_SANDBOX_INBOUND = TypeAdapter(SandboxInbound)


def validate_sandbox_inbound(data: object) -> SandboxInbound:
    """Validate a sandbox reply (`{"from", "channel", "text"}`); RequestInvalid otherwise."""
    try:
        return _SANDBOX_INBOUND.validate_python(data)
    except ValidationError as exc:
        raise RequestInvalid(error_items(exc, "", "the request body")) from None
