"""How the people's command line prints: tables for a terminal, JSON for scripts."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

WORKSPACE_COLUMNS = ("NAME", "STATUS", "TEMPLATE", "EXPIRES", "ID")


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def countdown(expires_at: str | None, now: datetime | None = None) -> str:
    """'in 2h 05m', 'expired', or '-' without a TTL."""
    moment = _moment(expires_at)
    if moment is None:
        return "-"
    left = int((moment - (now or datetime.now(UTC))).total_seconds())
    if left <= 0:
        return "expired"
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"in {days}d {hours:02d}h"
    if hours:
        return f"in {hours}h {minutes:02d}m"
    return f"in {minutes}m {seconds:02d}s"


def table(rows: list[tuple[str, ...]], headers: tuple[str, ...]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def workspace_rows(workspaces: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return [
        (
            w["name"],
            w["status"],
            w.get("template") or "-",
            countdown(w.get("expires_at")),
            w["id"][:8],
        )
        for w in workspaces
    ]


def describe_workspace(workspace: dict[str, Any]) -> str:
    info = workspace.get("connection_info") or {}
    cpus, memory = workspace.get("cpus") or "-", workspace.get("memory_mb") or "-"
    expires = workspace.get("expires_at")
    fields = [
        ("Name", workspace["name"]),
        ("Id", workspace["id"]),
        ("Status", workspace["status"]),
        ("Template", workspace.get("template") or "-"),
        ("Resources", f"{cpus} cpus, {memory} MB"),
        ("Repository", workspace.get("repo_url") or "-"),
        ("Expires", f"{expires or '-'} ({countdown(expires)})"),
        ("Created", workspace["created_at"]),
        ("Shell", info.get("ssh_command") or "-"),
    ]
    if workspace.get("error_message"):
        fields.append(("Error", workspace["error_message"]))
    width = max(len(name) for name, _ in fields)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in fields)


def err(message: str) -> None:
    print(f"vm-api: {message}", file=sys.stderr)
