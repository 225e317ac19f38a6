"""`_HeadWithBody`: an answer's head and body leave in one write (logic, on a recording
transport; tests/e2e/test_http_answers.py reads real answers off a socket)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from tidings.http_server import _HeadWithBody


class _Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> Any:
        return f"info:{name}"


def _wrap() -> tuple[_HeadWithBody, _Recording]:
    t = _Recording()
    return _HeadWithBody(cast(asyncio.Transport, t), asyncio.get_running_loop()), t


async def test_head_and_body_are_one_write() -> None:
    w, t = _wrap()
    w.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
    assert t.writes == []
    w.write(b"{}")
    assert t.writes == [b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}"]
    w.write(b"more")  # later writes go straight through
    assert t.writes[-1] == b"more"
    await asyncio.sleep(0)
    assert len(t.writes) == 2


async def test_a_head_alone_leaves_at_the_end_of_the_loop_turn() -> None:
    w, t = _wrap()
    w.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n")  # HEAD: no body follows
    await asyncio.sleep(0)
    assert t.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"]


async def test_100_continue_is_not_held() -> None:
    w, t = _wrap()
    w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert t.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    w.write(b"HTTP/1.1 201 Created\r\n\r\n")
    w.write(b"x")
    assert t.writes[1:] == [b"HTTP/1.1 201 Created\r\n\r\nx"]


async def test_close_sends_a_held_head_first_and_other_calls_pass_through() -> None:
    w, t = _wrap()
    w.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    w.close()
    assert t.writes == [b"HTTP/1.1 204 No Content\r\n\r\n"] and t.closed
    assert w.is_closing()
    assert w.get_extra_info("peername") == "info:peername"
    await asyncio.sleep(0)
    assert len(t.writes) == 1
