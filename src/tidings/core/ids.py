"""Message ids: UUIDs whose leading bits are the creation time (RFC 9562 version 7).

A message's id keys every row written about it: its omnimessage and channel messages, its
timer and its event log rows. Random (version 4) ids scatter those index inserts over the whole
B-tree, one page each; time-ordered ids put a moment's messages side by side at the index's
right edge, so a commit writes fewer pages. They are still UUIDs to a client, with 74 random
bits: as unguessable as the 122 of version 4 for anything an API scoped to one account allows.
(Python 3.14's `uuid.uuid7` is the same layout.)
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION = 0x7 << 76
_VARIANT = 0x2 << 62


def new_id() -> str:
    """A fresh version-7 UUID as text: 48 bits of Unix milliseconds, then 74 random bits."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits; 74 are kept
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | _VERSION
        | ((rand >> 62) & 0xFFF) << 64
        | _VARIANT
        | (rand & 0x3FFF_FFFF_FFFF_FFFF)
    )
    return str(uuid.UUID(int=value))
