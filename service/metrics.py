"""GET /metrics (Prometheus text format) and the HTTP request metrics behind it.

Requests are counted by route template (the URL rule, `/api/v1/workspaces/<workspace_id>`,
never the raw path), method and status, with a latency histogram. The workspace and queue
figures are read at scrape time, by the process that answers it, from the database and the
queue (cheap: one GROUP BY, two counts). With PROMETHEUS_MULTIPROC_DIR set (`vm-api` sets it,
service/metrics_setup.py) the answer adds up every process of the service on this host: each
Hypercorn worker and the consumer.

Who may read it: loopback callers that did not come through a proxy, unless
VM_API_METRICS_TOKEN is set; then anyone with `Authorization: Bearer <token>`, and nobody
without it.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Iterator
from typing import Any

from pony.orm import db_session
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from quart import Blueprint, Quart, Response, current_app, request
from quart.utils import run_sync

from models.hosts import host_names
from models.settings import Settings
from models.store import active
from service.auth import FORWARDING_HEADERS
from service.errors import APIError
from tasks.queue import huey, pending_by_host

blueprint = Blueprint("metrics", __name__)

HTTP_REQUESTS = Counter(
    "vm_api_http_requests", "HTTP requests by route template, method and status",
    ["route", "method", "status"],
)  # fmt: skip
HTTP_SECONDS = Histogram(
    "vm_api_http_request_duration_seconds",
    "HTTP request latency by route template and method",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
UNMATCHED = "unmatched"  # a path that matched no route (a 404): never the raw path


class ScrapeTimeCollector(Collector):
    """Figures read when scraped: workspaces by status, the queue's depth."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        workspaces = GaugeMetricFamily(
            "vm_api_workspaces", "workspaces by status (deleted ones excluded)", labels=["status"]
        )
        for status, number in _workspace_counts():
            workspaces.add_metric([status], number)
        yield workspaces
        queue = GaugeMetricFamily(
            "vm_api_queue_depth", "huey tasks waiting: pending (due) or scheduled", labels=["state"]
        )
        try:
            queue.add_metric(["pending"], huey.pending_count())
            queue.add_metric(["scheduled"], huey.scheduled_count())
        except Exception:  # an unreachable queue: the other figures are still worth having
            pass
        yield queue
        hosts = GaugeMetricFamily(
            "vm_api_host_queue_depth",
            "huey tasks waiting in a Docker host's queue",
            labels=["host"],
        )
        try:
            for host, number in pending_by_host(host_names()).items():
                hosts.add_metric([host], number)
        except Exception:
            pass
        yield hosts


@db_session
def _workspace_counts() -> list[tuple[str, int]]:
    rows = active().db.select(
        "SELECT status, COUNT(*) FROM workspaces WHERE status <> 'deleted' GROUP BY status"
    )
    return [(str(status), int(number)) for status, number in rows]


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # every process's files, this one's included
    else:
        registry = REGISTRY  # one process (tests in-process, a bare `huey_consumer`)
    return registry


def _render(registry: CollectorRegistry, extra: Collector) -> bytes:
    local = CollectorRegistry()
    local.register(extra)
    return generate_latest(registry) + generate_latest(local)


def _from_loopback_directly() -> bool:
    try:
        peer = ipaddress.ip_address((request.remote_addr or "").split("%")[0])
    except ValueError:
        return False
    proxied = any(request.headers.get(name) is not None for name in FORWARDING_HEADERS)
    return peer.is_loopback and not proxied


def _check_access(settings: Settings) -> None:
    token = settings.metrics_token
    if token is None:
        if not _from_loopback_directly():
            raise APIError(
                403, "FORBIDDEN", "metrics are served to loopback only (set VM_API_METRICS_TOKEN)"
            )
        return
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not value:
        raise APIError(401, "UNAUTHORIZED", "metrics need Authorization: Bearer <token>")
    if not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise APIError(403, "FORBIDDEN", "wrong metrics token")


@blueprint.get("/metrics")
async def get_metrics() -> Response:
    """Prometheus text format. Not under /api: no user identity, its own access rule."""
    settings: Settings = current_app.config["SETTINGS"]
    _check_access(settings)
    body = await run_sync(_render)(_registry(), ScrapeTimeCollector())
    return Response(body, status=200, content_type=CONTENT_TYPE_LATEST)


# (route, method, status) -> the counter's and the histogram's children: a dict look-up per
# request instead of two labels() calls (each validates and takes a lock).
_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def count_request(started: float, response: Response) -> None:
    """Called by the request-id hooks (service/request_ids.py): one hook pair for both."""
    rule = request.url_rule
    key = (rule.rule if rule is not None else UNMATCHED, request.method, str(response.status_code))
    children = _children.get(key)
    if children is None:
        children = (HTTP_REQUESTS.labels(*key), HTTP_SECONDS.labels(key[0], key[1]))
        _children[key] = children
    children[0].inc()
    children[1].observe(time.perf_counter() - started)


def install_http_metrics(app: Quart) -> None:
    """Times every request and counts its answer, the scrape itself included (through the
    request-id hooks, installed after this)."""
    app.extensions["vm_api.count_request"] = count_request
