"""The baseline server for the API benchmarks: Quart on Hypercorn, no database, no auth.

It answers the routes that bench/api_throughput.py drives with constant JSON bodies read at
start from the file named by BENCH_BARE_BODIES ({"single": ..., "list": ..., "admin": ...}),
the same bytes the real service answered with (the list's by the caller's x-user, as the real
one does). Served the way `vm-api web` serves (service/cli.py
cmd_web): Hypercorn, VM_API_WEB_WORKERS processes, no access log.

    BENCH_BARE_BODIES=bodies.json VM_API_BIND=127.0.0.1:8000 python bench/bare_app.py
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from quart import Quart, Response, request

_bodies = json.loads(Path(os.environ["BENCH_BARE_BODIES"]).read_text())
SINGLE = _bodies["single"].encode()
LISTED = _bodies["list"].encode()
EVERY = _bodies["admin"].encode()  # the admin's page: every owner's newest workspaces

app = Quart("bare")


@app.get("/health")
async def health() -> Response:
    return Response(b'{"status":"ok"}', content_type="application/json")


@app.get("/api/v1/workspaces/<workspace_id>")
async def get_workspace(workspace_id: str) -> Response:
    return Response(SINGLE, content_type="application/json")


@app.get("/api/v1/workspaces")
async def get_workspaces() -> Response:
    body = EVERY if request.headers.get("x-user") == "admin" else LISTED
    return Response(body, content_type="application/json")


def main() -> int:
    from hypercorn.config import Config
    from hypercorn.run import run

    workers = int(os.environ.get("VM_API_WEB_WORKERS", "1"))
    config = Config()
    config.bind = [os.environ.get("VM_API_BIND", "127.0.0.1:8000")]
    config.application_path = f"{Path(__file__).resolve()}:app"
    config.workers = 0 if workers == 1 else workers
    config.graceful_timeout = 30
    config.accesslog = None
    config.errorlog = "-"
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
