"""Cloning a workspace's repository on the worker, with the same URL safety rules for every
provider: no remote helpers (`ext::`), local paths only when the operator allows them, no
prompts for credentials, a time limit, and git's own last line when it fails."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
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
    buffer, last = b"", [-1]
    read = stream.read1  # type: ignore[attr-defined]
    while chunk := read(4096):
        buffer += chunk
        *lines, buffer = re.split(rb"[\r\n]", buffer)
        for raw in lines:
            _take(raw.decode(errors="replace").strip(), progress, tail, last)
    _take(buffer.decode(errors="replace").strip(), progress, tail, last)


def _take(line: str, progress: Progress | None, tail: list[str], last: list[int]) -> None:
    if not line:
        return
    match = _PERCENT.match(line)
    if match is None:
        tail.append(line)
        del tail[:-10]
        return
    percent = overall_percent(match.group(1).strip(), int(match.group(2)))
    if percent is not None and progress is not None and percent != last[0]:
        last[0] = percent  # git repeats a percentage for every object: report it once
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


def _git_succeeds(into: Path, *args: str) -> bool:
    result = subprocess.run(
        ["git", "-C", str(into), *args], capture_output=True, env=_environment(), timeout=60
    )
    return result.returncode == 0


def _point_head(into: Path, repo_ref: str, allow_file_repos: bool, timeout: float) -> None:
    """HEAD at `repo_ref` without writing files: a remote branch becomes the local branch
    checked out, a tag or commit a detached HEAD (what `git checkout` would do)."""
    what = f"git checkout {repo_ref}"

    def git(*args: str) -> None:
        _run_git(_git_command(allow_file_repos, "-C", str(into), *args), None, what, timeout)

    if _git_succeeds(into, "rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{repo_ref}"):
        if not _git_succeeds(into, "rev-parse", "--verify", "--quiet", f"refs/heads/{repo_ref}"):
            git("branch", "--quiet", "--track", repo_ref, f"origin/{repo_ref}")
        git("symbolic-ref", "HEAD", f"refs/heads/{repo_ref}")
    else:
        git("update-ref", "--no-deref", "HEAD", f"{repo_ref}^{{commit}}")


def clone_repository(
    repo_url: str,
    into: Path,
    *,
    repo_ref: str | None = None,
    allow_file_repos: bool = False,
    progress: Progress | None = None,
    timeout: float = GIT_TIMEOUT_SECONDS,
    checkout: bool = True,
) -> None:
    """Clone `repo_url` into the folder `into` (absent, or empty) and check out `repo_ref`
    (a branch, tag or commit) if given. Failures are ProviderErrors carrying git's last line.

    `checkout=False` writes no working tree: HEAD and the index are set to `repo_ref` and the
    files are left to tree_archive(), which streams them where they belong (a Docker volume)
    without writing every file twice.
    """
    if repo_url.startswith("-"):
        raise ProviderError("repo_url must not start with '-'")
    if repo_ref is not None and (repo_ref.startswith("-") or not repo_ref):
        raise ProviderError("repo_ref must not be empty nor start with '-'")
    clone = ["clone", "--progress"]
    if repo_ref is not None or not checkout:
        clone.append("--no-checkout")  # checked out below, whatever kind of ref it is
    command = _git_command(allow_file_repos, *clone, "--", repo_url, str(into))
    _run_git(command, progress, "git clone", timeout)
    if checkout and repo_ref is not None:
        # checkout turns a remote branch into a local one, and detaches at a tag or commit.
        checkout_ref = _git_command(
            allow_file_repos, "-C", str(into), "checkout", "--quiet", repo_ref
        )
        _run_git(checkout_ref, None, f"git checkout {repo_ref}", timeout)
    elif not checkout:
        if repo_ref is not None:
            _point_head(into, repo_ref, allow_file_repos, timeout)
        # an index that matches HEAD, so that `git status` in the workspace shows it clean
        read_tree = _git_command(allow_file_repos, "-C", str(into), "read-tree", "HEAD")
        _run_git(read_tree, None, "git read-tree", timeout)
    if progress is not None:
        progress("cloning 100 %")


def tree_archive(into: Path, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """The files of HEAD of the clone at `into`, as a tar stream (`git archive`: owned by
    root, dated by the commit); raises ProviderError at the end if git failed."""
    process = subprocess.Popen(
        ["git", "-C", str(into), "archive", "--format=tar", "HEAD"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_environment(),
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        while data := process.stdout.read(chunk):
            yield data
        error = process.stderr.read().decode(errors="replace").strip()
        if process.wait(timeout=GIT_TIMEOUT_SECONDS) != 0:
            raise ProviderError(f"git archive failed: {(error.splitlines() or ['?'])[-1]}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
