"""The worker's metrics: task runs (from huey's signals), operations, periodic jobs, drift
repairs and provider calls. Labels never hold user names or ids: only kinds and outcomes.

In the consumer they go to prometheus-client's multiprocess files (see service/metrics_setup.py)
and show in the API's /metrics. Recording is a few in-memory updates: cheap on every path.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from huey import signals
from prometheus_client import Counter, Gauge, Histogram

from tasks.queue import huey

# Seconds: from a few milliseconds (a local folder) to minutes (an image pull, a clone).
SLOW_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)

TASK_RUNS = Counter(
    "vm_api_task_runs", "huey task runs by task name and outcome", ["task", "outcome"]
)
OPERATIONS_RUNNING = Gauge(
    "vm_api_operations_running",
    "operations a worker is carrying out now, by type",
    ["type"],
    multiprocess_mode="livesum",  # a dead consumer's are not counted (mark_process_dead)
)
OPERATIONS = Counter(
    "vm_api_operations",
    "operations finished by the worker, by type and outcome",
    ["type", "outcome"],
)
OPERATION_SECONDS = Histogram(
    "vm_api_operation_duration_seconds",
    "time from claim to the recorded result, by operation type",
    ["type"],
    buckets=SLOW_BUCKETS,
)
QUEUE_WAIT = Histogram(
    "vm_api_operation_queue_wait_seconds",
    "time from enqueue (or the last retry's release) to the worker's claim, by operation type",
    ["type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
PERIODIC_RUNS = Counter(
    "vm_api_periodic_runs",
    "janitor and sweep runs: worked (found something), idle, skipped (previous run going)",
    ["job", "result"],
)
DRIFT_REPAIRS = Counter(
    "vm_api_drift_repairs",
    "janitor drift repairs by kind (orphan_removed, orphan_left, vanished, expired)",
    ["kind"],
)
PROVIDER_CALLS = Histogram(
    "vm_api_provider_call_seconds",
    "provider call latency by provider and call",
    ["provider", "call", "outcome"],
    buckets=SLOW_BUCKETS,
)

# huey signal -> outcome label (EXECUTING starts a run, it is no outcome).
_OUTCOMES = {
    signals.SIGNAL_COMPLETE: "complete",
    signals.SIGNAL_ERROR: "error",
    signals.SIGNAL_RETRYING: "retrying",
    signals.SIGNAL_REVOKED: "revoked",
    signals.SIGNAL_CANCELED: "canceled",
    signals.SIGNAL_EXPIRED: "expired",
    signals.SIGNAL_LOCKED: "locked",
    signals.SIGNAL_TIMEOUT: "timeout",
    signals.SIGNAL_RATE_LIMITED: "rate_limited",
    signals.SIGNAL_INTERRUPTED: "interrupted",
}
_installed = False


def _on_signal(signal: str, task: Any, *_args: Any, **_kwargs: Any) -> None:
    name = getattr(task, "name", "unknown")
    outcome = _OUTCOMES.get(signal)
    if outcome is not None:
        TASK_RUNS.labels(name, outcome).inc()


def install_task_metrics() -> None:
    """Registers the signal handler on huey, once per process (the consumer calls it)."""
    global _installed
    if not _installed:
        huey.signal()(_on_signal)
        _installed = True


class TimedProvider:
    """A provider whose every method call is timed into vm_api_provider_call_seconds."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider
        self.name = provider.name

    @property
    def unwrapped(self) -> Any:
        return self._provider

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._provider, attribute)
        if not callable(value) or attribute.startswith("_"):
            return value
        return _timed(self.name, attribute, value)


def _timed(provider: str, call: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        outcome = "error"
        try:
            result = function(*args, **kwargs)
            outcome = "ok"
            return result
        finally:
            PROVIDER_CALLS.labels(provider, call, outcome).observe(time.perf_counter() - start)

    return timed
