"""The web console: server-rendered pages over the engine and store (beside `api/`)."""

from tidings.web.console.routes import console_routes

__all__ = ["console_routes"]
