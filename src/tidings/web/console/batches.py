"""The console's Batches page: each batch tag of the account with its counts per state, and
pause / resume / cancel buttons (CSRF-protected forms) that act on every waiting message of the
tag at once, through the engine as the API's batch endpoints do."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from tidings.core.contract.lifecycle import BATCH_DETAIL, BATCH_FORM
from tidings.web.console.session import csrf_ok

if TYPE_CHECKING:
    from tidings.web.console.routes import Console

# Columns of the page, in the lifecycle's order (stored state, heading).
COLUMNS = (
    ("scheduled", "Scheduled"),
    ("paused", "Paused"),
    ("processing", "Sending"),
    ("delivered", "Delivered"),
    ("failed", "Failed"),
    ("expired", "Expired"),
    ("cancelled", "Cancelled"),
)
ACTIONS = {
    "pause": "Paused {n} scheduled messages of {tag}.",
    "resume": "Resumed {n} paused messages of {tag} (any whose time passed are sent now).",
    "resume-skip": "Resumed {tag}: {n} messages changed; those whose time passed were cancelled.",
    "cancel": "Cancelled {n} waiting messages of {tag}.",
}


async def page(c: Console, request: Request) -> Response:
    v = await c.viewer(request)
    if v is None:
        return c.to_login(request)
    tag = request.query_params.get("tag", "").strip()
    error = None
    if tag and not BATCH_FORM.fullmatch(tag):
        error = f"A batch tag {BATCH_DETAIL}."
    found = {} if error else await c.ctx.store.console.batches(v.account.id, tag or None)
    rows = [
        (name, [counts.get(state, 0) for state, _ in COLUMNS], sum(counts.values()))
        for name, counts in found.items()
    ]
    notice = request.query_params.get("done")
    n = request.query_params.get("n", "")
    done_tag = request.query_params.get("batch", "")
    message = None
    if notice in ACTIONS and n.isdigit() and BATCH_FORM.fullmatch(done_tag):
        message = ACTIONS[notice].format(n=n, tag=done_tag)
    return c.page(
        request,
        "batches.html",
        {
            "rows": rows,
            "columns": [h for _, h in COLUMNS],
            "tag": tag,
            "error": error,
            "notice": message,
        },
        viewer=v,
    )


async def act(c: Console, request: Request) -> Response:
    v = await c.viewer(request)
    data = await c.form(request)
    if v is None:
        return c.to_login(request)
    if data is None or not csrf_ok(v.session, data.get("csrf")):
        return c.refused(request, v)
    tag = str(request.path_params["tag"])
    action = str(request.path_params["action"])
    if not BATCH_FORM.fullmatch(tag) or action not in ACTIONS:
        return c.not_found(request, v, "batch")
    engine = c.ctx.engine
    if action == "pause":
        n = await engine.pause_batch(v.account, tag)
    elif action == "cancel":
        n = await engine.cancel_batch(v.account, tag)
    else:
        n = await engine.resume_batch(v.account, tag, skip_missed=action == "resume-skip")
    query = urlencode({"done": action, "n": n, "batch": tag})
    return RedirectResponse(f"/batches?{query}", 303)
