"""Formatting of `vm-api tasks`: tables and summaries fit 80 columns, times read easily."""

from __future__ import annotations

from typing import Any

import pytest

from service.task_commands import clock, overview_text, seconds, show_text, task_table

LONG = "x" * 300


def row(**overrides: Any) -> dict[str, Any]:
    base = {
        "task": "restore_snapshot",
        "task_id": "9362db85-4811-4007-9e84-080437244e5e",
        "workspace_id": "5fa2188f-aeb8-46a3-882f-50af7db2a5d5",
        "operation_id": "25607fa2-1e9b-4664-a42f-4b3deb5aa466",
        "operation_status": "failed",
        "enqueued_at": "2026-12-02T15:42:18.788Z",
        "due_at": "2026-12-02T15:43:00.000Z",
        "started_at": "2026-12-02T15:42:18.819Z",
        "duration": 12345.6,
        "outcome": "interrupted",
        "retries": 12,
        "error": LONG,
    }
    return {**base, **overrides}


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.mark.parametrize("state", ["pending", "scheduled", "running", "recent"])
def test_task_tables_fit_80_columns_whatever_the_values(state: str) -> None:
    text = task_table(state, [row(), row(task=LONG, error=None, duration=None)])

    assert widest(text) <= 80
    assert text.splitlines()[1].split()[1] == "9362db85"  # ids shortened as git does


def test_the_time_column_says_what_it_holds() -> None:
    assert "DUE" in task_table("scheduled", [row()]).splitlines()[0]
    assert "ENQUEUED" in task_table("pending", [row()]).splitlines()[0]
    assert "15:43:00" in task_table("scheduled", [row()])
    assert task_table("running", []) == "no running tasks"


def test_durations_and_clock_times() -> None:
    assert [seconds(v) for v in (None, 0.0123, 42.4, 754, 9000)] == [
        "-",
        "0.01s",
        "42s",
        "12m34s",
        "2h30m",
    ]
    assert clock("2026-12-02T15:42:18.819Z") == "15:42:18" and clock(None) == "-"


def test_the_overview_and_show_fit_80_columns() -> None:
    overview = {
        "pending": 123456,
        "scheduled": 7,
        "oldest_pending_seconds": 3.5,
        "history": True,
        "history_path": LONG,
        "history_bytes": 10 << 20,
        "running": [{"task": LONG, "task_id": "9362db85-4811", "seconds": 61.0}],
        "last_hour": {"completed": 10**6, "failed": 10**5, "retried": 3, "revoked": 1},
        "per_minute": [1000] * 60,
        "throughput_per_minute": 1000.0,
    }
    shown = {
        "id": "25607fa2-1e9b-4664-a42f-4b3deb5aa466",
        "task_ids": ["9362db85-4811-4007-9e84-080437244e5e"] * 3,
        "operation": None,
        "revoked": [],
        "running": [],
        "error": LONG + "\nsecond line",
        "events": [
            {"at": "2026-12-02T15:42:18.819Z", "task": LONG, "task_id": "9362db85-48",
             "signal": "error", "duration": 1.0, "error": LONG},
        ],
    }  # fmt: skip

    assert widest(overview_text(overview)) <= 80
    assert "pending 123456" in overview_text(overview)
    assert widest(show_text(shown)) <= 80
    assert "second line" not in show_text(shown)


def test_a_waiting_task_shows_the_docker_host_whose_queue_holds_it() -> None:
    pending = task_table("pending", [row(host="gpu-1"), row(host=None)]).splitlines()
    assert pending[0].split()[-1] == "HOST"
    assert [line.split()[-1] for line in pending[1:]] == ["gpu-1", "-"]
    recent = task_table("recent", [row(host="gpu-1", error="boom")]).splitlines()
    assert (recent[0].split()[-1], recent[1].split()[-1]) == ("ERROR", "boom")
