"""A real nginx on loopback in front of a real `vm-api web`, for the identity tests.

Without nginx the tests skip, with the reason; with VM_API_REQUIRE_DOCKER=1 (CI, which
installs nginx-light) they fail instead, so a missing proxy cannot turn them silently green.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from harness import free_port, wait_until

# Bearer tokens the proxy "authenticates", as oauth2-proxy would a session cookie.
TOKENS = {"alice-token": "alice", "bob-token": "bob"}


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file() else None
    )
    if found is None:
        message = "nginx is not installed (Debian: apt-get install nginx-light)"
        if os.environ.get("VM_API_REQUIRE_DOCKER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return found


def _config(root: Path, port: int, upstream: str, server_body: str) -> str:
    token_map = "\n".join(f'        "Bearer {token}" {user};' for token, user in TOKENS.items())
    user = "user root;" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"    {kind}_temp_path {root}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""
{user}
daemon off;
master_process on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temp}
    map $http_authorization $authenticated_user {{
        default "";
{token_map}
    }}
    server {{
        listen 127.0.0.1:{port};
{server_body.replace("UPSTREAM", upstream)}
    }}
}}
"""


@contextmanager
def running_nginx(root: Path, upstream: str, server_body: str) -> Iterator[str]:
    """nginx serving `server_body` (UPSTREAM stands for the API's address); yields its URL."""
    binary = nginx_binary()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = root / "nginx.conf"
    conf.write_text(_config(root, port, upstream, server_body))
    check = subprocess.run(
        [binary, "-t", "-c", str(conf), "-p", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    stderr_path = root / "stderr.log"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"nginx exited: {stderr_path.read_text()}")
            try:
                httpx.get(f"{url}/health", timeout=1.0)
            except httpx.TransportError:
                return False
            return True

        wait_until(answers, 10.0, what="nginx answering")
        yield url
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful stop; the master takes its worker along
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
