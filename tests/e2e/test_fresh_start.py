"""A fresh database starts every time: the web and worker processes no longer both switch the
new file to WAL at the same moment (that failed about 1 start in 15, "database is locked")."""

from __future__ import annotations

import signal

import pytest
from db_support import on_postgres, query
from harness import StartService

FRESH_STARTS = 30


@pytest.mark.slow
# SQLite's WAL switch on a new file (PostgreSQL's hooks: test_prestart_postgres.py)
@pytest.mark.sqlite_only
def test_thirty_fresh_services_in_a_row_all_come_up(start_service: StartService) -> None:
    for attempt in range(FRESH_STARTS):
        service = start_service()  # a new folder, so a new database, each time; waits ready
        with service.config.client("alice") as client:
            created = client.post("/api/v1/workspaces", json={"name": f"fresh-{attempt}"})
            assert created.status_code == 201, (attempt, created.text, service.describe())
        assert service.stop(signal.SIGINT) == 0, service.describe()
        log = service.log_text()
        assert "database is locked" not in log, (attempt, log)
        if not on_postgres(service.config.settings()):
            assert query(service.config.db_path, "PRAGMA journal_mode") == [("wal",)]
