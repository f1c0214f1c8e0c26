"""Cloning a workspace's repository on the worker, with the same URL safety rules for every
provider: no remote helpers (`ext::`), local paths only when the operator allows them, no
prompts for credentials, a time limit, and git's own last line when it fails."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from tasks.providers.base import ProviderError

GIT_TIMEOUT_SECONDS = 300
# "Receiving objects:  40% (1200/3000)": the phases git reports with --progress
_PERCENT = re.compile(r"^(?:remote: )?([A-Za-z ]+):\s+(\d{1,3})%")
_PHASES = {"Receiving objects": 0.0, "Resolving deltas": 0.7, "Updating files": 0.8}
_SHARES = {"Receiving objects": 0.7, "Resolving deltas": 0.1, "Updating files": 0.2}

Progress = Callable[[str], None]


def _git_command(allow_file_repos: bool, *args: str) -> list[str]:
    file_policy = "always" if allow_file_repos else "never"
    return [
        "git",
        "-c",
        "protocol.ext.allow=never",
        "-c",
        f"protocol.file.allow={file_policy}",
        "-c",
        "advice.detachedHead=false",
        *args,
    ]


def _environment() -> dict[str, str]:
    # No prompt may wait for a person; LC_ALL=C keeps the progress lines parseable.
    return {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false", "LC_ALL": "C"}


def overall_percent(phase: str, percent: int) -> int | None:
    """One figure for the whole clone from git's per-phase percentages."""
    if phase not in _PHASES:
        return None
    return int(100 * (_PHASES[phase] + _SHARES[phase] * min(percent, 100) / 100))


def _read_progress(stream: object, progress: Progress | None, tail: list[str]) -> None:
    """git rewrites its progress line with carriage returns: split on both."""
    buffer = b""
    read = stream.read1  # type: ignore[attr-defined]
    while chunk := read(4096):
        buffer += chunk
        *lines, buffer = re.split(rb"[\r\n]", buffer)
        for raw in lines:
            _take(raw.decode(errors="replace").strip(), progress, tail)
    _take(buffer.decode(errors="replace").strip(), progress, tail)


def _take(line: str, progress: Progress | None, tail: list[str]) -> None:
    if not line:
        return
    match = _PERCENT.match(line)
    if match is None:
        tail.append(line)
        del tail[:-10]
        return
    percent = overall_percent(match.group(1).strip(), int(match.group(2)))
    if percent is not None and progress is not None:
        progress(f"cloning {percent} %")


def _run_git(command: list[str], progress: Progress | None, what: str, timeout: float) -> None:
    tail: list[str] = []
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=_environment(),
        )
    except FileNotFoundError:
        raise ProviderError("git is not installed on the worker host") from None
    reader = threading.Thread(target=_read_progress, args=(process.stderr, progress, tail))
    reader.start()
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise ProviderError(f"{what} timed out after {timeout:.0f} s") from None
    finally:
        reader.join()
        assert process.stderr is not None
        process.stderr.close()
    if code != 0:
        # git's last line, or its last fatal/error one: "Please make sure you have the correct
        # access rights / and the repository exists." ends many failures.
        verdicts = [line for line in tail if line.startswith(("fatal:", "error:"))]
        last = (verdicts or tail or ["no output"])[-1]
        raise ProviderError(f"{what} failed: {last}")


def clone_repository(
    repo_url: str,
    into: Path,
    *,
    repo_ref: str | None = None,
    allow_file_repos: bool = False,
    progress: Progress | None = None,
    timeout: float = GIT_TIMEOUT_SECONDS,
) -> None:
    """Clone `repo_url` into the folder `into` (which must not exist) and check out `repo_ref`
    (a branch, tag or commit) if given. Failures are ProviderErrors carrying git's last line."""
    if repo_url.startswith("-"):
        raise ProviderError("repo_url must not start with '-'")
    if repo_ref is not None and (repo_ref.startswith("-") or not repo_ref):
        raise ProviderError("repo_ref must not be empty nor start with '-'")
    clone = ["clone", "--progress"]
    if repo_ref is not None:
        clone.append("--no-checkout")  # checked out below, whatever kind of ref it is
    command = _git_command(allow_file_repos, *clone, "--", repo_url, str(into))
    _run_git(command, progress, "git clone", timeout)
    if repo_ref is not None:
        # checkout turns a remote branch into a local one, and detaches at a tag or commit.
        checkout = _git_command(allow_file_repos, "-C", str(into), "checkout", "--quiet", repo_ref)
        _run_git(checkout, None, f"git checkout {repo_ref}", timeout)
    if progress is not None:
        progress("cloning 100 %")
