"""Running one command in a `local` workspace: a process on the server itself, in the
workspace's folder. Only when the operator allows it (VM_API_ALLOW_LOCAL_EXEC)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from tasks.providers.exec_output import OUTPUT_CAP_BYTES, CappedOutput, ExecResult

# What the command sees of the server's environment: no VM_API_* setting, token or secret.
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def _drain(stream: IO[bytes], into: CappedOutput) -> None:
    while chunk := stream.read1(65536):  # type: ignore[attr-defined]
        into.write(chunk)


def _feed(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
    except OSError:
        pass  # the command exited without reading it all
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def run_local_exec(
    folder: Path,
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 60.0,
    cap: int = OUTPUT_CAP_BYTES,
) -> ExecResult:
    """Run `command` in `folder` (blocking: call it from a thread). A timeout kills the
    command's whole process group; its exit code is then 137, as for a killed Docker exec."""
    began = time.monotonic()
    process = subprocess.Popen(
        list(command),
        cwd=folder,
        env={**BASE_ENV, "HOME": str(folder), "PWD": str(folder), **(env or {})},
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own group: a timeout kills what it started too
    )
    out, err = CappedOutput(cap), CappedOutput(cap)
    assert process.stdout is not None and process.stderr is not None
    threads = [
        threading.Thread(target=_drain, args=(process.stdout, out), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, err), daemon=True),
    ]
    if stdin is not None:
        assert process.stdin is not None
        threads.append(threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True))
    for thread in threads:
        thread.start()
    timed_out = False
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        code = process.wait()
    for thread in threads:
        thread.join(timeout=5)
    process.stdout.close()
    process.stderr.close()
    return ExecResult(
        exit_code=128 - code if code < 0 else code,
        stdout=bytes(out.data),
        stderr=bytes(err.data),
        duration_ms=int((time.monotonic() - began) * 1000),
        timed_out=timed_out,
        truncated=out.truncated or err.truncated,
    )
