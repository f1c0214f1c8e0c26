"""The terminal WebSocket on a real Docker daemon, through the real `vm-api` process and a real
WebSocket client (the `websockets` package) over loopback."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import docker
import pytest
from db_support import query
from harness import RunningService, wait_for_status, wait_until
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

pytestmark = pytest.mark.slow

LABEL_WORKSPACE = "vm-api.workspace-id"
TIMEOUT = 10.0


@dataclass
class TerminalWorkspace:
    service: RunningService
    workspace_id: str
    container: Any

    def url(self, query: str = "") -> str:
        base = self.service.config.url.replace("http://", "ws://")
        return f"{base}/api/v1/workspaces/{self.workspace_id}/terminal{query}"

    def open(self, user: str = "alice", query: str = "", **kwargs: Any) -> ClientConnection:
        headers = {"x-user": user} if user else {}
        return connect(self.url(query), additional_headers=headers, open_timeout=TIMEOUT, **kwargs)

    def shells(self) -> list[str]:
        """Processes in the container other than its command."""
        self.container.reload()
        top = self.container.top()
        column = top["Titles"].index("CMD")
        # The container's own command (under docker-init) is not a shell; ps may cut its line.
        return [
            p[column]
            for p in top["Processes"]
            if "docker-init" not in p[column] and not p[column].startswith("sleep 2147")
        ]

    def terminal_operations(self) -> list[dict[str, Any]]:
        response = self.service.client.get(
            "/api/v1/operations", params={"workspace_id": self.workspace_id, "type": "terminal"}
        )
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


def start_workspace(service: RunningService, docker_client: docker.DockerClient) -> Any:
    created = service.client.post("/api/v1/workspaces", json={"name": "term", "template": "base"})
    assert created.status_code == 201, created.text
    workspace_id = created.json()["id"]
    running = wait_for_status(service.client, workspace_id, ("running", "failed"), 60)
    assert running["status"] == "running", running["error_message"]
    return workspace_id, docker_client.containers.get(f"vm-ws-{workspace_id}")


@pytest.fixture
def make_terminal_workspace(
    service_factory: Callable[..., RunningService], docker_client: docker.DockerClient
) -> Iterator[Callable[..., TerminalWorkspace]]:
    made: list[RunningService] = []

    def make(**overrides: str) -> TerminalWorkspace:
        service = service_factory(VM_API_DEFAULT_PROVIDER="docker", **overrides)
        made.append(service)
        workspace_id, container = start_workspace(service, docker_client)
        return TerminalWorkspace(service, workspace_id, container)

    yield make
    for service in made:  # whatever a failed test left: this service's containers and volumes
        ids = [row[0] for row in query(service.config.settings(), "SELECT id FROM workspaces")]
        for workspace_id in ids:
            for container in docker_client.containers.list(
                all=True,
                filters={"label": f"{LABEL_WORKSPACE}={workspace_id}"},
                ignore_removed=True,
            ):
                with contextlib.suppress(docker.errors.APIError):
                    container.remove(force=True)
            for volume in docker_client.volumes.list(
                filters={"label": f"{LABEL_WORKSPACE}={workspace_id}"}
            ):
                with contextlib.suppress(docker.errors.APIError):
                    volume.remove(force=True)


@pytest.fixture
def terminal_workspace(make_terminal_workspace: Callable[..., TerminalWorkspace]) -> Any:
    return make_terminal_workspace()


def read_until(ws: ClientConnection, text: str, timeout: float = TIMEOUT) -> str:
    """Terminal output (binary frames) until `text` appears in it."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"{text!r} not seen; output was {seen!r}")
        message = ws.recv(timeout=remaining)
        if isinstance(message, bytes):
            seen += message
    return seen.decode(errors="replace")


