"""Database URLs: `sqlite:///relative.db`, `sqlite:////absolute.db`, `postgresql://...`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///tidings.db"


class DatabaseUrlError(ValueError):
    """A --database URL this program cannot open."""


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    kind: str  # "sqlite" | "postgresql"
    url: str
    sqlite_path: Path | None = None

    @property
    def sqlalchemy_url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.sqlite_path}"
        rest = self.url.split("://", 1)[1]
        return f"postgresql+asyncpg://{rest}"

    @property
    def asyncpg_dsn(self) -> str:
        return "postgresql://" + self.url.split("://", 1)[1]


def parse_database_url(url: str) -> DatabaseUrl:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path:
            raise DatabaseUrlError("sqlite URL needs a file path: sqlite:///tidings.db")
        return DatabaseUrl("sqlite", url, Path(path).resolve())
    if url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
        return DatabaseUrl("postgresql", url)
    raise DatabaseUrlError(
        f"unsupported database URL {url!r}: use sqlite:///FILE or postgresql://USER@HOST/DB"
    )
