"""What the operator sees of the queue: one set of queries for `vm-api tasks` and the admin API.

Live state comes from huey's storage (pending, scheduled, revoked), history from huey's monitor
(tasks/history.py: events and in-flight tasks), and the operation behind a task from the
database (a task's argument is its operation id; an operation lists its task ids).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import peewee
from huey import signals as S
from huey.api import Task
from huey.contrib.stats import HueyEvent as Event
from pony.orm import db_session

import tasks.worker  # noqa: F401  (registers every task, so that queued ones deserialize)
from models.hosts import host_names
from models.reads import OPERATION_COLUMNS, operation_from_row
from models.records import OperationRecord
from models.settings import Settings
from models.store import active
from models.task_control import Refused, cancel_operation, retry_operation, running_message
from models.task_ids import operation_of_task
from models.workspaces import Limits
from tasks.dispatch import enqueue_operation
from tasks.history import TaskHistory, history_location, history_size_bytes, open_task_history
from tasks.queue import huey, pending_by_host

STATES = ("pending", "scheduled", "running", "recent")
# A run of a task ends with one of these (huey.contrib.stats TERMINAL, by another name).
RUN_ENDS = sorted(
    {
        S.SIGNAL_COMPLETE,
        S.SIGNAL_ERROR,
        S.SIGNAL_RETRYING,
        S.SIGNAL_REVOKED,
        S.SIGNAL_EXPIRED,
        S.SIGNAL_CANCELED,
        S.SIGNAL_INTERRUPTED,
        S.SIGNAL_LOCKED,
        S.SIGNAL_TIMEOUT,
        S.SIGNAL_RATE_LIMITED,
    }
)
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# With a --task filter, at most this many queued tasks are read to find `limit` matching ones.
FILTER_SCAN = 2000


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0] if text and text.strip() else None


def short_name(task: str) -> str:
    return task.rsplit(".", 1)[-1]


def operation_id_in(args: str | None) -> str | None:
    """The operation id in captured arguments ("('<uuid>',) {}")."""
    match = UUID.search(args or "")
    return match.group(0) if match else None


@db_session
def _operations(ids: set[str]) -> dict[str, OperationRecord]:
    if not ids:
        return {}
    marks = ", ".join(f"$id{i}" for i in range(len(ids)))
    params = {f"id{i}": value for i, value in enumerate(sorted(ids))}
    rows = active().db.select(
        f"SELECT {OPERATION_COLUMNS} FROM operations WHERE id IN ({marks})", {}, params
    )
    return {row[0]: operation_from_row(row) for row in rows}


def _timestamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.replace(tzinfo=UTC).timestamp()


def _waiting(scheduled: bool, limit: int) -> list[tuple[str | None, Task]]:
    """Up to `limit` tasks from the queue (or the schedule) of the shared queue and of each
    Docker host's, with the host. huey deserializes every task it reads: no more than needed."""
    found: list[tuple[str | None, Task]] = []
    for host in [None, *host_names()]:
        storage = huey.storage_for(host)
        items = storage.scheduled_items(limit) if scheduled else storage.enqueued_items(limit)
        found.extend((host, huey.deserialize_task(item)) for item in items)
    return found


