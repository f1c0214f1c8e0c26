"""The read lane: the API's reads run on one thread of their own, in batches.

`run_sync` costs a thread-pool hop per call: a submit, a wake-up of a pool thread and a
wake-up of the event loop. Under load that hop was most of what a single GET cost beyond a
bare Quart route (docs/benchmarks.md, benchmark 2). The lane keeps Pony off the event loop
all the same, but its thread runs every read queued since it last looked and then wakes the
loop once for the whole batch, so that under load many requests share one hop.

Only short reads belong here: a write can wait seconds for SQLite's write lock and would hold
up every read queued behind it, so writes (and the health probe, which may wait on Redis)
keep going through `run_sync`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any, ParamSpec, TypeVar

from quart import Quart, current_app

P = ParamSpec("P")
T = TypeVar("T")

EXTENSION_KEY = "vm_api.read_lane"


@dataclass(frozen=True, slots=True)
class _Read:
    function: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    context: contextvars.Context


# what the lane hands back to a loop: the future, and its result or its exception
_Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


@dataclass
class LaneStats:
    """Written by the lane's thread only: reads taken, and the batches they were taken in."""

    reads: int = 0
    batches: int = 0


class ReadLane:
    def __init__(self, name: str = "vm-api-reads") -> None:
        self._name = name
        self.stats = LaneStats()
        # each thread has a queue of its own; None in it: finish what is queued, then stop
        self._reads: SimpleQueue[_Read | None] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`function(*args)` on the lane's thread; its result, or its exception raised here."""
        if kwargs:
            raise TypeError("the read lane passes positional arguments only")
        reads = self._start_once()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        # the caller's context goes along, as run_sync does it
        reads.put(_Read(function, args, future, loop, contextvars.copy_context()))
        return await future

    def stop(self, timeout: float = 10.0) -> None:
        """Finishes the reads already queued, then ends the thread. Blocking: call it off the
        loop, once no request is left (after serving). A later read starts a new thread."""
        with self._starting:
            thread, reads = self._thread, self._reads
            self._thread, self._reads = None, SimpleQueue()
        if thread is not None:
            reads.put(None)
            thread.join(timeout)

    def _start_once(self) -> SimpleQueue[_Read | None]:
        """The running thread's queue, starting the thread first if there is none."""
        with self._starting:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=_serve, args=(self._reads, self.stats), name=self._name, daemon=True
                )
                self._thread.start()
            return self._reads


def _serve(reads: SimpleQueue[_Read | None], stats: LaneStats) -> None:
    while True:
        first = reads.get()
        if first is None:
            return
        batch, stopping = _drain(reads, first)
        # counted before the results go back, so that a caller who has its result sees it
        stats.reads += len(batch)
        stats.batches += 1
        _run_batch(batch)
        if stopping:
            return


def _drain(reads: SimpleQueue[_Read | None], first: _Read) -> tuple[list[_Read], bool]:
    """`first` and every read queued behind it; True once the stop mark is among them."""
    batch = [first]
    while True:
        try:
            queued = reads.get_nowait()
        except Empty:
            return batch, False
        if queued is None:
            return batch, True
        batch.append(queued)


def _run_batch(batch: list[_Read]) -> None:
    settled: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for job in batch:
        try:
            outcome: _Outcome = (job.future, job.context.run(job.function, *job.args), None)
        except BaseException as error:  # raised again in the request that asked, not lost
            outcome = (job.future, None, error)
        settled.setdefault(job.loop, []).append(outcome)
    for loop, outcomes in settled.items():
        # a loop that has closed has nobody left waiting
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, outcomes)


def _settle(outcomes: list[_Outcome]) -> None:
    for future, result, error in outcomes:
        if future.cancelled():  # the client went away while its read was queued
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


def install_read_lane(app: Quart) -> ReadLane:
    """Gives `app` its lane; the thread starts with the first read and ends after serving."""
    lane = ReadLane()
    app.extensions[EXTENSION_KEY] = lane

    @app.after_serving
    async def stop_read_lane() -> None:
        # joining waits for the reads still queued: off the loop, like any blocking call
        await asyncio.get_running_loop().run_in_executor(None, lane.stop)

    return lane


async def read(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """The handlers' one line across the async/sync boundary for a read:
    `await read(select_something, ...)`, as `await run_sync(write_something)(...)` for a write."""
    lane: ReadLane = current_app.extensions[EXTENSION_KEY]
    return await lane.run(function, *args, **kwargs)
