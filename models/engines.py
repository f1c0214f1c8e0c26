"""Which database engine holds the data: the embedded SQLite file, or PostgreSQL.

VM_API_DATABASE_URL (`postgresql://user[:password]@host[:port]/db[?schema=name]`) moves the
data to PostgreSQL; without it the SQLite file at VM_API_DB_PATH is used as before. `schema`
(the one query parameter we read, as yoyo does) puts every table in that schema: several
deployments, or a test run per schema, can share one database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")


class DatabaseURLError(ValueError):
    """VM_API_DATABASE_URL cannot be used; the message says why."""


@dataclass(frozen=True)
class PostgresTarget:
    """What psycopg2 (Pony's postgres provider, peewee, yoyo) needs to connect."""

    url: str = field(repr=False)  # as given, password included: never logged (see `shown`)
    host: str
    port: int
    database: str
    user: str | None
    password: str | None = field(repr=False)
    schema: str | None = None

    @property
    def connect_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {"host": self.host, "port": self.port, "dbname": self.database}
        if self.user:
            kwargs["user"] = self.user
        if self.password:
            kwargs["password"] = self.password
        if self.schema:
            kwargs["options"] = f"-c search_path={self.schema}"
        return kwargs

    @property
    def yoyo_url(self) -> str:
        """yoyo reads `?schema=` itself; everything else it takes from the URL as it is."""
        return "postgresql" + self.url[self.url.index(":") :]

    @property
    def shown(self) -> str:
        """For messages: the URL without its password."""
        user = f"{self.user}@" if self.user else ""
        schema = f"?schema={self.schema}" if self.schema else ""
        return f"postgresql://{user}{self.host}:{self.port}/{self.database}{schema}"


def parse_database_url(url: str) -> PostgresTarget:
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise DatabaseURLError(f"must be a postgresql:// URL, got {parts.scheme or url!r}")
    database = unquote(parts.path.lstrip("/"))
    if not database or "/" in database:
        raise DatabaseURLError("names no database (postgresql://user@host:5432/db)")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"schema"})
    if unknown:
        raise DatabaseURLError(f"unknown parameter {unknown[0]!r} (only 'schema' is read)")
    schema = query.get("schema", [None])[-1] or None
    if schema is not None and not schema.replace("_", "").isalnum():
        raise DatabaseURLError(f"schema {schema!r}: letters, digits and _ only")
    try:
        port = parts.port or 5432
    except ValueError:
        raise DatabaseURLError("has a port that is not a number") from None
    return PostgresTarget(
        url=url,
        host=parts.hostname or "127.0.0.1",
        port=port,
        database=database,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        schema=schema,
    )


DatabaseTarget = Path | PostgresTarget
