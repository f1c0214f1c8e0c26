"""`vm-api ws shell NAME`: the workspace's terminal WebSocket on this terminal, in raw mode.

It takes a one-time ticket with an authenticated POST (a WebSocket cannot carry every header
a proxy wants), follows window resizes, and exits with the shell's exit code.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from client.http import Api, ApiError, error_of

READ_BYTES = 65536


def _ws_url(api: Api, workspace_id: str, ticket: str) -> str:
    base = api.connection.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return f"{base}/api/v1/workspaces/{workspace_id}/terminal?ticket={ticket}"


def _size_message() -> str:
    # The terminal's own size: COLUMNS and LINES in the environment go stale on a resize.
    try:
        size = os.get_terminal_size(sys.stdin.fileno())
    except OSError:
        size = shutil.get_terminal_size()
    return json.dumps({"type": "resize", "cols": size.columns, "rows": size.lines})


@contextlib.contextmanager
def _raw_terminal() -> Iterator[None]:
    if not sys.stdin.isatty():
        yield
        return
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def exit_code_of(close_reason: str) -> int:
    """The shell's exit status, which the server puts in the close reason as JSON
    (`{"exit_code": N}`); 1 if it is not there."""
    try:
        reason: Any = json.loads(close_reason)
        return int(reason["exit_code"])
    except (ValueError, KeyError, TypeError):
        return 1


def _control(message: str) -> None:
    """A text frame from the server is a control message, never terminal output: an `error`
    is said on stderr; `exit` needs nothing here (its code comes again in the close reason)."""
    try:
        control: Any = json.loads(message)
    except ValueError:
        return
    if isinstance(control, dict) and control.get("type") == "error":
        sys.stderr.write(f"\r\nvm-api ws shell: {control.get('error')}\r\n")
        sys.stderr.flush()


def _pump_output(ws: ClientConnection, done: threading.Event) -> None:
    out = sys.stdout.buffer
    try:
        for message in ws:
            if isinstance(message, str):
                _control(message)
                continue
            out.write(message)
            out.flush()
    except ConnectionClosed:
        pass
    finally:
        done.set()


def _connect(api: Api, workspace_id: str, ticket: str) -> ClientConnection:
    """The terminal's WebSocket; a refused handshake is the API's error, as for any call."""
    origin = api.connection.url  # the API's own origin: allowed by the Origin rule
    url = _ws_url(api, workspace_id, ticket)
    try:
        return connect(url, origin=origin, max_size=None, ping_interval=20)
    except InvalidStatus as exc:
        answer = exc.response
        raise error_of(answer.status_code, bytes(answer.body), answer.reason_phrase) from None
    except (OSError, InvalidHandshake) as exc:
        raise ApiError(0, "UNREACHABLE", f"cannot open the terminal at {url}: {exc}") from None


def open_shell(api: Api, workspace_id: str) -> int:
    # The ticket's POST already refuses a workspace that is not running (409).
    ticket = api.post(f"/workspaces/{workspace_id}/terminal/ticket")["ticket"]
    with _connect(api, workspace_id, ticket) as ws:
        ws.send(_size_message())
        previous = signal.signal(signal.SIGWINCH, lambda *_: ws.send(_size_message()))
        done = threading.Event()
        reader = threading.Thread(target=_pump_output, args=(ws, done), daemon=True)
        reader.start()
        fd = sys.stdin.fileno()
        try:
            with _raw_terminal():
                while not done.is_set():
                    ready, _, _ = select.select([fd], [], [], 0.2)
                    if not ready:
                        continue
                    data = os.read(fd, READ_BYTES)
                    if not data:  # stdin closed: end the session
                        ws.close()
                        break
                    with contextlib.suppress(ConnectionClosed):
                        ws.send(data)
        finally:
            signal.signal(signal.SIGWINCH, previous)
        reader.join(timeout=5)
        reason = ws.close_reason or ""
    return exit_code_of(reason)
