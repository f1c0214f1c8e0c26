"""Webhooks from a real `vm-api` (consumer, sweep, janitor) to a receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from harness import RunningService, wait_for_status, wait_until

pytestmark = pytest.mark.slow

SECRET = "s3cret"


class Receiver:
    """An HTTP server that answers 500 to the first `fail_first` POSTs, then 204."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.attempts: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                record = {"headers": dict(self.headers), "body": body}
                receiver.attempts.append(record)
                if len(receiver.attempts) <= receiver.fail_first:
                    self.send_response(500)
                else:
                    receiver.accepted.append(record)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(record["body"]) for record in self.accepted]

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [event for event in self.events() if event["type"] == event_type]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver(fail_first=2)
    yield receiver
    receiver.close()


@pytest.fixture
def hooked(service_factory: Callable[..., RunningService], receiver: Receiver) -> RunningService:
    return service_factory(
        VM_API_WEBHOOK_URL=receiver.url,
        VM_API_WEBHOOK_SECRET=SECRET,
        VM_API_WEBHOOK_RETRY_BASE="1",
        VM_API_PROVISIONER_INTERVAL="1",
        VM_API_JANITOR_INTERVAL="1",
        VM_API_EXPIRY_WARNING="3600",
    )


def test_failures_deletes_and_expiry_are_delivered_signed_and_retried(
    hooked: RunningService, receiver: Receiver, git_repo: Any
) -> None:
    api = hooked.client
    broken = api.post(
        "/api/v1/workspaces", json={"name": "broken", "repo_url": "file:///no/such/repository"}
    ).json()
    wait_for_status(api, broken["id"], ("failed",), timeout=30)
    expiring = api.post("/api/v1/workspaces", json={"name": "soon", "ttl_seconds": 600}).json()
    wait_for_status(api, expiring["id"], ("running",), timeout=30)
    assert api.delete(f"/api/v1/workspaces/{broken['id']}").status_code == 202

    wanted = {"workspace.failed", "operation.failed", "workspace.deleted", "workspace.expiring"}
    wait_until(
        lambda: wanted <= {event["type"] for event in receiver.events()},
        timeout=60,
        what=f"webhooks {sorted(wanted)}; got {[e['type'] for e in receiver.events()]}",
    )

    # The first two attempts got a 500 and were tried again.
    assert len(receiver.attempts) >= len(receiver.accepted) + 2
    for record in receiver.accepted:
        expected = "sha256=" + hmac.new(SECRET.encode(), record["body"], hashlib.sha256).hexdigest()
        assert record["headers"]["X-VM-API-Signature"] == expected
        event = json.loads(record["body"])
        assert set(event) == {"id", "type", "created_at", "data"}
    assert receiver.of_type("workspace.failed")[0]["data"]["id"] == broken["id"]
    failed_op = receiver.of_type("operation.failed")[0]["data"]
    assert failed_op["workspace_id"] == broken["id"] and failed_op["operation_type"] == "create"
    assert receiver.of_type("workspace.deleted")[0]["data"]["id"] == broken["id"]
    warned = receiver.of_type("workspace.expiring")
    assert [event["data"]["id"] for event in warned] == [expiring["id"]]
    # Each event once: ids are unique, and the expiring workspace is not announced again.
    ids = [event["id"] for event in receiver.events()]
    assert len(ids) == len(set(ids))
