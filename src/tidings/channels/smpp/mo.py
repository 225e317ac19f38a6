"""Mobile-originated SMS: the parts of a concatenated message kept until all have come, then
joined and decoded (core/sms_decoding.py). Parts that never complete are given up after
`MAX_WAIT_S`; at most `MAX_PENDING` messages wait at once (the oldest is dropped)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from tidings.core.sms_decoding import MoPart, decode_body

log = logging.getLogger("tidings.channels.smpp")

MAX_WAIT_S = 600.0
MAX_PENDING = 10_000

Key = tuple[str, str, int, int]  # source, destination, reference, total


@dataclass(slots=True)
class _Waiting:
    started: float
    data_coding: int
    parts: dict[int, bytes] = field(default_factory=dict)


class Reassembler:
    def __init__(self) -> None:
        self._waiting: OrderedDict[Key, _Waiting] = OrderedDict()

    def add(self, source: str, destination: str, part: MoPart, now: float) -> str | None:
        """The whole message's text once this part completes it (a single part at once); None
        while parts are missing."""
        self._expire(now)
        if part.concat is None:
            return decode_body(part.data_coding, part.body)
        c = part.concat
        key = (source, destination, c.ref, c.total)
        waiting = self._waiting.get(key)
        if waiting is None:
            waiting = self._waiting[key] = _Waiting(now, part.data_coding)
            while len(self._waiting) > MAX_PENDING:
                self._waiting.popitem(last=False)
                log.warning("action=smpp_mo_parts_dropped reason=too_many_pending")
        waiting.parts[c.seq] = part.body
        if len(waiting.parts) < c.total:
            return None
        del self._waiting[key]
        body = b"".join(waiting.parts[i] for i in range(1, c.total + 1))
        return decode_body(waiting.data_coding, body)

    @property
    def pending(self) -> int:
        return len(self._waiting)

    def _expire(self, now: float) -> None:
        while self._waiting:
            key, oldest = next(iter(self._waiting.items()))
            if now - oldest.started < MAX_WAIT_S:
                return
            del self._waiting[key]
            log.warning("action=smpp_mo_parts_expired parts=%d", len(oldest.parts))
