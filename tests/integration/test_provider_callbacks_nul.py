"""Provider callbacks carrying a NUL character, on SQLite and PostgreSQL (which cannot store
one): acknowledged, never a 500; what cannot be ours is dropped, the rest is recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_http_connectors_telegram import ENV as TG_ENV
from tests.integration.test_http_connectors_telegram import config as tg_config
from tests.integration.test_http_connectors_whatsapp import ENV as WA_ENV
from tests.integration.test_http_connectors_whatsapp import TEXT
from tests.integration.test_http_connectors_whatsapp import config as wa_config
from tests.standins.gateway import gateway
from tests.standins.runner import Served
from tests.standins.telegram import TelegramStandin
from tests.standins.whatsapp import WhatsAppStandin

TO = "+37251000131"


@pytest.fixture
def wa() -> Iterator[tuple[WhatsAppStandin, str]]:
    standin = WhatsAppStandin()
    with Served(standin.app()) as url:
        yield standin, url


async def test_whatsapp_statuses_with_nul(
    tmp_path: Path, database_url: str, wa: tuple[WhatsAppStandin, str]
) -> None:
    standin, url = wa
    async with gateway(tmp_path, wa_config(url), WA_ENV, database_url) as gw:
        # A status for a message id holding a NUL cannot be about one of ours.
        r = await gw.callback("wa", *standin.status_callback("wamid.\x00x", "delivered", TO[1:]))
        assert r.status_code == 200, r.text
        # Nor one whose echo of our id holds one.
        echoed = standin.status_callback("wamid.x", "delivered", TO[1:], opaque="ours\x00")
        assert (await gw.callback("wa", *echoed)).status_code == 200
        # A failure whose error text holds one is recorded, the NUL replaced.
        omni = await gw.send(TO, TEXT)
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "ACK")
        wamid = standin.wamid_for(TO[1:])
        errors = [{"code": 131047, "title": "re-engage\x00", "message": "x"}]
        r = await gw.callback("wa", *standin.status_callback(wamid, "failed", TO[1:], errors))
        assert r.status_code == 200, r.text
        st = await gw.wait_status(omni, lambda s: s[0]["status"] == "UNDELIV")
        assert "re-engage\ufffd" in st[0]["error"], st


async def test_telegram_start_token_with_nul(tmp_path: Path, database_url: str) -> None:
    standin = TelegramStandin()
    with Served(standin.app()) as url:
        async with gateway(tmp_path, tg_config(url), TG_ENV, database_url) as gw:
            update = standin.update(standin.start_message(777002, "abc\x00def"))
            assert (await gw.callback("tg", *update)).status_code == 200
            assert await gw.store.providers.telegram_chat_ids("tg", [TO]) == {}
