"""Progress of a running operation: its latest line (`operations.progress`) and every line it
reported, in order (`operation_logs`), so that a person can see what a slow create is doing."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from pony.orm import db_session

from models.reads import select_operation
from models.records import rfc3339, sql_time, utcnow
from models.store import active, write_session

MAX_LINE = 500  # characters kept of one line
MIN_PERCENT_STEP = 5  # a percentage is recorded when it moved this far ...
MIN_INTERVAL_SECONDS = 1.0  # ... or this long after the line before
_PERCENTAGE = re.compile(r"^(.*?)(\d{1,3}) ?%$")

log = logging.getLogger("vm_api.progress")


@write_session
def record_progress(operation_id: str, line: str) -> None:
    """Set the operation's latest progress line and append it to its log."""
    line = line[:MAX_LINE]
    now = sql_time(utcnow())
    db = active().db
    params = {"operation_id": operation_id, "line": line, "now": now}
    db.execute("UPDATE operations SET progress = $line WHERE id = $operation_id", {}, params)
    db.execute(
        "INSERT INTO operation_logs (operation_id, at, line) VALUES ($operation_id, $now, $line)",
        {},
        params,
    )


@dataclass
class ProgressThrottle:
    """Decides which lines are worth a database write: every new kind of line, and of a run of
    percentages ("cloning 40 %") only those that moved MIN_PERCENT_STEP points or came
    MIN_INTERVAL_SECONDS after the last one recorded, and always 100 %."""

    clock: Callable[[], float] = time.monotonic
    _phase: str | None = None
    _percent: int = -1
    _at: float = 0.0

    def admit(self, line: str) -> bool:
        match = _PERCENTAGE.match(line)
        phase, percent = (match.group(1), int(match.group(2))) if match else (line, -1)
        now = self.clock()
        if phase == self._phase:
            if percent == self._percent:
                return False  # nothing new
            moved = abs(percent - self._percent) >= MIN_PERCENT_STEP
            if not (moved or percent == 100 or now - self._at >= MIN_INTERVAL_SECONDS):
                return False
        self._phase, self._percent, self._at = phase, percent, now
        return True


def progress_reporter(operation_id: str) -> Callable[[str], None]:
    """A callback for a provider: throttled, thread-safe (git's progress arrives on a reader
    thread), and never failing the operation because a progress line could not be written."""
    throttle = ProgressThrottle()
    lock = threading.Lock()

    def report(line: str) -> None:
        with lock:
            if not throttle.admit(line):
                return
            try:
                record_progress(operation_id, line)
            except Exception:  # progress is a courtesy; the work goes on
                log.exception("could not record progress of operation %s", operation_id)

    return report


@dataclass(frozen=True)
class LogLine:
    at: str | None
    line: str


@db_session
def select_operation_logs(operation_id: str, owner: str | None) -> list[LogLine]:
    """Every progress line of an operation the caller may see (owner None: an admin)."""
    select_operation(operation_id, owner)  # NotFound for another user's
    rows = active().db.select(
        "SELECT at, line FROM operation_logs WHERE operation_id = $operation_id ORDER BY id",
        {},
        {"operation_id": operation_id},
    )
    # SQLite hands back the stored text; other engines a datetime
    moments = [datetime.fromisoformat(at) if isinstance(at, str) else at for at, _ in rows]
    return [LogLine(rfc3339(moment), line) for moment, (_, line) in zip(moments, rows, strict=True)]
