"""Finding a workspace by name or id, and waiting for an operation to finish."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from client.http import Api, ApiError

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
FINISHED = ("success", "failed", "cancelled")


def list_workspaces(api: Api, status: str | None = None) -> list[dict[str, Any]]:
    """Every page of the caller's workspaces."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 100, "status": status, "cursor": cursor}
        response = api.response("GET", "/workspaces", params={k: v for k, v in params.items() if v})
        found.extend(response.json())
        link = response.headers.get("Link", "")
        match = re.search(r"cursor=([^&>]+)", link)
        if not match:
            return found
        cursor = match.group(1)


def resolve(api: Api, name_or_id: str) -> dict[str, Any]:
    """The workspace called `name_or_id`, or with that id; ApiError 404 if there is none."""
    if UUID_RE.match(name_or_id):
        try:
            return api.get(f"/workspaces/{name_or_id}")  # type: ignore[no-any-return]
        except ApiError as exc:
            if exc.status != 404:
                raise
    for workspace in list_workspaces(api):
        if workspace["name"] == name_or_id:
            return workspace
    raise ApiError(404, "NOT_FOUND", f"no workspace named or with id {name_or_id!r}")


def wait_for_operation(
    api: Api, workspace_id: str, operation_id: str, say: Callable[[str], None]
) -> dict[str, Any]:
    """Follow the workspace's events until the operation finishes; its progress lines go to
    `say`. The operation is read again once the stream is open, so that an end that came
    before the stream opened is not missed, and at each heartbeat, so that a lost event
    costs one heartbeat's wait rather than the whole wait."""
    seen_lines: set[str] = set()
    try:
        for event in api.events(f"/workspaces/{workspace_id}/events"):
            if event["event"] in ("open", "heartbeat"):
                operation = api.get(f"/operations/{operation_id}")
                if operation["status"] in FINISHED:
                    return operation  # type: ignore[no-any-return]
                continue
            data = event["data"]
            if data.get("operation", {}).get("id") != operation_id:
                continue
            line = data.get("line")
            if line and line not in seen_lines:
                seen_lines.add(line)
                say(line)
            if data["status"] in FINISHED:
                return data["operation"]  # type: ignore[no-any-return]
    except ApiError as exc:
        # A delete that ended before the stream opened leaves no workspace to stream: the
        # operation itself still answers.
        if exc.status != 404:
            raise
    return api.get(f"/operations/{operation_id}")  # type: ignore[no-any-return]


def progress_to_stderr(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)
