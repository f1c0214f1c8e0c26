"""Event streams through the real `vm-api` (Hypercorn, two web processes, the huey consumer):
the worker's changes reach every open stream, whichever web process serves it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from harness import RunningService, wait_until

pytestmark = pytest.mark.slow


class StreamReader(threading.Thread):
    """Reads one SSE stream in the background into a list of (arrival time, event)."""

    def __init__(self, url: str, user: str, last_event_id: str | None = None) -> None:
        super().__init__(daemon=True)
        headers = {"x-user": user}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        self.client = httpx.Client(timeout=httpx.Timeout(5.0, read=30.0))
        self.request = self.client.build_request("GET", url, headers=headers)
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.opened = threading.Event()
        self.stopping = False

    def run(self) -> None:
        response = self.client.send(self.request, stream=True)
        assert response.status_code == 200
        self.opened.set()
        fields: dict[str, str] = {}
        try:
            for line in response.iter_lines():
                if self.stopping:
                    return
                if not line:
                    if "data" in fields:
                        event = {**fields, "data": json.loads(fields["data"])}
                        self.events.append((time.monotonic(), event))
                    fields = {}
                elif not line.startswith(":") and ": " in line:
                    name, value = line.split(": ", 1)
                    fields[name] = value
        except httpx.HTTPError:
            return
        finally:
            response.close()

    def close(self) -> None:
        self.stopping = True
        self.client.close()

    def types(self) -> list[str]:
        return [event["event"] for _, event in self.events]


def test_streams_on_two_web_processes_see_the_workers_changes(
    service_factory: Callable[..., RunningService],
) -> None:
    service = service_factory(VM_API_WEB_WORKERS="2")
    url = f"{service.process.url}/api/v1/events"
    # Several streams: with two web processes, each is served by one of them.
    readers = [StreamReader(url, "alice") for _ in range(6)]
    bobs = StreamReader(url, "bob")
    for reader in [*readers, bobs]:
        reader.start()
        assert reader.opened.wait(10)
    try:
        created = service.client.post("/api/v1/workspaces", json={"name": "streamed"})
        assert created.status_code in (201, 202), created.text
        workspace_id = created.json()["id"]

        def all_saw_running() -> bool:
            return all(
                any(
                    e["event"] == "workspace.status" and e["data"]["status"] == "running"
                    for _, e in reader.events
                )
                for reader in readers
            )

        wait_until(all_saw_running, timeout=30, what="every stream to see the workspace running")
        for reader in readers:
            assert reader.types()[:2] == ["workspace.status", "operation.created"]
            assert "operation.finished" in reader.types()
            workspaces = [
                e["data"]["workspace"] for _, e in reader.events if "workspace" in e["data"]
            ]
            assert {w["id"] for w in workspaces} == {workspace_id}
        assert bobs.events == []

        # A reconnect with the first event's id gets the rest again, from the database.
        first_id = readers[0].events[0][1]["id"]
        resumed = StreamReader(url, "alice", last_event_id=first_id)
        resumed.start()
        expected = len(readers[0].events) - 1
        wait_until(lambda: len(resumed.events) >= expected, timeout=10, what="resumed events")
        assert [e["id"] for _, e in resumed.events] == [e["id"] for _, e in readers[0].events[1:]]
        resumed.close()
    finally:
        for reader in [*readers, bobs]:
            reader.close()
