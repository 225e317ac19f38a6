"""Message ids: version-7 UUIDs (core/ids.py)."""

from __future__ import annotations

import time
import uuid

from tidings.core.ids import new_id


def test_ids_are_version_7_uuids_with_the_creation_time_first() -> None:
    before_ms = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(2000)]
    after_ms = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids:
        u = uuid.UUID(text)
        assert str(u) == text  # canonical lower-case form, as a client sees a Messente id
        assert u.version == 7 and u.variant == uuid.RFC_4122
        assert before_ms <= u.int >> 80 <= after_ms


def test_ids_of_later_milliseconds_sort_after_earlier_ones() -> None:
    first = new_id()
    later = new_id()
    while later[:13] == first[:13]:  # the same millisecond (its 48 bits: 12 hex digits and "-")
        later = new_id()
    assert first < later  # text order is time order: index inserts land at the right edge
