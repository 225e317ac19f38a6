"""The OpenAPI operations of the Phonebook blacklist (routes_phonebook.py). Their schemas come
from core/contract/phonebook.py; paths, operation ids and codes are Messente's."""

from __future__ import annotations

from typing import Any

from tidings.core.contract import phonebook as pb
from tidings.core.contract.omnimessage import REF_TEMPLATE

__all__ = ["SCHEMA_MODELS", "phonebook_paths"]

SCHEMA_MODELS: tuple[Any, ...] = (
    pb.NumberToBlacklist,
    pb.FetchBlacklistSuccess,
    pb.ErrorPhonebook,
    pb.ErrorItemPhonebook,
)

TAG = "Blacklist"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def _err(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("ErrorPhonebook")}},
    }


_NO_CONTENT = {"description": "Done (no body)."}
_UNAUTHORIZED = _err("Missing or wrong credentials (`Unauthorized` 202).")
_PHONE = {
    "name": "phone",
    "in": "path",
    "required": True,
    "description": "The number, as on add (E.164; URL-encode the `+` as `%2B`). Not a possible "
    "number → 400 (`Invalid data` 201, `source` `phone`).",
    "schema": {"type": "string", "examples": ["+37251234567"]},
}


def phonebook_paths() -> dict[str, Any]:
    return {
        "/v1/phonebook/blacklist": {
            "get": {
                "operationId": "fetchBlacklist",
                "tags": [TAG],
                "summary": "The account's blacklisted numbers",
                "description": "Every number the account never sends to, oldest first.",
                "responses": {
                    "200": {
                        "description": "The numbers.",
                        "content": {"application/json": {"schema": _ref("FetchBlacklistSuccess")}},
                    },
                    "401": _UNAUTHORIZED,
                },
            },
            "post": {
                "operationId": "addToBlacklist",
                "tags": [TAG],
                "summary": "Blacklist a number",
                "description": "From now on, every message of this account to the number is "
                "refused when it is due to be sent, including those already scheduled: each of "
                "its channels ends `REJECTD` with err 8 (reported as any status), nothing is "
                "sent and there is no fallback. The send itself is still accepted (201).",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NumberToBlacklist")}},
                },
                "responses": {
                    "204": _NO_CONTENT,
                    "400": _err(
                        "Not a JSON object, or a missing or impossible `phoneNumber` (`Invalid "
                        "data` 201, `source` `phoneNumber`)."
                    ),
                    "401": _UNAUTHORIZED,
                    "409": _err("Already in the blacklist (`Conflict` 204)."),
                    "413": _err("The body is larger than 4096 bytes (`Invalid data` 201)."),
                    "415": _err("The body is not `application/json` (`Invalid data` 201)."),
                },
            },
        },
        "/v1/phonebook/blacklist/{phone}": {
            "parameters": [_PHONE],
            "get": {
                "operationId": "isBlacklisted",
                "tags": [TAG],
                "summary": "Is a number blacklisted?",
                "responses": {
                    "204": {"description": "Listed."},
                    "400": _err("Not a possible number (`source` `phone`)."),
                    "401": _UNAUTHORIZED,
                    "404": _err("Not listed (`Missing resource` 203)."),
                },
            },
            "delete": {
                "operationId": "deleteFromBlacklist",
                "tags": [TAG],
                "summary": "Remove a number from the blacklist",
                "responses": {
                    "204": _NO_CONTENT,
                    "400": _err("Not a possible number (`source` `phone`)."),
                    "401": _UNAUTHORIZED,
                    "404": _err("Not listed (`Missing resource` 203)."),
                },
            },
        },
    }
