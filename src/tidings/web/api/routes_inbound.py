"""`POST /v1/sandbox/inbound`: a recipient's reply, simulated (Tidings extension, issue 13).

The reply takes the path of a real inbound message (`engine.callbacks.receive`): stored, shown
in the console's conversation, forwarded to the account's inbound URL.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from tidings.core.contract.inbound import InboundMessageBody
from tidings.core.inbound import StoredInbound
from tidings.core.report_payload import iso_us
from tidings.core.validation import validate_sandbox_inbound
from tidings.web.api.body import read_json
from tidings.web.context import ApiContext, account_of
from tidings.web.responses import json_response
from tidings.web.strict_json import refuse_nul

MAX_BODY_BYTES = 64 * 1024


def inbound_message(s: StoredInbound) -> InboundMessageBody:
    m = s.message
    return {
        "msg_id": s.id,
        "sub_msg_id": s.id,
        "channel": m.channel,
        "recipient": m.recipient,
        "time": iso_us(m.at_us),
        "text": m.text,
        "sender": m.sender,
        "connector": s.connector,
        "content": m.content,
        "opt_out": "out" if s.opt_out == "out" else "in" if s.opt_out == "in" else None,
    }


async def sandbox_inbound(request: Request) -> Response:
    ctx: ApiContext = request.app.state.ctx
    account = await account_of(request)
    data = await read_json(request, MAX_BODY_BYTES)
    refuse_nul(data)
    reply = validate_sandbox_inbound(data)
    stored = await ctx.engine.sandbox_reply(account, reply.from_, reply.channel, reply.text)
    return json_response(inbound_message(stored), 201)
