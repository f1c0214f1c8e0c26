"""`vm-api tasks`: the operator's view of the queue, on the server (not the people's CLI).

vm-api tasks                          overview: queue depth, running now, the last hour
vm-api tasks pending|scheduled|running|recent [--task NAME] [--limit N]
vm-api tasks show ID                  a task id or an operation id: everything known
vm-api tasks revoke ID [--by NAME]    a task that has not started never runs
vm-api tasks retry OPERATION_ID       a failed or cancelled operation gets a new attempt

Every one takes --json. Exit codes: 0 done, 1 refused or not found, 2 bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from datetime import datetime
from typing import Any

from models.errors import NotFound
from models.settings import Settings

WIDTH = 80
ACTIONS = ("pending", "scheduled", "running", "recent", "show", "revoke", "retry")


def add_tasks_parser(sub: Any) -> None:
    parser = sub.add_parser("tasks", help="inspect and steer the task queue (operators)")
    parser.add_argument("action", nargs="?", choices=ACTIONS, help="default: the overview")
    parser.add_argument("id", nargs="?", help="task or operation id (show, revoke, retry)")
    parser.add_argument("--task", help="only tasks of this name, e.g. provision_workspace")
    parser.add_argument("--limit", type=int, default=20, help="rows at most (default 20)")
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")
    parser.add_argument(
        "--watch", nargs="?", type=float, const=2.0, metavar="SECONDS", help="refresh the overview"
    )
    parser.add_argument("--by", help="who revokes or retries (default: $USER)")


# -- formatting (pure functions: tests/service/test_task_commands.py) ---------------------


def clock(stamp: str | None) -> str:
    """'2026-12-02T15:04:11.123Z' -> '15:04:11' (UTC)."""
    return stamp[11:19] if stamp else "-"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f}s"
    if value < 120:
        return f"{value:.0f}s"
    if value < 7200:
        return f"{int(value // 60)}m{int(value % 60):02d}s"
    return f"{int(value // 3600)}h{int(value % 3600 // 60):02d}m"


def short(value: str | None, width: int) -> str:
    text = "-" if value in (None, "") else str(value)
    return text if len(text) <= width else text[: max(width - 1, 0)] + "~"


def short_id(value: str | None) -> str:
    """The first 8 characters, as git shortens hashes; --json has the whole id."""
    return value[:8] if value else "-"


def task_label(name: str) -> str:
    return name.removesuffix("_workspace")


def table(headers: list[str], widths: list[int], rows: list[list[str]]) -> str:
    """Fixed columns; the last one takes what is left of 80 columns."""
    last = WIDTH - sum(widths) - len(widths)
    widths = [*widths, max(last, 4)]
    lines = []
    for row in [headers, *rows]:
        cells = [short(cell, w).ljust(w) for cell, w in zip(row, widths, strict=True)]
        lines.append(" ".join(cells).rstrip())
    return "\n".join(lines)


def task_table(state: str, rows: list[dict[str, Any]]) -> str:
    when = {"pending": "ENQUEUED", "scheduled": "DUE"}.get(state, "STARTED")
    # a task waiting has no error yet; where it waits is the news (a Docker host's queue)
    queued = state in ("pending", "scheduled")
    last = "HOST" if queued else "ERROR"
    headers = ["TASK", "TASK_ID", "WORKSPC", "OPERATN", when, "DUR", "OUTCOME", "RT", last]
    widths = [16, 8, 8, 8, 8, 6, 9, 2]
    body = []
    for r in rows:
        moment = r["due_at"] if state == "scheduled" else r["enqueued_at"] or r["started_at"]
        if state in ("running", "recent"):
            moment = r["started_at"]
        body.append(
            [
                task_label(r["task"]),
                short_id(r["task_id"]),
                short_id(r["workspace_id"]),
                short_id(r["operation_id"]),
                clock(moment),
                seconds(r["duration"]),
                r["outcome"],
                str(r["retries"]),
                (r.get("host") or "-") if queued else r["error"],
            ]
        )
    if not body:
        return f"no {state} tasks"
    return table(headers, widths, body)


def overview_text(data: dict[str, Any]) -> str:
    oldest = data["oldest_pending_seconds"]
    lines = [
        f"queue      pending {data['pending']}   scheduled {data['scheduled']}"
        f"   oldest pending {seconds(oldest) if oldest is not None else '-'}",
    ]
    if not data["history"]:
        lines.append(f"history    none yet ({short(data['history_path'], 60)})")
        return "\n".join(lines)
    hour = data["last_hour"]
    lines.append(
        f"last hour  completed {hour['completed']}   failed {hour['failed']}"
        f"   retried {hour['retried']}   revoked {hour['revoked']}"
    )
    recent = data["per_minute"][-10:]
    lines.append(
        f"per minute {data['throughput_per_minute']} (hour average); last 10 min, oldest first:"
        f" {' '.join(str(n) for n in recent)}"
    )
    lines.append(f"running    {len(data['running'])}")
    for r in data["running"][:10]:
        lines.append(f"  {short(r['task'], 24):24} {r['task_id'][:8]}  for {seconds(r['seconds'])}")
    lines.append(f"history    {data['history_bytes'] // 1024} KiB")
    return "\n".join(short(line, WIDTH) for line in lines)


def show_text(data: dict[str, Any]) -> str:
    lines = [f"id         {data['id']}", f"task ids   {', '.join(data['task_ids']) or '-'}"]
    op = data["operation"]
    if op:
        lines += [
            f"operation  {op['id']} {op['operation_type']} {op['status']}"
            f" (attempts {op['attempts']})",
            f"workspace  {op['workspace_id']}",
            f"requested  {op['requested_by']} at {op['started_at']}"
            + (f" ({op['reason']})" if op["reason"] else ""),
            f"completed  {op['completed_at'] or '-'}",
        ]
    if data["revoked"]:
        lines.append(f"revoked    {', '.join(data['revoked'])}")
    if data["running"]:
        lines.append("state      running now")
    if data["error"]:
        lines.append(f"error      {data['error'].strip().splitlines()[0]}")
    lines.append("events")
    for e in data["events"]:
        lines.append(
            f"  {clock(e['at'])} {short(e['task'], 20):20} {e['task_id'][:8]} "
            f"{e['signal']:10} {seconds(e['duration']):>6}"
            + (f"  {e['error'].splitlines()[0]}" if e["error"] else "")
        )
    if not data["events"]:
        lines.append("  none recorded (not run yet, or older than the retention)")
    return "\n".join(short(line, WIDTH) for line in lines)


# -- the command ---------------------------------------------------------------------------


def _print(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def _fail(args: argparse.Namespace, code: str, message: str) -> int:
    if args.json:
        print(json.dumps({"error": message, "code": code}))
    print(f"vm-api tasks: {message}", file=sys.stderr)
    return 1


def _operator(args: argparse.Namespace) -> str:
    return args.by or os.environ.get("USER") or getpass.getuser()


def cmd_tasks(settings: Settings, args: argparse.Namespace) -> int:
    from models.store import open_store
    from models.task_control import Refused
    from tasks.inspection import TaskView
    from tasks.queue import configure_queue

    if settings.database is None and not settings.db_path.exists():
        print(f"vm-api tasks: no database at {settings.db_path}", file=sys.stderr)
        return 1
    open_store(settings.data_target)
    configure_queue(settings)
    view = TaskView(settings)
    action = args.action
    if action in ("show", "revoke", "retry") and not args.id:
        print(f"vm-api tasks {action}: an id is required", file=sys.stderr)
        return 2
    if args.limit < 1:
        print("vm-api tasks: --limit must be 1 or more", file=sys.stderr)
        return 2
    try:
        if action is None:
            return _overview(view, args)
        if action == "show":
            data = view.show(args.id)
            if data is None:
                return _fail(args, "NOT_FOUND", f"no task or operation {args.id}")
            _print(args, data, show_text(data))
        elif action == "revoke":
            data = view.revoke(args.id, _operator(args))
            _print(args, data, _revoked_text(data))
        elif action == "retry":
            data = view.retry(args.id, _operator(args))
            op = data["operation"]
            text = f"retrying {args.id} as operation {op['id']} (task {', '.join(op['task_ids'])})"
            _print(args, data, text)
        else:
            rows = view.list_tasks(action, args.task, args.limit)
            _print(args, rows, task_table(action, rows))
    except Refused as exc:
        return _fail(args, exc.code, str(exc))
    except (NotFound, LookupError):
        return _fail(args, "NOT_FOUND", f"no task or operation {args.id}")
    return 0


def _revoked_text(data: dict[str, Any]) -> str:
    op = data["operation"]
    what = f"; operation {op['id']} is {op['status']} ({op['error']})" if op else ""
    return f"revoked task {', '.join(data['revoked'])}{what}"


def _overview(view: Any, args: argparse.Namespace) -> int:
    if args.watch is None:
        data = view.overview()
        _print(args, data, overview_text(data))
        return 0
    try:
        while True:
            data = view.overview()
            if args.json:
                print(json.dumps(data), flush=True)
            else:
                stamp = datetime.now().strftime("%H:%M:%S")
                sys.stdout.write("\x1b[H\x1b[2J" + f"vm-api tasks  {stamp}\n" + overview_text(data))
                sys.stdout.write("\n")
                sys.stdout.flush()
            time.sleep(args.watch)
    except (KeyboardInterrupt, BrokenPipeError):  # Ctrl-C, or the reader (head, less) left
        return 0