def refusal(open_: Callable[[], ClientConnection]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as refused:
        open_().close()
    response = refused.value.response
    return response.status_code, json.loads(response.body or b"{}")


def test_echo_resize_exit_and_the_recorded_session(terminal_workspace: TerminalWorkspace) -> None:
    with terminal_workspace.open() as ws:
        ws.send(b'echo hel""lo\n')  # the echo of what was typed has the quotes; the output not
        assert "\nhello" in read_until(ws, "\nhello").replace("\r", "")
        ws.send(json.dumps({"type": "resize", "cols": 123, "rows": 45}))
        ws.send("stty size\n")  # a text frame that is not a control message is input too
        read_until(ws, "45 123")
        assert len(terminal_workspace.shells()) == 1
        ws.send(b"exit 7\n")
        exit_message = None
        with pytest.raises(ConnectionClosed):
            while True:
                message = ws.recv(timeout=TIMEOUT)
                if isinstance(message, str):
                    exit_message = json.loads(message)
    assert exit_message == {"type": "exit", "exit_code": 7}
    assert ws.close_code == 1000
    assert json.loads(ws.close_reason) == {"exit_code": 7}
    wait_until(lambda: terminal_workspace.shells() == [], TIMEOUT, what="no shell left")

    def finished() -> list[dict[str, Any]]:
        ops = terminal_workspace.terminal_operations()
        return ops if ops and ops[0]["status"] == "success" else []

    (operation,) = wait_until(finished, TIMEOUT, what="session recorded")
    assert operation["operation_type"] == "terminal"
    assert operation["requested_by"] == "alice"
    detail = operation["detail"]
    assert detail["exit_code"] == 7
    assert detail["ended_by"] == "exit"
    assert detail["bytes_in"] > 20 and detail["bytes_out"] > 20
    assert detail["shell"] == "/bin/sh"


def test_closing_the_socket_ends_the_shell(terminal_workspace: TerminalWorkspace) -> None:
    with terminal_workspace.open() as ws:
        ws.send(b"sleep 300 & echo sta''rted\n")  # a child in the background goes too
        read_until(ws, "started")
        shells = terminal_workspace.shells()
        assert len(shells) == 2, shells
    wait_until(lambda: terminal_workspace.shells() == [], TIMEOUT, what="no process left")
    ops = wait_until(
        lambda: [o for o in terminal_workspace.terminal_operations() if o["status"] == "success"],
        TIMEOUT,
        what="session recorded",
    )
    assert ops[0]["detail"]["ended_by"] == "client"


def test_another_user_is_not_found_and_anonymous_is_refused(
    terminal_workspace: TerminalWorkspace,
) -> None:
    status, body = refusal(lambda: terminal_workspace.open(user="bob"))
    assert (status, body["code"]) == (404, "NOT_FOUND")
    status, body = refusal(lambda: terminal_workspace.open(user=""))
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    assert terminal_workspace.terminal_operations() == []


def test_a_foreign_origin_is_refused_and_an_allowed_one_is_not(
    terminal_workspace: TerminalWorkspace,
) -> None:
    status, body = refusal(lambda: terminal_workspace.open(origin="https://evil.example"))
    assert (status, body["code"]) == (403, "CROSS_ORIGIN_REFUSED")
    with terminal_workspace.open(origin="http://localhost:3120") as ws:
        ws.send(b"echo o''k\n")
        read_until(ws, "ok")


def ticket(workspace: TerminalWorkspace, workspace_id: str | None = None) -> dict[str, Any]:
    response = workspace.service.client.post(
        f"/api/v1/workspaces/{workspace_id or workspace.workspace_id}/terminal/ticket"
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_ticket_opens_one_terminal_once(terminal_workspace: TerminalWorkspace) -> None:
    issued = ticket(terminal_workspace)
    assert issued["url"].endswith(f"/terminal?ticket={issued['ticket']}")
    # no identity header at all, and an Origin like a browser's: the ticket is the identity
    query = f"?ticket={issued['ticket']}"
    with terminal_workspace.open(user="", query=query, origin="http://localhost:3120") as ws:
        ws.send(b"echo tick''et\n")
        read_until(ws, "ticket")
    status, body = refusal(lambda: terminal_workspace.open(user="", query=query))
    assert (status, body["code"]) == (401, "INVALID_TICKET")
    # headers do not rescue a bad ticket
    status, body = refusal(lambda: terminal_workspace.open(query="?ticket=made-up"))
    assert (status, body["code"]) == (401, "INVALID_TICKET")
    ops = wait_until(
        lambda: [o for o in terminal_workspace.terminal_operations() if o["status"] == "success"],
        TIMEOUT,
        what="session recorded",
    )
    assert [o["requested_by"] for o in ops] == ["alice"]
    # bob cannot get a ticket for alice's workspace
    refused = terminal_workspace.service.config.client("bob")
    with refused:
        response = refused.post(
            f"/api/v1/workspaces/{terminal_workspace.workspace_id}/terminal/ticket"
        )
    assert response.status_code == 404


def test_a_ticket_for_another_workspace_is_refused_and_used_up(
    terminal_workspace: TerminalWorkspace, docker_client: docker.DockerClient
) -> None:
    other_id, _ = start_workspace_named(terminal_workspace.service, docker_client, "other")
    issued = ticket(terminal_workspace, other_id)
    query = f"?ticket={issued['ticket']}"
    status, body = refusal(lambda: terminal_workspace.open(user="", query=query))
    assert (status, body["code"]) == (401, "INVALID_TICKET")
    # it was used up by the attempt: not good for its own workspace any more either
    base = terminal_workspace.service.config.url.replace("http://", "ws://")
    status, body = refusal(lambda: connect(f"{base}/api/v1/workspaces/{other_id}/terminal{query}"))
    assert (status, body["code"]) == (401, "INVALID_TICKET")


def start_workspace_named(
    service: RunningService, docker_client: docker.DockerClient, name: str
) -> tuple[str, Any]:
    created = service.client.post("/api/v1/workspaces", json={"name": name, "template": "base"})
    assert created.status_code == 201, created.text
    workspace_id = created.json()["id"]
    assert wait_for_status(service.client, workspace_id, ("running", "failed"), 60)["status"] == (
        "running"
    )
    return workspace_id, docker_client.containers.get(f"vm-ws-{workspace_id}")


def test_an_expired_ticket_is_refused(
    make_terminal_workspace: Callable[..., TerminalWorkspace],
) -> None:
    workspace = make_terminal_workspace(VM_API_TERMINAL_TICKET_SECONDS="1")
    issued = ticket(workspace)
    time.sleep(1.5)
    status, body = refusal(lambda: workspace.open(user="", query=f"?ticket={issued['ticket']}"))
    assert (status, body["code"]) == (401, "INVALID_TICKET")


def test_terminals_past_the_limit_are_refused(
    make_terminal_workspace: Callable[..., TerminalWorkspace],
) -> None:
    workspace = make_terminal_workspace(VM_API_MAX_TERMINALS="2")
    with workspace.open() as first, workspace.open() as second:
        for ws in (first, second):
            ws.send(b"echo u''p\n")
            read_until(ws, "up")
        status, body = refusal(workspace.open)
        assert (status, body["code"], body["limit"]) == (429, "TOO_MANY_TERMINALS", 2)
    # a place is free again once a session is recorded as ended
    wait_until(
        lambda: len([o for o in workspace.terminal_operations() if o["status"] == "success"]) == 2,
        TIMEOUT,
        what="both sessions ended",
    )
    with workspace.open() as third:
        third.send(b"echo ag''ain\n")
        read_until(third, "again")


def test_a_stopped_workspace_has_no_terminal(terminal_workspace: TerminalWorkspace) -> None:
    api = terminal_workspace.service.client
    assert api.post(f"/api/v1/workspaces/{terminal_workspace.workspace_id}/stop").status_code == 202
    wait_for_status(api, terminal_workspace.workspace_id, ("stopped",), 60)
    status, body = refusal(terminal_workspace.open)
    assert (status, body["code"], body["status"]) == (409, "INVALID_STATE", "stopped")
    # The ticket's POST says so too, before a page or the CLI tries the WebSocket.
    refused = api.post(f"/api/v1/workspaces/{terminal_workspace.workspace_id}/terminal/ticket")
    assert (refused.status_code, refused.json()["code"]) == (409, "INVALID_STATE")


def test_a_stopping_server_hangs_up_with_going_away(terminal_workspace: TerminalWorkspace) -> None:
    with terminal_workspace.open() as ws:
        ws.send(b"echo u''p\n")
        read_until(ws, "up")
        started = time.monotonic()
        assert terminal_workspace.service.process.stop() == 0
        with pytest.raises(ConnectionClosed):
            while True:
                ws.recv(timeout=TIMEOUT)
    assert ws.close_code == 1001
    assert time.monotonic() - started < 10  # the session did not hold the stop up
    wait_until(lambda: terminal_workspace.shells() == [], TIMEOUT, what="no shell left")
    ((status, detail),) = query(
        terminal_workspace.service.config.settings(),
        "SELECT status, detail FROM operations WHERE operation_type = 'terminal'",
    )
    assert (status, json.loads(detail)["ended_by"]) == ("success", "server")
