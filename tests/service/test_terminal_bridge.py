"""The terminal's pump, between a WebSocket-shaped pair of queues and a terminal whose far end
is a real socket this test plays the shell on."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from service.terminal_bridge import FRAME_BYTES, TerminalPump, parse_resize


class SocketTerminal:
    """A terminal over one end of a socketpair; the test holds the other."""

    def __init__(self, end: socket.socket) -> None:
        self.end = end
        self.sizes: list[tuple[int, int]] = []
        self.closed = False

    def read(self) -> bytes:
        try:
            return self.end.recv(256 * 1024)
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        self.end.sendall(data)

    def resize(self, cols: int, rows: int) -> None:
        self.sizes.append((cols, rows))

    def exit_code(self) -> int | None:
        return 0

    def close(self) -> None:
        self.closed = True
        self.end.close()


class QueueSocket:
    def __init__(self) -> None:
        self.incoming: asyncio.Queue[str | bytes] = asyncio.Queue()
        self.sent: list[str | bytes] = []

    async def receive(self) -> str | bytes:
        return await self.incoming.get()

    async def send(self, data: str | bytes) -> None:
        self.sent.append(data)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type": "resize", "cols": 80, "rows": 24}', (80, 24)),
        ("ls -l\n", None),
        ("{not json", None),
        ('{"cols": 80}', None),  # JSON, but no type: typed text
        ('["resize"]', None),
        ('{"type": "bell"}', "unknown control message type 'bell'"),
        ('{"type": "resize", "cols": 0, "rows": 24}', "resize needs"),
        ('{"type": "resize", "cols": true, "rows": 24}', "resize needs"),
        ('{"type": "resize", "cols": 80.5, "rows": 24}', "resize needs"),
    ],
)
def test_parse_resize(text: str, expected: object) -> None:
    result = parse_resize(text)
    if isinstance(expected, str):
        assert isinstance(result, str) and result.startswith(expected)
    else:
        assert result == expected


async def test_input_output_resize_and_the_end_of_output() -> None:
    ours, shell = socket.socketpair()
    terminal, ws = SocketTerminal(ours), QueueSocket()
    pump = TerminalPump(terminal, ws)
    running = asyncio.ensure_future(pump.run())

    await ws.incoming.put(b"ab")
    await ws.incoming.put("cd\n")  # text that is not a control message is input
    await ws.incoming.put(json.dumps({"type": "resize", "cols": 100, "rows": 30}))
    await ws.incoming.put('{"type": "bell"}')
    loop = asyncio.get_running_loop()
    received = b""
    while len(received) < 5:
        received += await loop.run_in_executor(None, shell.recv, 100)
    assert received == b"abcd\n"
    big = b"x" * (3 * FRAME_BYTES)
    await loop.run_in_executor(None, shell.sendall, big)
    shell.close()  # the shell exits: the output ends
    await asyncio.wait_for(running, 10)
    await asyncio.get_running_loop().run_in_executor(None, pump.close)

    frames = [m for m in ws.sent if isinstance(m, bytes)]
    assert b"".join(frames) == big
    assert all(len(f) < 1024 * 1024 for f in frames)  # under 1 MiB each, whatever the batching
    assert terminal.sizes == [(100, 30)]
    errors = [json.loads(m) for m in ws.sent if isinstance(m, str)]
    assert errors == [{"type": "error", "error": "unknown control message type 'bell'"}]
    assert pump.traffic.bytes_in == 5 and pump.traffic.bytes_out == len(big)
    assert terminal.closed