@dataclass
class TaskView:
    settings: Settings
    _history: TaskHistory | None = field(default=None, init=False)

    @property
    def history(self) -> TaskHistory | None:
        if self._history is None:
            self._history = open_task_history(huey, self.settings)
        return self._history

    # -- rows --------------------------------------------------------------------------------

    def _row(self, task: str, task_id: str, operation: OperationRecord | None) -> dict[str, Any]:
        return {
            "task": short_name(task),
            "task_id": task_id,
            "workspace_id": operation.workspace_id if operation else None,
            "operation_id": operation.id if operation else None,
            "operation_status": operation.status if operation else None,
            "enqueued_at": None,
            "due_at": None,
            "started_at": None,
            "duration": None,
            "outcome": None,
            "retries": 0,
            "error": None,
        }

    def _queued(self, scheduled: bool, task: str | None, limit: int) -> list[dict[str, Any]]:
        found_on = _waiting(scheduled, limit if task is None else max(limit, FILTER_SCAN))
        if task is not None:
            found_on = [(h, t) for h, t in found_on if type(t).__name__ == short_name(task)]
        found_on = found_on[:limit]
        found = [t for _, t in found_on]
        ops = _operations({t.args[0] for t in found if t.args and isinstance(t.args[0], str)})
        rows = []
        for host, t in found_on:
            op = ops.get(t.args[0]) if t.args else None
            row = self._row(type(t).__name__, t.id, op)
            row["outcome"] = "scheduled" if scheduled else "pending"
            row["host"] = host  # the Docker host whose queue holds it (None: the shared one)
            if op is not None:
                row["enqueued_at"] = iso(_timestamp(op.started_at))
            if t.eta is not None:
                row["due_at"] = iso(t.eta.replace(tzinfo=UTC).timestamp())
            rows.append(row)
        return self._with_retries(rows)

    def _executing_args(self, task_ids: list[str]) -> dict[str, str]:
        if self.history is None or not task_ids:
            return {}
        query = Event.select(Event.task_id, Event.args).where(
            Event.task_id.in_(task_ids), Event.signal == S.SIGNAL_EXECUTING
        )
        return {task_id: args for task_id, args in query.tuples()}

    def _running(self, task: str | None, limit: int) -> list[dict[str, Any]]:
        if self.history is None:
            return []
        inflight = [r for r in self.history.inflight() if task is None or r["task"] == task]
        inflight = inflight[:limit]
        args = self._executing_args([r["id"] for r in inflight])
        op_ids = {operation_id_in(args.get(r["id"])) for r in inflight} - {None}
        ops = _operations(op_ids)  # type: ignore[arg-type]
        rows = []
        for r in inflight:
            row = self._row(r["task"], r["id"], ops.get(operation_id_in(args.get(r["id"])) or ""))
            row.update(started_at=iso(r["started"]), duration=r["elapsed"], outcome="running")
            rows.append(row)
        return self._with_retries(rows)

    def _recent(self, task: str | None, limit: int) -> list[dict[str, Any]]:
        """One row per run of a task, newest first: how it ended and how long it took."""
        if self.history is None:
            return []
        query = Event.select().where(Event.queue == huey.name, Event.signal.in_(RUN_ENDS))
        if task is not None:
            query = query.where(Event.task.endswith("." + task))
        events = list(query.order_by(Event.ts.desc(), Event.id.desc()).limit(limit).dicts())
        op_ids = {operation_id_in(e["args"]) for e in events} - {None}
        ops = _operations(op_ids)  # type: ignore[arg-type]
        rows, seen = [], set()
        for e in events:
            op = ops.get(operation_id_in(e["args"]) or "")
            row = self._row(e["task"], e["task_id"], op)
            started = e["ts"] - e["duration"] if e["duration"] is not None else None
            row.update(started_at=iso(started), duration=e["duration"], outcome=e["signal"])
            row["error"] = first_line(e["error"])
            latest = e["task_id"] not in seen  # the newest run of this task in the list
            seen.add(e["task_id"])
            # The task ran to its end, but the provider refused: the operation failed.
            if (
                latest
                and op is not None
                and e["signal"] == S.SIGNAL_COMPLETE
                and op.status in ("failed", "cancelled")
                and op.task_ids[-1:] == (e["task_id"],)
            ):
                row.update(outcome=op.status, error=first_line(op.error))
            rows.append(row)
        return self._with_retries(rows)

    def _with_retries(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.history is None or not rows:
            return rows
        counts = dict(
            Event.select(Event.task_id, peewee.fn.COUNT(Event.id))
            .where(
                Event.task_id.in_([r["task_id"] for r in rows]),
                Event.signal == S.SIGNAL_RETRYING,
            )
            .group_by(Event.task_id)
            .tuples()
        )
        for row in rows:
            row["retries"] = counts.get(row["task_id"], 0)
        return rows

    # -- what the command and the API answer -------------------------------------------------

    def list_tasks(self, state: str, task: str | None = None, limit: int = 20) -> list[Any]:
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}")
        if state == "pending":
            return self._queued(False, task, limit)
        if state == "scheduled":
            return self._queued(True, task, limit)
        if state == "running":
            return self._running(task, limit)
        return self._recent(task, limit)

    def overview(self) -> dict[str, Any]:
        now = time.time()
        head = huey.pending(1)
        oldest = None
        if head and head[0].args:
            op = _operations({str(head[0].args[0])}).get(str(head[0].args[0]))
            oldest = now - _timestamp(op.started_at) if op else None  # type: ignore[operator]
        summary: dict[str, Any] = {
            "pending": huey.pending_count(),
            "scheduled": huey.scheduled_count(),
            "pending_by_host": pending_by_host(host_names()),
            "oldest_pending_seconds": oldest,
            "history": self.history is not None,
            "history_path": history_location(self.settings),
            "history_bytes": history_size_bytes(self.settings),
        }
        if self.history is None:
            return {**summary, "running": [], "last_hour": {}, "per_minute": []}
        window = self.history.window_counts(3600)
        # huey counts a task that recorded its operation's failure as complete.
        failed_operations = self._failed_operations(3600)
        throughput = self.history.throughput(60)
        per_minute = [
            c + e for c, e in zip(throughput["complete"], throughput["error"], strict=True)
        ]
        running = [
            {"task": r["task"], "task_id": r["id"], "seconds": r["elapsed"]}
            for r in self.history.inflight()
        ]
        return {
            **summary,
            "running": running,
            "last_hour": {
                "completed": max(window.get(S.SIGNAL_COMPLETE, 0) - failed_operations, 0),
                "failed": window.get(S.SIGNAL_ERROR, 0) + failed_operations,
                "retried": window.get(S.SIGNAL_RETRYING, 0),
                "revoked": window.get(S.SIGNAL_REVOKED, 0),
            },
            "per_minute": per_minute,  # oldest first, the last entry is the current minute
            "throughput_per_minute": round(sum(per_minute) / 60, 2),
        }

    @staticmethod
    @db_session
    def _failed_operations(seconds: int) -> int:
        """Queued operations that failed in the window (their tasks completed: the provider
        said no, which huey counts as a success)."""
        since = datetime.fromtimestamp(time.time() - seconds, UTC).replace(tzinfo=None)
        return int(
            active().db.select(
                "SELECT count(*) FROM operations WHERE status = 'failed' AND completed_at >= $s"
                " AND task_ids IS NOT NULL",
                {},
                {"s": since.strftime("%Y-%m-%d %H:%M:%S.%f")},
            )[0]
        )

    def _events_of(self, task_ids: list[str]) -> list[dict[str, Any]]:
        if self.history is None or not task_ids:
            return []
        query = Event.select().where(Event.task_id.in_(task_ids)).order_by(Event.ts, Event.id)
        return [
            {
                "at": iso(e["ts"]),
                "task": short_name(e["task"]),
                "task_id": e["task_id"],
                "signal": e["signal"],
                "duration": e["duration"],
                "error": e["error"],
            }
            for e in query.dicts()
        ]

    def resolve(self, some_id: str) -> tuple[OperationRecord | None, list[str]]:
        """An operation id or a task id: the operation (if any) and its task ids."""
        op = _operations({some_id}).get(some_id)
        if op is not None:
            return op, list(op.task_ids)
        op_id = operation_of_task(some_id)
        if op_id is None and self.history is not None:
            args = self._executing_args([some_id]).get(some_id)
            op_id = operation_id_in(args)
        return (_operations({op_id}).get(op_id) if op_id else None), [some_id]

    def show(self, some_id: str) -> dict[str, Any] | None:
        op, task_ids = self.resolve(some_id)
        events = self._events_of(task_ids)
        inflight = self.history.inflight() if self.history else []
        if op is None and not events and not any(huey.is_revoked(t) for t in task_ids):
            return None
        return {
            "id": some_id,
            "operation": op.to_json() if op else None,
            "workspace_id": op.workspace_id if op else None,
            "task_ids": task_ids,
            "revoked": [t for t in task_ids if huey.is_revoked(t)],
            "running": [r["id"] for r in inflight if r["id"] in task_ids],
            "events": events,
            "error": (op.error if op else None)
            or next((e["error"] for e in reversed(events) if e["error"]), None),
        }

    def revoke(self, some_id: str, by: str) -> dict[str, Any]:
        """A task that has not started never runs; its operation is cancelled (so the sweep
        never enqueues it again). A running task is refused with what can be done instead."""
        op, task_ids = self.resolve(some_id)
        if op is None:
            if not self._known_task(some_id):
                raise LookupError(some_id)
            running = self.history is not None and any(
                r["id"] == some_id for r in self.history.inflight()
            )
            if running:
                raise Refused("TASK_RUNNING", running_message(None))
        else:
            op = cancel_operation(op.id, by)  # first: the database is what a claim obeys
        for task_id in task_ids:
            huey.revoke_by_id(task_id, revoke_once=True)  # forgotten once the consumer skips it
        return {
            "revoked": task_ids,
            "operation": op.to_json() if op else None,
            "by": by,
        }

    def _known_task(self, task_id: str) -> bool:
        if self._events_of([task_id]):
            return True
        queued = _waiting(False, FILTER_SCAN) + _waiting(True, FILTER_SCAN)
        return any(t.id == task_id for _, t in queued)

    def retry(self, operation_id: str, by: str) -> dict[str, Any]:
        settings = self.settings
        limits = Limits(settings.max_workspaces_per_user, settings.max_running_per_user)
        workspace, new = retry_operation(operation_id, by, limits)
        enqueue_operation(new.id, new.operation_type)
        new = _operations({new.id})[new.id]  # now with its task id
        return {"retried": operation_id, "operation": new.to_json(), "workspace": workspace.id}
