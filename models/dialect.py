"""The few pieces of SQL that differ between SQLite and PostgreSQL, in one place.

Everything else the models write by hand is portable: Pony turns `$name` parameters into
each driver's placeholders, and both engines compare a timestamp column with the text
`records.sql_time()` writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from models.store import active, on_postgres

_WORKSPACE_FIELDS = (
    ("id", "id"), ("name", "name"), ("owner", "owner"), ("repo_url", "repo_url"),
    ("template", "template"), ("provider", "provider"), ("status", "status"),
    ("created_at", "@created_at"), ("updated_at", "@updated_at"),
    ("ttl_seconds", "ttl_seconds"), ("expires_at", "@expires_at"),
    ("metadata", "{metadata"), ("provider_id", "provider_id"),
    ("connection_info", "{connection_info"), ("error_message", "error_message"),
    ("cpus", "cpus"), ("memory_mb", "memory_mb"), ("repo_ref", "repo_ref"),
    ("schedule", "{schedule"), ("idle_timeout_seconds", "idle_timeout_seconds"),
    ("last_activity_at", "@last_activity_at"), ("host", "host"),
    ("host_unreachable", "host_unreachable"),
)  # fmt: skip
# "@column": a time, shown as records.rfc3339() writes it; "{column": JSON kept in a text column


def _sqlite_value(spec: str) -> str:
    if spec.startswith("@"):
        # Pony's stored text 'YYYY-MM-DD HH:MM:SS.ffffff' cut to milliseconds
        column = spec[1:]
        return (
            f"CASE WHEN {column} IS NULL THEN NULL"
            f" ELSE substr({column}, 1, 10) || 'T' || substr({column}, 12, 12) || 'Z' END"
        )
    if spec.startswith("{"):
        return f"json({spec[1:]})"
    return spec


def _postgres_value(spec: str) -> str:
    if spec.startswith("@"):
        return f"""to_char({spec[1:]}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""
    if spec.startswith("{"):
        return f"{spec[1:]}::json"
    return spec


def _workspace_json(value: Any, build: str, cast: str) -> str:
    pairs = ", ".join(f"'{key}', {value(spec)}" for key, spec in _WORKSPACE_FIELDS)
    return f"{build}({pairs}){cast}"


# The workspace JSON built by the database (in C): the API's hottest reads skip building
# Python objects and serializing them. Same shape as WorkspaceRecord.to_json(); a test holds
# the two together.
_SQLITE_WORKSPACE_JSON = _workspace_json(_sqlite_value, "json_object", "")
_POSTGRES_WORKSPACE_JSON = _workspace_json(_postgres_value, "json_build_object", "::text")


def workspace_json() -> str:
    """An SQL expression: the row of `workspaces` as the API's workspace JSON text."""
    return _POSTGRES_WORKSPACE_JSON if on_postgres() else _SQLITE_WORKSPACE_JSON


def execute_many(sql: str, rows: Iterable[Sequence[Any]]) -> None:
    """executemany on the session's connection, `?` placeholders on both engines."""
    if on_postgres():
        sql = sql.replace("?", "%s")
    active().db.get_connection().cursor().executemany(sql, list(rows))
