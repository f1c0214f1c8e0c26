"""`service.access.heartbeat`: the record of an exec, upload or download stays alive while the
work lasts (the sweep fails a record whose heartbeat is older than VM_API_HEARTBEAT_TIMEOUT),
and stops being touched when the work ends."""

from __future__ import annotations

import time
import uuid

from db_support import execute, query

from models.access import begin_access
from models.settings import Settings
from models.states import AccessType
from service.access import heartbeat

LONG_AGO = "2000-01-01 00:00:00.000000"


def _heartbeat_of(settings: Settings, operation_id: str) -> str:
    (row,) = query(settings, "SELECT heartbeat_at FROM operations WHERE id = ?", (operation_id,))
    return str(row[0])


def test_long_work_beats_and_stops_beating_when_it_ends(migrated: Settings) -> None:
    record = begin_access(str(uuid.uuid4()), "alice", AccessType.EXEC, "alice", {})
    stale = "UPDATE operations SET heartbeat_at = ? WHERE id = ?"
    execute(migrated, stale, (LONG_AGO, record.id))

    with heartbeat(record.id, timeout=1.5):  # a beat every second (a third, at least 1 s)
        time.sleep(1.4)
        assert not _heartbeat_of(migrated, record.id).startswith("2000")

    execute(migrated, stale, (LONG_AGO, record.id))
    time.sleep(1.4)
    assert _heartbeat_of(migrated, record.id).startswith("2000")
