"""The scheduling extensions (issue 12; not part of the Messente API): list and inspect
omnimessages, reschedule one, and act on a batch.

Query parameters are parsed strictly (a repeated, unknown-valued or malformed one is 400 with
`source` naming it). The batch POSTs take a JSON object body (`{}`) with
`Content-Type: application/json`: a bodiless POST is a "simple" cross-site request that a web
page could send with a browser's cached Basic credentials, as body.py explains for send.
"""

from __future__ import annotations

import base64
import binascii
import uuid

from starlette.requests import Request
from starlette.responses import Response

from tidings.core.contract.lifecycle import BATCH_DETAIL, BATCH_FORM, LIST_STATES, BatchCounts
from tidings.core.errors import INVALID
from tidings.core.model import OmniState
from tidings.core.phone import normalise_msisdn
from tidings.core.strict_int import parse_int
from tidings.core.timeparse import parse_time_to_send
from tidings.store.schedule import ListQuery
from tidings.web.api.body import read_json
from tidings.web.api.schedule_serialize import (
    STATE_NAMES,
    detail_body,
    list_body,
    rescheduled_body,
)
from tidings.web.context import ApiContext, account_of
from tidings.web.errors import error, not_found
from tidings.web.responses import json_response

LIST_LIMIT_MAX = 1000
LIST_LIMIT_DEFAULT = 100
# The list's state names -> stored states (the inverse of STATE_NAMES).
_STORED = {v: k for k, v in STATE_NAMES.items()}
# States listed soonest first (by due time); the others newest first.
_BY_DUE = frozenset({OmniState.SCHEDULED, OmniState.PAUSED})


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def _omni_id(request: Request) -> str:
    raw = str(request.path_params["omnimessage_id"])
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise not_found() from None


def _param(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise error(400, INVALID, f"{name} may be given once", name)
    return values[0] if values else None


def _time_param(request: Request, name: str) -> int | None:
    raw = _param(request, name)
    if raw is None:
        return None
    # An unencoded "+" of an offset arrives as a space.
    raw = raw.replace(" ", "+")
    try:
        when = parse_time_to_send(raw)
    except ValueError as exc:
        raise error(400, INVALID, f"{name}: {exc}", name) from None
    return int(when.timestamp() * 1_000_000)


def encode_cursor(order: str, key: int, omni_id: str) -> str:
    raw = f"{order}:{key}:{omni_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> tuple[int, str]:
    """The (key, id) position a cursor of this `order` names; 400 (source `cursor`) otherwise."""
    bad = error(400, INVALID, "cursor is not a cursor of this listing (same state)", "cursor")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != order:
        raise bad
    key = parse_int(parts[1])
    try:
        omni_id = str(uuid.UUID(parts[2]))
    except ValueError:
        raise bad from None
    if key is None or omni_id != parts[2]:
        raise bad
    return key, omni_id


def _batch_tag(raw: str | None, source: str) -> str | None:
    if raw is None:
        return None
    if not BATCH_FORM.fullmatch(raw):
        raise error(400, INVALID, f"{source} {BATCH_DETAIL}", source)
    return raw


async def list_omnimessages(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    state_name = _param(request, "state")
    state: str | None = None
    if state_name is not None:
        if state_name not in LIST_STATES:
            raise error(400, INVALID, f"state must be one of {', '.join(LIST_STATES)}", "state")
        state = _STORED[state_name]
    order = "due" if state in _BY_DUE else "new"
    to = _param(request, "to")
    if to is not None:
        try:
            to = normalise_msisdn("+" + to[1:] if to.startswith(" ") else to)
        except ValueError as exc:
            raise error(400, INVALID, str(exc), "to") from None
    raw_limit = _param(request, "limit")
    limit = parse_int(raw_limit if raw_limit is not None else str(LIST_LIMIT_DEFAULT), 1)
    if limit is None or limit > LIST_LIMIT_MAX:
        detail = f"limit must be a whole number from 1 to {LIST_LIMIT_MAX}"
        raise error(400, INVALID, detail, "limit")
    cursor = _param(request, "cursor")
    q = ListQuery(
        account_id=account.id,
        order=order,
        state=state,
        after=decode_cursor(cursor, order) if cursor is not None else None,
        due_from_us=_time_param(request, "due_from"),
        due_until_us=_time_param(request, "due_until"),
        to=to,
        batch=_batch_tag(_param(request, "batch"), "batch"),
        limit=limit + 1,  # one more tells whether there is a next page
    )
    items = await ctx.store.schedule.page(q)
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = encode_cursor(
            order, last.due_us if order == "due" else last.created_us, last.id
        )
    return json_response(list_body(items, next_cursor), 200)


async def inspect_omnimessage(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    found = await ctx.store.schedule.inspect(account.id, _omni_id(request))
    if found is None:
        raise not_found()
    return json_response(detail_body(found), 200)


async def reschedule_omnimessage(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    omni_id = _omni_id(request)
    data = await read_json(request, ctx.settings.max_body_bytes)
    result = await ctx.engine.reschedule(account, omni_id, data)
    if result is None:
        raise not_found(
            "No waiting omnimessage with this id: it was already sent, or does not exist"
        )
    state, tts, due, moved_by = result
    return json_response(rescheduled_body(omni_id, state, tts, due, moved_by), 200)


def _tag(request: Request) -> str:
    tag = _batch_tag(str(request.path_params["tag"]), "tag")
    assert tag is not None
    return tag


async def _batch_request(request: Request) -> None:
    """The batch POSTs' body: a JSON object (its fields are ignored), see the module's note."""
    data = await read_json(request, 1024)
    if not isinstance(data, dict):
        raise error(400, INVALID, "The request body must be a JSON object, e.g. {}")


async def pause_batch(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    tag = _tag(request)
    await _batch_request(request)
    changed = await ctx.engine.pause_batch(account, tag)
    return json_response({"batch": tag, "changed": changed}, 200)


async def resume_batch(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    tag = _tag(request)
    raw = _param(request, "skip_missed")
    if raw not in (None, "true", "false"):
        raise error(400, INVALID, "skip_missed must be true or false", "skip_missed")
    await _batch_request(request)
    changed = await ctx.engine.resume_batch(account, tag, raw == "true")
    return json_response({"batch": tag, "changed": changed}, 200)


async def cancel_batch(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    tag = _tag(request)
    await _batch_request(request)
    changed = await ctx.engine.cancel_batch(account, tag)
    return json_response({"batch": tag, "changed": changed}, 200)


async def batch_counts(request: Request) -> Response:
    ctx = _ctx(request)
    account = await account_of(request)
    tag = _tag(request)
    stored = await ctx.store.schedule.batch_counts(account.id, tag)
    if not stored:
        raise not_found("No message with this batch tag")
    counts = dict.fromkeys(LIST_STATES, 0)
    for state, n in stored.items():
        counts[STATE_NAMES.get(state, state)] += n
    body: BatchCounts = {"batch": tag, "total": sum(counts.values()), "counts": counts}
    return json_response(body, 200)
