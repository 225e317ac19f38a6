"""Drive a Tidings server with the official Python client `messente-api` 2.5.2 (API 2.0.0).

That generation knows Telegram but not RCS, and cannot be installed next to 2.7.0, so the e2e
tests run this script in a subprocess with the 2.5.2 directory first on PYTHONPATH:

    PYTHONPATH=DIR python v252_scenario.py HOST USERNAME PASSWORD [TO]

HOST includes `/v1`. It prints one JSON object with what the client returned (or raised) for
every step; the test asserts on it. Anything the client fails to parse ends the script with a
traceback and a non-zero exit, which the test reports.
"""

from __future__ import annotations

import datetime as dt
import enum
import importlib.metadata
import json
import sys
import time
from typing import Any

import messente_api
from messente_api import (
    ApiClient,
    Configuration,
    DeliveryReportApi,
    Omnimessage,
    OmnimessageApi,
    OmnimessageMessagesInner,
    Telegram,
)
from messente_api.exceptions import (
    ApiException,
    BadRequestException,
    NotFoundException,
    UnauthorizedException,
)
from messente_api.models.sms import SMS

EXPECTED_VERSION = "2.5.2"
FINAL = {"DELIVRD", "UNDELIV", "FAILED", "REJECTD", "EXPIRED", "NACK", "DELETED", "SEEN"}


def plain(value: Any) -> Any:
    """A JSON-ready copy of a client model dump: enums to values, datetimes to ISO text."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if hasattr(value, "to_dict"):
        return plain(value.to_dict())
    return value


def error_of(exc: ApiException) -> dict[str, Any]:
    return {
        "exception": type(exc).__name__,
        "status": exc.status,
        "body": exc.body,
        "data_type": type(exc.data).__name__ if exc.data is not None else None,
    }


def make(*messages: Any, to: str, time_to_send: dt.datetime | None = None) -> Omnimessage:
    return Omnimessage(
        to=to,
        messages=[OmnimessageMessagesInner(m) for m in messages],
        time_to_send=time_to_send,
    )


def main() -> None:
    host, username, password = sys.argv[1:4]
    to = sys.argv[4] if len(sys.argv) > 4 else "+37251234567"

    version = messente_api.__version__
    metadata_version = importlib.metadata.version("messente-api")
    assert version == EXPECTED_VERSION, f"imported messente_api {version}, not {EXPECTED_VERSION}"
    assert metadata_version == EXPECTED_VERSION, f"metadata says {metadata_version}"
    out: dict[str, Any] = {
        "version": version,
        "metadata_version": metadata_version,
        "module_file": messente_api.__file__,
        "has_telegram": hasattr(messente_api, "Telegram"),
        "has_rcs": hasattr(messente_api, "Rcs"),
    }

    cfg = Configuration(host=host, username=username, password=password)
    with ApiClient(cfg) as client:
        omni = OmnimessageApi(client)
        reports = DeliveryReportApi(client)

        def status(omnimessage_id: str) -> dict[str, Any]:
            report = reports.retrieve_delivery_report(omnimessage_id)
            assert type(report).__name__ == "DeliveryReportResponse", type(report)
            return {
                "omnimessage_id": report.omnimessage_id,
                "to": report.to,
                "statuses": [
                    {
                        "status": plain(r.status),
                        "channel": plain(r.channel),
                        "message_id": r.message_id,
                        "sender": r.sender,
                        "err": plain(r.err),
                        "error": r.error,
                        "timestamp": plain(r.timestamp),
                    }
                    for r in report.statuses
                ],
            }

        def wait_first_final(omnimessage_id: str, timeout: float = 3.0) -> dict[str, Any]:
            deadline = time.monotonic() + timeout
            while True:
                report = status(omnimessage_id)
                first = report["statuses"][0]["status"] if report["statuses"] else None
                if first in FINAL or time.monotonic() > deadline:
                    return report
                time.sleep(0.05)

        sends = {
            "telegram_text": make(Telegram(text="Hello from Telegram"), to=to),
            "telegram_image": make(
                Telegram(text="Look at this", image_url="https://example.com/cat.png"), to=to
            ),
            "sms": make(SMS(text="Hello by SMS", sender="Tidings252"), to=to),
            "telegram_then_sms": make(
                Telegram(text="Chain: Telegram first", validity=5),
                SMS(text="Chain: SMS second"),
                to=to,
            ),
        }
        out["sends"] = {}
        for name, message in sends.items():
            response = omni.send_omnimessage(message)
            assert type(response).__name__ == "OmniMessageCreateSuccessResponse", type(response)
            out["sends"][name] = {
                "response": plain(response),
                "status": wait_first_final(response.omnimessage_id),
            }

        # Scheduled an hour ahead (a naive datetime is UTC), then cancelled, twice.
        later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=1)
        response = omni.send_omnimessage(
            make(Telegram(text="Later"), SMS(text="Later by SMS"), to=to, time_to_send=later)
        )
        scheduled: dict[str, Any] = {"response": plain(response)}
        scheduled["status_before"] = status(response.omnimessage_id)
        scheduled["cancel"] = omni.cancel_scheduled_message(response.omnimessage_id)
        scheduled["status_after"] = status(response.omnimessage_id)
        scheduled["cancel_again"] = omni.cancel_scheduled_message(response.omnimessage_id)
        out["scheduled"] = scheduled

        # Cancelling a message that was already sent: 404.
        try:
            omni.cancel_scheduled_message(out["sends"]["sms"]["response"]["omnimessage_id"])
            out["cancel_sent"] = {"exception": None}
        except NotFoundException as exc:
            out["cancel_sent"] = error_of(exc)

        # Telegram allows at most one of image_url / document_url / audio_url: 400.
        try:
            omni.send_omnimessage(
                make(
                    Telegram(
                        text="two files",
                        image_url="https://example.com/a.png",
                        document_url="https://example.com/a.pdf",
                    ),
                    to=to,
                )
            )
            out["bad_request"] = {"exception": None}
        except BadRequestException as exc:
            out["bad_request"] = error_of(exc)

    bad_cfg = Configuration(host=host, username=username, password=password + "-wrong")
    with ApiClient(bad_cfg) as client:
        try:
            OmnimessageApi(client).send_omnimessage(make(Telegram(text="nope"), to=to))
            out["unauthorized"] = {"exception": None}
        except UnauthorizedException as exc:
            out["unauthorized"] = error_of(exc)

    print(json.dumps(out))


if __name__ == "__main__":
    main()
