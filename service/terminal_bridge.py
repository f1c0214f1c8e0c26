"""The terminal's pump: a WebSocket on one side, a blocking terminal on the other.

Output: one thread blocks in the terminal's `read()` and hands each chunk to the event loop;
the loop sends what has piled up since it last looked as one binary frame (a `cat` of a big
file goes out in few, large frames; a keystroke's echo goes out at once). A bounded number of
chunks in flight keeps a slow client from filling the server's memory: the reader thread
then stops reading and the shell blocks on its TTY, as it would in a slow terminal.
Input: binary frames, and text frames that are not control messages, are the person's
keystrokes; a writer thread sends them in order, so a big paste into a busy shell never
blocks the event loop. Control messages are JSON text frames: `{"type": "resize", "cols": C,
"rows": R}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any, Protocol

from quart.utils import run_sync

log = logging.getLogger("vm_api.terminal")

CHUNKS_IN_FLIGHT = 64  # read but not yet sent: at most 64 x READ_SIZE bytes per session
FRAME_BYTES = 512 * 1024  # a frame grows past this by one read at most: under 1 MiB, the
# default message limit of common clients (the `websockets` package, browsers allow more)
MAX_DIMENSION = 10_000


class Terminal(Protocol):
    def read(self) -> bytes: ...  # blocks; b"" at the end
    def write(self, data: bytes) -> None: ...
    def resize(self, cols: int, rows: int) -> None: ...
    def exit_code(self) -> int | None: ...
    def close(self) -> None: ...


class Socket(Protocol):
    async def receive(self) -> str | bytes: ...
    async def send(self, data: str | bytes) -> None: ...


@dataclass
class Traffic:
    bytes_in: int = 0  # from the person to the shell
    bytes_out: int = 0  # from the shell to the person
    started: float = field(default_factory=time.monotonic)

    def summary(self) -> dict[str, int]:
        return {
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "duration_ms": round((time.monotonic() - self.started) * 1000),
        }


def parse_resize(text: str) -> tuple[int, int] | str | None:
    """(cols, rows) for a resize message, None for text that is input, or an error message for a
    control message we cannot follow."""
    if not text.startswith("{"):
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    if not isinstance(message, dict) or "type" not in message:
        return None
    if message["type"] != "resize":
        return f"unknown control message type {message['type']!r}"
    cols, rows = message.get("cols"), message.get("rows")
    if not all(
        isinstance(n, int) and not isinstance(n, bool) and 0 < n <= MAX_DIMENSION
        for n in (cols, rows)
    ):
        return f"resize needs integer cols and rows between 1 and {MAX_DIMENSION}"
    return cols, rows  # type: ignore[return-value]


def control_error(message: str) -> str:
    return json.dumps({"type": "error", "error": message})


class TerminalPump:
    """Runs one session until the shell's output ends (it exited); the caller cancels it when
    the person goes away, then calls `close()`."""

    def __init__(self, terminal: Terminal, ws: Socket) -> None:
        self.terminal = terminal
        self.ws = ws
        self.traffic = Traffic()
        self._loop = asyncio.get_running_loop()
        self._output: asyncio.Queue[bytes] = asyncio.Queue()
        self._credit = threading.Semaphore(CHUNKS_IN_FLIGHT)
        self._input: SimpleQueue[bytes | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []

    def _read_output(self) -> None:
        while True:
            self._credit.acquire()
            data = self.terminal.read()
            try:
                self._loop.call_soon_threadsafe(self._output.put_nowait, data)
            except RuntimeError:  # the loop is gone (the server is shutting down)
                return
            if not data:
                return

    def _write_input(self) -> None:
        while (data := self._input.get()) is not None:
            try:
                self.terminal.write(data)
            except OSError:  # the shell is gone; the output side notices and ends the session
                return

    def _start(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    async def _send_output(self) -> None:
        while True:
            data = await self._output.get()
            self._credit.release()
            parts, size, ended = [data], len(data), not data
            while not ended and size < FRAME_BYTES and not self._output.empty():
                more = self._output.get_nowait()
                self._credit.release()
                ended = not more
                parts.append(more)
                size += len(more)
            if size:
                await self.ws.send(b"".join(parts))
                self.traffic.bytes_out += size
            if ended:
                return

    async def _receive_input(self) -> None:
        while True:
            message = await self.ws.receive()
            if isinstance(message, str):
                resize = parse_resize(message)
                if isinstance(resize, tuple):
                    await run_sync(self.terminal.resize)(*resize)
                    continue
                if isinstance(resize, str):
                    await self.ws.send(control_error(resize))
                    continue
                message = message.encode()
            if message:
                self.traffic.bytes_in += len(message)
                self._input.put(message)

    async def run(self, keepalive: Callable[[], Awaitable[Any]] | None = None) -> None:
        """Until the shell's output ends; input and keepalive run alongside."""
        self._start(self._read_output, "terminal-read")
        self._start(self._write_input, "terminal-write")
        helpers = [asyncio.ensure_future(self._receive_input())]
        if keepalive is not None:
            helpers.append(asyncio.ensure_future(keepalive()))
        try:
            await self._send_output()
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    def close(self) -> None:
        """Blocking: end the shell, stop both threads. Safe to call more than once."""
        self.terminal.close()
        self._input.put(None)
        self._credit.release()  # a reader waiting for credit wakes, reads b"" and ends
        for thread in self._threads:
            thread.join(timeout=5)
