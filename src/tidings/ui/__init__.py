"""The web console: server-rendered pages over the engine and store (beside `api/`)."""

from tidings.ui.routes import console_routes

__all__ = ["console_routes"]
