"""Drive a Tidings server's Phonebook blacklist with the official client `messente-api` 2.5.2.

    PYTHONPATH=DIR python v252_blacklist.py HOST USERNAME PASSWORD NUMBER

HOST includes `/v1`. Adds NUMBER, adds it again, lists, checks, deletes, checks and deletes again,
then tries a wrong password; prints one JSON object with what the client returned or raised for
each step (errors as the client's own `ErrorPhonebook` model parsed them). Anything the client
cannot parse ends the script with a traceback and a non-zero exit.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from collections.abc import Callable
from typing import Any

from messente_api import ApiClient, BlacklistApi, Configuration, NumberToBlacklist
from messente_api.exceptions import ApiException
from messente_api.models.error_phonebook import ErrorPhonebook


def outcome(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        value = call()
    except ApiException as exc:
        assert isinstance(exc.data, ErrorPhonebook), (exc.status, exc.body)
        items = [
            {"title": e.title.value, "code": e.code.value, "detail": e.detail}
            for e in exc.data.errors
        ]
        return {"status": exc.status, "errors": items}
    if value is not None and hasattr(value, "to_dict"):
        value = value.to_dict()
    return {"status": "ok", "value": value}


def main(host: str, username: str, password: str, number: str) -> None:
    api = BlacklistApi(ApiClient(Configuration(host=host, username=username, password=password)))
    wrong = BlacklistApi(ApiClient(Configuration(host=host, username=username, password="nope")))
    steps = {
        "add": outcome(lambda: api.add_to_blacklist(NumberToBlacklist(phone_number=number))),
        "add_again": outcome(lambda: api.add_to_blacklist(NumberToBlacklist(phone_number=number))),
        "list": outcome(api.fetch_blacklist),
        "check": outcome(lambda: api.is_blacklisted(number)),
        "delete": outcome(lambda: api.delete_from_blacklist(number)),
        "check_after": outcome(lambda: api.is_blacklisted(number)),
        "delete_again": outcome(lambda: api.delete_from_blacklist(number)),
        "list_after": outcome(api.fetch_blacklist),
        "unauthorized": outcome(wrong.fetch_blacklist),
    }
    print(json.dumps({"version": importlib.metadata.version("messente-api"), "steps": steps}))


if __name__ == "__main__":
    main(*sys.argv[1:5])
