"""The read lane: reads off the event loop, batched, with results and errors where they belong."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time

from quart import Quart

from models.store import BUSY_TIMEOUT_SECONDS
from service.config import Settings
from service.read_lane import EXTENSION_KEY, ReadLane

GATE_TIMEOUT = 10.0


async def test_result_comes_back_from_another_thread() -> None:
    lane = ReadLane()
    try:
        loop_thread = threading.get_ident()
        ran_on = await lane.run(threading.get_ident)
        assert ran_on != loop_thread
        assert await lane.run(sum, (1, 2, 3)) == 6
    finally:
        lane.stop()


async def test_an_error_is_raised_in_its_own_caller_only() -> None:
    lane = ReadLane()

    def fail(name: str) -> str:
        raise LookupError(name)

    try:
        results = await asyncio.gather(
            lane.run(str.upper, "a"),
            lane.run(fail, "b"),
            lane.run(str.upper, "c"),
            return_exceptions=True,
        )
        assert results[0] == "A" and results[2] == "C"
        assert isinstance(results[1], LookupError) and results[1].args == ("b",)
    finally:
        lane.stop()


async def test_reads_queued_while_the_thread_is_busy_run_as_one_batch() -> None:
    lane = ReadLane()
    gate = threading.Event()
    try:
        blocker = asyncio.ensure_future(lane.run(gate.wait, GATE_TIMEOUT))
        await asyncio.sleep(0.05)  # the lane's thread is now inside gate.wait
        queued = [asyncio.ensure_future(lane.run(pow, n, 2)) for n in range(20)]
        await asyncio.sleep(0.05)
        gate.set()
        assert await blocker is True
        assert await asyncio.gather(*queued) == [n * n for n in range(20)]
        # one batch for the blocker, one for the 20 queued behind it: one loop wake-up each
        assert (lane.stats.reads, lane.stats.batches) == (21, 2)
    finally:
        gate.set()
        lane.stop()


async def test_a_cancelled_caller_does_not_break_the_lane() -> None:
    lane = ReadLane()
    gate = threading.Event()
    try:
        blocker = asyncio.ensure_future(lane.run(gate.wait, GATE_TIMEOUT))
        await asyncio.sleep(0.05)
        abandoned = asyncio.ensure_future(lane.run(pow, 3, 2))
        await asyncio.sleep(0.01)
        abandoned.cancel()  # as when a client disconnects mid-request
        gate.set()
        await blocker
        assert abandoned.cancelled()
        assert await lane.run(pow, 4, 2) == 16
    finally:
        gate.set()
        lane.stop()


async def test_stop_finishes_queued_reads_and_a_later_read_starts_again() -> None:
    lane = ReadLane()
    gate = threading.Event()
    blocker = asyncio.ensure_future(lane.run(gate.wait, GATE_TIMEOUT))
    queued = asyncio.ensure_future(lane.run(pow, 5, 2))
    await asyncio.sleep(0.05)
    stopping = asyncio.get_running_loop().run_in_executor(None, lane.stop)
    await asyncio.sleep(0.05)
    gate.set()
    await stopping
    assert await blocker is True and await queued == 25
    assert not lane.running
    assert await lane.run(pow, 6, 2) == 36
    assert lane.running
    lane.stop()
    assert not lane.running


async def test_app_stops_its_lane_after_serving(settings: Settings) -> None:
    from models.store import close_store
    from service.app import create_app
    from service.prestart import run_prestart

    run_prestart(settings)
    application = create_app(settings)
    lane: ReadLane = application.extensions[EXTENSION_KEY]
    try:
        async with application.test_app():
            response = await application.test_client().get(
                "/api/v1/me", headers={"x-user": "alice"}
            )
            assert response.status_code == 200
            assert lane.running and lane.stats.reads == 1
        assert not lane.running
    finally:
        close_store()


async def test_reads_go_on_while_another_process_holds_the_write_lock(
    app: Quart, settings: Settings
) -> None:
    client = app.test_client()
    created = await client.post(
        "/api/v1/workspaces",
        json={"name": "held"},
        headers={"x-user": "alice"},
    )
    assert created.status_code == 201, await created.get_data()
    workspace_id = (await created.get_json())["id"]
    writer = sqlite3.connect(settings.db_path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE workspaces SET name = 'uncommitted' WHERE id = ?", (workspace_id,))
        started = time.monotonic()
        one = await client.get(f"/api/v1/workspaces/{workspace_id}", headers={"x-user": "alice"})
        listed = await client.get("/api/v1/workspaces", headers={"x-user": "alice"})
        elapsed = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert one.status_code == 200 and listed.status_code == 200
    assert (await one.get_json())["name"] == "held"  # the last commit, not the open write
    assert [w["name"] for w in await listed.get_json()] == ["held"]
    # WAL: readers never wait for the writer; waiting would take the whole busy timeout
    assert elapsed < BUSY_TIMEOUT_SECONDS / 2


def test_web_entry_point_freezes_the_start_up_heap(settings: Settings) -> None:
    """service.asgi, as Hypercorn loads it, in a process of its own: freezing is per process."""
    from service.prestart import run_prestart

    run_prestart(settings)
    probe = (
        "import asyncio, gc\n"
        "from service import asgi\n"
        "async def main():\n"
        "    async with asgi.app.test_app():\n"
        "        print(gc.get_freeze_count(), gc.get_threshold()[0])\n"
        "asyncio.run(main())\n"
    )
    env = {"VM_API_DB_PATH": str(settings.db_path), "PATH": ""}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    frozen, threshold = (int(word) for word in result.stdout.split())
    assert frozen > 10_000  # the modules, the app and Pony's mapping
    assert threshold == 5_000
