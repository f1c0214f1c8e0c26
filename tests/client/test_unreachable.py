"""`vm-api ws` when nothing answers at VM_API_URL: one line and exit code 1, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("args", [["get", "dev"], ["list"], ["exec", "dev", "--", "true"]])
def test_nothing_answering_is_one_line_and_exit_code_1(args: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VM_API_")}
    env.update(VM_API_URL=f"http://127.0.0.1:{_closed_port()}", VM_API_USER="alice")
    command = [str(Path(sys.executable).with_name("vm-api")), "ws", *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("vm-api: cannot reach http://127.0.0.1:")
    assert "Traceback" not in done.stderr
