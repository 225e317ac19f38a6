"""The OpenAPI document of the real contract (placeholder replaced below)."""

from __future__ import annotations

from typing import Any


def openapi_document() -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "Tidings", "version": "0.1.0"}, "paths": {}}


def docs_html(doc: dict[str, Any]) -> str:
    return "<!doctype html><title>Tidings API</title><h1>Tidings API</h1>"
