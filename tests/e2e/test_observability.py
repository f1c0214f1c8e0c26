"""/metrics, JSON logs, request ids and the consumer's doorbell, against real processes."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest
from harness import StartService, wait_for_status, wait_until
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple], float]:
    """Every sample of GET /metrics, by (name, sorted labels)."""
    response = httpx.get(f"{url}/metrics", headers=headers or {}, timeout=10)
    assert response.status_code == 200, response.text
    samples: dict[tuple[str, tuple], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# words of the periodic slots' routine lines (which must not be at INFO)
ROUTINE_WORDS = ("_slot", "periodic task", "to schedule", "sweep:")


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of a JSON-format log, each of which must parse."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_one_scrape_counts_every_web_worker_and_the_consumer(start_service: StartService) -> None:
    service = start_service(
        VM_API_WEB_WORKERS="2", VM_API_LOG_FORMAT="json", VM_API_PROVISIONER_INTERVAL="1"
    )
    before = scrape(service.url)
    created: list[str] = []
    web_pids: set[int] = set()
    # New connections until both web processes have answered a create (the kernel spreads
    # connections over them), then a few more.
    while len(web_pids) < 2 or len(created) < 4:
        assert len(created) < 60, f"only web processes {web_pids} answered"
        with httpx.Client(base_url=service.url, headers={"x-user": "alice"}) as client:
            response = client.post("/api/v1/workspaces", json={"name": f"m{len(created)}"})
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])
        lines = json_lines(service.log_since_start())
        web_pids = {line["pid"] for line in lines if line["process"] == "web"}
    with service.config.client() as client:
        for workspace_id in created:
            wait_for_status(client, workspace_id, ("running",), timeout=20)
    n = len(created)

    after = wait_until(
        lambda: (
            (s := scrape(service.url))
            and value(s, "vm_api_operations_total", type="create", outcome="success") >= n
            and s
        ),
        timeout=10,
        what="the consumer's counters",
    )

    route = {"route": "/api/v1/workspaces", "method": "POST", "status": "201"}
    assert (
        value(after, "vm_api_http_requests_total", **route)
        - value(before, "vm_api_http_requests_total", **route)
        == n
    )
    ops = {"type": "create", "outcome": "success"}
    assert value(after, "vm_api_operations_total", **ops) == n
    assert (
        value(after, "vm_api_task_runs_total", task="provision_workspace", outcome="complete") == n
    )
    assert value(after, "vm_api_operation_duration_seconds_count", type="create") == n
    assert value(after, "vm_api_operation_queue_wait_seconds_count", type="create") == n
    assert value(after, "vm_api_provider_call_seconds_count", provider="local", call="create",
                 outcome="ok") == n  # fmt: skip
    assert value(after, "vm_api_workspaces", status="running") == n
    assert value(after, "vm_api_operations_running", type="create") == 0
    assert ("vm_api_queue_depth", (("state", "pending"),)) in after
    # the sweep ran every second and found nothing, and said so only at DEBUG
    wait_until(
        lambda: value(
            scrape(service.url), "vm_api_periodic_runs_total", job="sweep", result="idle"
        ),
        timeout=10,
        what="an idle sweep counted",
    )
    routine = [
        line["message"]
        for line in json_lines(service.log_since_start())
        if line["level"] == "INFO" and not line["message"].startswith("The following commands")
        and any(word in line["message"] for word in ROUTINE_WORDS)
    ]  # fmt: skip
    assert routine == []
    # a GET by id is counted by its route template, never the raw path
    with service.config.client() as client:
        assert client.get(f"/api/v1/workspaces/{created[0]}").status_code == 200
    text = httpx.get(f"{service.url}/metrics").text
    assert 'route="/api/v1/workspaces/<workspace_id>"' in text
    assert created[0] not in text and "alice" not in text
    # the multiprocess folder holds files of the two web workers and the consumer
    files = {p.name for p in (service.config.data_dir / "prometheus").glob("counter_*.db")}
    assert len(files) >= 3, files


def test_a_request_id_follows_a_create_into_the_worker(start_service: StartService) -> None:
    service = start_service(VM_API_LOG_FORMAT="json")
    request_id = f"trace-{time.time_ns()}"
    with service.config.client() as client:
        response = client.post(
            "/api/v1/workspaces", json={"name": "traced"}, headers={"X-Request-ID": request_id}
        )
        assert response.status_code == 201
        assert response.headers["X-Request-ID"] == request_id
        workspace_id = response.json()["id"]
        wait_for_status(client, workspace_id, ("running",), timeout=20)
        operation = client.get(f"/api/v1/operations?workspace_id={workspace_id}").json()[0]
        # an id that is not sane is replaced by a new one
        odd = client.get("/health", headers={"X-Request-ID": "no spaces, please"})
        assert re.fullmatch(r"[0-9a-f]{32}", odd.headers["X-Request-ID"])
        made = client.get("/health").headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert operation["request_id"] == request_id

    def traced() -> list[dict[str, Any]]:
        lines = json_lines(service.log_since_start())
        mine = [line for line in lines if line.get("request_id") == request_id]
        done = any(line["message"].endswith(" s") for line in mine if line["process"] == "worker")
        return mine if done else []

    mine = wait_until(traced, timeout=10, what="the worker's lines")
    for line in mine:
        assert {"time", "level", "process", "pid", "logger", "message"} <= line.keys()
    assert {line["process"] for line in mine} == {"web", "worker"}
    messages = [line["message"] for line in mine]
    assert any(operation["id"] in m and "enqueued" in m for m in messages)
    assert any(operation["id"] in m and "started" in m for m in messages)


def test_idle_periodic_slots_log_at_debug(start_service: StartService) -> None:
    service = start_service(
        VM_API_LOG_FORMAT="json", VM_API_LOG_LEVEL="DEBUG", VM_API_PROVISIONER_INTERVAL="1"
    )

    def sweeps() -> list[dict[str, Any]]:
        lines = json_lines(service.log_since_start())
        return [
            line
            for line in lines
            if "sweep" in line["message"]
            and not line["message"].startswith("The following commands")  # the start-up list
        ]

    lines = wait_until(lambda: len(sweeps()) >= 4 and sweeps(), timeout=15, what="sweep lines")
    assert {line["level"] for line in lines} == {"DEBUG"}, lines
    messages = [line["message"] for line in lines]
    assert any(m.startswith("Executing tasks.schedule.sweep_slot") for m in messages)
    assert any(m.startswith("sweep: SweepReport(requeued=0, failed=0") for m in messages)


def test_metrics_are_for_loopback_or_the_token(start_service: StartService) -> None:
    open_service = start_service()
    assert httpx.get(f"{open_service.url}/metrics").status_code == 200
    proxied = httpx.get(f"{open_service.url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert proxied.status_code == 403
    assert proxied.json()["code"] == "FORBIDDEN"

    guarded = start_service(VM_API_METRICS_TOKEN="s3cret-token")
    url = f"{guarded.url}/metrics"
    missing = httpx.get(url)
    assert missing.status_code == 401 and missing.json()["code"] == "UNAUTHORIZED"
    assert httpx.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 403
    good = httpx.get(url, headers={"Authorization": "Bearer s3cret-token"})
    assert good.status_code == 200
    assert "vm_api_http_requests_total" in good.text


def test_a_task_after_idling_is_picked_up_by_the_doorbell(start_service: StartService) -> None:
    # The fallback poll is far away: only the doorbell can explain a quick pickup.
    service = start_service(VM_API_QUEUE_FALLBACK_POLL="60", VM_API_LOG_FORMAT="json")
    with service.config.client() as client:
        for n in range(3):
            time.sleep(3)  # idle
            began = time.monotonic()
            response = client.post("/api/v1/workspaces", json={"name": f"idle{n}"})
            assert response.status_code == 201
            wait_for_status(client, response.json()["id"], ("running",), timeout=20)
            # generous: the figure itself is in bench/idle_cost.py
            assert time.monotonic() - began < 2.0
