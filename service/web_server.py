"""Running the API under Hypercorn, in one process or several that share the listening socket.

Hypercorn's own `run()` does the same, but its workers learn of a stop only through a trigger
it owns; here the trigger is ours, so that a stop first ends the event streams (service/
draining.py) and then lets Hypercorn drain what is left.
"""

from __future__ import annotations

import asyncio
import signal
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.synchronize import Event
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import load_application

from service.draining import drain

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
STOP_POLL_SECONDS = 0.1


def serve(config: Config, workers: int) -> int:
    """Serve until SIGINT or SIGTERM; several workers are processes of their own."""
    sockets = config.create_sockets()
    try:
        if workers <= 1:
            _serve_here(config, sockets, None)
            return 0
        return _serve_in_processes(config, sockets, workers)
    finally:
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
            sock.close()


def _serve_in_processes(config: Config, sockets: Sockets, workers: int) -> int:
    context = get_context("spawn")
    stop = context.Event()
    # The workers inherit "ignore SIGINT": a Ctrl-C reaches the whole process group, and only
    # this process decides how the stop goes.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    processes = [
        context.Process(
            target=_serve_here,
            kwargs={"config": config, "sockets": sockets, "stop": stop},
            name=f"vm-api web {index + 1}",
        )
        for index in range(workers)
    ]
    for process in processes:
        process.start()

    def begin_stop(_signum: int, _frame: Any) -> None:
        stop.set()

    for sig in STOP_SIGNALS:
        signal.signal(sig, begin_stop)
    try:
        # One worker exiting (a crash, or the stop) stops them all.
        wait([process.sentinel for process in processes])
        stop.set()
        for process in processes:
            process.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    return next((p.exitcode for p in processes if p.exitcode), 0) or 0


def _serve_here(config: Config, sockets: Sockets, stop: Event | None) -> None:
    app = load_application(config.application_path, config.wsgi_max_body_size)

    async def stopped() -> None:
        if stop is None:
            signalled = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in STOP_SIGNALS:
                loop.add_signal_handler(sig, signalled.set)
            await signalled.wait()
        else:
            while not stop.is_set():
                await asyncio.sleep(STOP_POLL_SECONDS)
        await drain()

    asyncio.run(worker_serve(app, config, sockets=sockets, shutdown_trigger=stopped))
