"""`vm-api ws trash|undelete|purge`: the trash from a person's shell (docs/trash.md)."""

from __future__ import annotations

import argparse
from typing import Any

from client.http import Api, ApiError
from client.output import print_json, table

TRASH_COLUMNS = ("NAME", "ID", "DELETED", "BY", "PURGED AFTER", "SIZE")


def trash_entry(api: Api, name_or_id: str) -> dict[str, Any]:
    """The caller's trash entry with this id, or the newest one with this name."""
    for entry in api.get("/trash")["items"]:
        if name_or_id in (entry["id"], entry["name"]):
            return entry  # type: ignore[no-any-return]
    raise ApiError(404, "NOT_FOUND", f"nothing in the trash named or with id {name_or_id!r}")


def _size(size: int | None) -> str:
    return "-" if size is None else f"{size / 1_000_000:.1f} MB"


def cmd_trash(api: Api, args: argparse.Namespace) -> int:
    entries = api.get("/trash")["items"]
    if args.json:
        print_json(entries)
    elif entries:
        rows = [
            (e["name"], e["id"], e["deleted_at"], e["deleted_by"] or "-", e["purge_after"],
             _size(e["size_bytes"]))
            for e in entries
        ]  # fmt: skip
        print(table(rows, TRASH_COLUMNS))
    else:
        print("the trash is empty")
    return 0


def undelete_request(api: Api, args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """Restore from the trash; returns what the API accepted and what to call it."""
    entry = trash_entry(api, args.workspace)
    body = {"name": args.rename} if args.rename else None
    accepted = api.post(f"/trash/{entry['id']}/restore", body)
    return accepted, f"undelete {entry['name']}"


def cmd_purge(api: Api, args: argparse.Namespace) -> int:
    entry = trash_entry(api, args.workspace)
    accepted = api.call("DELETE", f"/trash/{entry['id']}")
    if args.json:
        print_json(accepted)
    else:
        print(f"purge {entry['name']}: out of the trash; operation {accepted['operation_id']}")
    return 0
