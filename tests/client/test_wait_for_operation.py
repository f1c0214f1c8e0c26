"""The command line's wait on an operation survives an event that never reaches its stream.

A real HTTP server on loopback plays the API: its event stream sends only keep-alive comments
(the operation's end went out before the stream was subscribed), while the operation itself has
finished by the second read. The wait must end at a heartbeat instead of hanging.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from client.http import Api, Connection
from client.workspaces import wait_for_operation


class _Api(BaseHTTPRequestHandler):
    operation_reads = 0
    release = threading.Event()

    def do_GET(self) -> None:
        if self.path.endswith("/events"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.write(b": keepalive\n\n")
            self.wfile.flush()
            # Then silence: a wait that only trusts events would hang here until the stream
            # ends; the test's bound says it did not.
            type(self).release.wait(timeout=10)
            return
        type(self).operation_reads += 1
        status = "pending" if type(self).operation_reads == 1 else "success"
        body = json.dumps({"id": "op-1", "status": status}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def api_url() -> Iterator[str]:
    _Api.operation_reads = 0
    _Api.release.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _Api.release.set()
        server.shutdown()
        server.server_close()


def test_a_heartbeat_reads_the_operation_again(api_url: str) -> None:
    api = Api(Connection(api_url, {}))
    started = time.monotonic()
    try:
        operation = wait_for_operation(api, "ws-1", "op-1", say=lambda line: None)
    finally:
        api.close()
    assert time.monotonic() - started < 5, "the wait waited for the stream to end"
    assert operation["status"] == "success"
    assert _Api.operation_reads == 2  # once when the stream opened, once at the first heartbeat
