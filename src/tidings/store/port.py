"""The base of the store's ports: each a small class over the backend's transaction runner."""

from __future__ import annotations

from tidings.store.tx import Runner


class Port:
    __slots__ = ("_db",)

    def __init__(self, db: Runner) -> None:
        self._db = db
