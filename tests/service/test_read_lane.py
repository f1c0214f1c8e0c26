"""The read lane: reads off the event loop, batched, with results and errors where they belong."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from quart import Quart

from models.settings import Settings
from models.store import BUSY_TIMEOUT_SECONDS
from service.read_lane import EXTENSION_KEY, ReadLane

GATE_TIMEOUT = 10.0


@pytest.fixture
def lane() -> Iterator[ReadLane]:
    read_lane = ReadLane()
    yield read_lane
    read_lane.stop()


class Holder:
    """A read that keeps the lane's thread busy until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.blocker: asyncio.Future[str] | None = None

    def hold(self) -> str:
        self.entered.set()
        self.gate.wait(GATE_TIMEOUT)
        return "held"

    async def release(self) -> str:
        self.gate.set()
        assert self.blocker is not None
        return await self.blocker


@asynccontextmanager
async def held(lane: ReadLane) -> AsyncIterator[Holder]:
    """The lane's thread is inside a read for the whole block, unless released earlier."""
    holder = Holder()
    holder.blocker = asyncio.ensure_future(lane.run(holder.hold))
    entered = await asyncio.get_running_loop().run_in_executor(
        None, holder.entered.wait, GATE_TIMEOUT
    )
    assert entered
    try:
        yield holder
    finally:
        holder.gate.set()


async def queue_reads(lane: ReadLane, *bases: int) -> list[asyncio.Future[int]]:
    reads = [asyncio.ensure_future(lane.run(pow, base, 2)) for base in bases]
    await asyncio.sleep(0)  # each task runs up to its await: its read is in the queue
    return reads


async def test_result_comes_back_from_another_thread(lane: ReadLane) -> None:
    ran_on = await lane.run(threading.get_ident)
    assert ran_on != threading.get_ident()
    assert await lane.run(sum, (1, 2, 3)) == 6


async def test_an_error_is_raised_in_its_own_caller_only(lane: ReadLane) -> None:
    def fail(name: str) -> str:
        raise LookupError(name)

    results = await asyncio.gather(
        lane.run(str.upper, "a"), lane.run(fail, "b"), lane.run(str.upper, "c"),
        return_exceptions=True,
    )  # fmt: skip
    assert results[0] == "A" and results[2] == "C"
    assert isinstance(results[1], LookupError) and results[1].args == ("b",)


async def test_reads_queued_while_the_thread_is_busy_run_as_one_batch(lane: ReadLane) -> None:
    async with held(lane) as holder:
        queued = await queue_reads(lane, *range(20))
        assert await holder.release() == "held"
    assert await asyncio.gather(*queued) == [n * n for n in range(20)]
    # one batch for the held read, one for the 20 queued behind it: one loop wake-up each
    assert (lane.stats.reads, lane.stats.batches) == (21, 2)


async def test_a_cancelled_caller_does_not_break_the_lane(lane: ReadLane) -> None:
    async with held(lane) as holder:
        (abandoned,) = await queue_reads(lane, 3)
        abandoned.cancel()  # as when a client disconnects mid-request
        await holder.release()
    assert await lane.run(pow, 4, 2) == 16
    assert abandoned.cancelled()


async def test_stop_finishes_queued_reads_and_a_later_read_starts_again(lane: ReadLane) -> None:
    async with held(lane) as holder:
        (queued,) = await queue_reads(lane, 5)
        stopping = asyncio.get_running_loop().run_in_executor(None, lane.stop)
        await asyncio.sleep(0.05)
        assert not stopping.done()  # stop waits for the reads already queued
        await holder.release()
        await stopping
    assert await queued == 25
    assert not lane.running
    assert await lane.run(pow, 6, 2) == 36
    assert lane.running


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


@contextmanager
def uncommitted(settings: Settings, sql: str, params: tuple[Any, ...]) -> Iterator[None]:
    """Another connection holds a write open (SQLite's write lock, PostgreSQL's row lock) for
    the whole block, then rolls it back."""
    if settings.database is None:
        writer = sqlite3.connect(settings.db_path, isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute(sql, params)
            yield
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        return
    import psycopg2

    connection = psycopg2.connect(**settings.database.connect_kwargs)
    try:
        with connection.cursor() as cursor:  # psycopg2 opens the transaction itself
            cursor.execute(sql.replace("?", "%s"), params)
            assert cursor.rowcount == 1
        yield
    finally:
        connection.rollback()
        connection.close()


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
    rename = "UPDATE workspaces SET name = 'uncommitted' WHERE id = ?"
    with uncommitted(settings, rename, (workspace_id,)):
        started = time.monotonic()
        one = await client.get(f"/api/v1/workspaces/{workspace_id}", headers={"x-user": "alice"})
        listed = await client.get("/api/v1/workspaces", headers={"x-user": "alice"})
        elapsed = time.monotonic() - started
    assert one.status_code == 200 and listed.status_code == 200
    assert (await one.get_json())["name"] == "held"  # the last commit, not the open write
    assert [w["name"] for w in await listed.get_json()] == ["held"]
    # WAL (or PostgreSQL's MVCC): readers never wait for the writer; waiting would take the
    # whole busy timeout
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
    if settings.database is not None:
        env["VM_API_DATABASE_URL"] = settings.database.url
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    frozen, threshold = (int(word) for word in result.stdout.split())
    assert frozen > 10_000  # the modules, the app and Pony's mapping
    assert threshold == 5_000
