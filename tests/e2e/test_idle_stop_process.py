"""Idle auto-stop by the janitor of a real `vm-api`: a quiet workspace is stopped with the
reason, one kept alive by keepalives is not, and the idle stop is announced by webhook."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from harness import RunningService, wait_for_status, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def webhook_bodies() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", received
    server.shutdown()
    server.server_close()


def test_a_quiet_workspace_is_stopped_and_a_kept_one_is_not(
    service_factory: Callable[..., RunningService], webhook_bodies: tuple[str, list[dict]]
) -> None:
    url, received = webhook_bodies
    service = service_factory(
        VM_API_JANITOR_INTERVAL="1",
        VM_API_PROVISIONER_INTERVAL="1",
        VM_API_IDLE_TIMEOUT="3",
        VM_API_WEBHOOK_URL=url,
    )
    api = service.client
    quiet = api.post("/api/v1/workspaces", json={"name": "quiet"}).json()
    kept = api.post("/api/v1/workspaces", json={"name": "kept"}).json()
    forever = api.post("/api/v1/workspaces", json={"name": "forever", "idle_timeout_seconds": 0})
    assert quiet["idle_timeout_seconds"] == 3 and forever.json()["idle_timeout_seconds"] == 0
    for workspace in (quiet, kept, forever.json()):
        wait_for_status(api, workspace["id"], ("running",), timeout=30)

    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:  # keep one alive, as a client's keepalive would
        answer = api.post(f"/api/v1/workspaces/{kept['id']}/activity")
        assert answer.status_code == 200 and answer.json()["last_activity_at"]
        time.sleep(0.5)

    stopped = wait_for_status(api, quiet["id"], ("stopped",), timeout=20)
    assert stopped["status"] == "stopped"
    stop = api.get("/api/v1/operations", params={"workspace_id": quiet["id"]}).json()[0]
    assert (stop["operation_type"], stop["requested_by"]) == ("stop", "janitor")
    assert stop["reason"].startswith("idle for ")
    assert api.get(f"/api/v1/workspaces/{kept['id']}").json()["status"] == "running"
    assert api.get(f"/api/v1/workspaces/{forever.json()['id']}").json()["status"] == "running"
    wait_until(
        lambda: any(b["type"] == "workspace.idle_stopped" for b in received),
        timeout=20,
        what="the workspace.idle_stopped webhook",
    )
    announced = next(b for b in received if b["type"] == "workspace.idle_stopped")
    assert announced["data"]["id"] == quiet["id"]
    assert announced["data"]["reason"] == stop["reason"]
