"""Progress lines of operations, against a real migrated database."""

from __future__ import annotations

import threading

import pytest
from db_support import query

from models.errors import NotFound
from models.progress import (
    ProgressThrottle,
    progress_reporter,
    record_progress,
    select_operation_logs,
)
from models.settings import Settings
from models.store import close_store
from models.workspaces import Limits, NewWorkspace, insert_workspace

pytestmark = pytest.mark.usefixtures("migrated")


def _operation_id(owner: str = "alice") -> str:
    _, op = insert_workspace(NewWorkspace(owner=owner, name="dev", provider="local"), Limits())
    return op.id


def _stored(settings: Settings, operation_id: str) -> tuple[str | None, list[str]]:
    [(progress,)] = query(settings, "SELECT progress FROM operations WHERE id = ?", (operation_id,))
    lines = query(
        settings,
        "SELECT line FROM operation_logs WHERE operation_id = ? ORDER BY id",
        (operation_id,),
    )
    return progress, [line for (line,) in lines]


def test_record_progress_sets_the_latest_line_and_appends_to_the_log(settings: Settings) -> None:
    operation_id = _operation_id()

    record_progress(operation_id, "cloning 10 %")
    record_progress(operation_id, "starting container")

    assert _stored(settings, operation_id) == (
        "starting container",
        ["cloning 10 %", "starting container"],
    )
    logs = select_operation_logs(operation_id, "alice")
    assert [item.line for item in logs] == ["cloning 10 %", "starting container"]
    assert select_operation_logs(operation_id, None) == logs  # an admin
    with pytest.raises(NotFound):
        select_operation_logs(operation_id, "bob")


def test_the_throttle_keeps_new_phases_big_steps_and_the_end() -> None:
    now = [0.0]
    throttle = ProgressThrottle(clock=lambda: now[0])
    kept = []
    for percent in range(0, 101):
        now[0] += 0.001
        line = f"cloning {percent} %"
        if throttle.admit(line):
            kept.append(line)
    assert kept == [f"cloning {p} %" for p in range(0, 101, 5)]
    assert throttle.admit("copying files")
    assert not throttle.admit("copying files")  # the same line again says nothing new
    assert throttle.admit("starting container")


def test_the_throttle_lets_a_slow_percentage_through_after_a_second() -> None:
    now = [0.0]
    throttle = ProgressThrottle(clock=lambda: now[0])
    assert throttle.admit("cloning 1 %")
    now[0] = 0.5
    assert not throttle.admit("cloning 2 %")
    now[0] = 1.2
    assert throttle.admit("cloning 3 %")
    assert throttle.admit("cloning 100 %")


def test_a_reporter_is_safe_from_several_threads(settings: Settings) -> None:
    operation_id = _operation_id()
    report = progress_reporter(operation_id)
    threads = [threading.Thread(target=report, args=(f"phase {n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    _, lines = _stored(settings, operation_id)
    assert sorted(lines) == sorted(f"phase {n}" for n in range(8))


def test_a_long_line_is_cut(settings: Settings) -> None:
    operation_id = _operation_id()
    progress_reporter(operation_id)("x" * 2000)
    assert _stored(settings, operation_id)[0] == "x" * 500


def test_a_reporter_never_fails_the_work(caplog: pytest.LogCaptureFixture) -> None:
    operation_id = _operation_id()
    report = progress_reporter(operation_id)
    close_store()  # the database is gone: the line is lost, the work goes on

    report("cloning 50 %")

    assert "could not record progress of operation" in caplog.text
