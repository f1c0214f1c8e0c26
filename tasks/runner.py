"""The shape every per-workspace task shares: claim, do the slow work, record the result."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from huey.exceptions import RetryTask

from models.records import utcnow
from models.request_context import reset_request_id, set_request_id
from models.work import (
    Claim,
    ClaimRefused,
    Outcome,
    claim_operation,
    complete_operation,
    fail_operation,
    release_operation,
)
from tasks import metrics
from tasks.heartbeat import heartbeat
from tasks.providers import get_provider
from tasks.providers.base import Provider, ProviderError
from tasks.queue import current_settings

log = logging.getLogger("vm_api.tasks")

# Another operation of the same workspace holds it; look again this soon.
BUSY_RETRY_SECONDS = 0.5
# A transient provider failure (daemon down) waits this long, doubling per attempt.
TRANSIENT_RETRY_SECONDS = 5.0

Work = Callable[[Provider, Claim], Outcome]


def execute(operation_id: str, work: Work) -> None:
    settings = current_settings()
    claim = claim_operation(operation_id, settings.max_attempts)
    if claim is ClaimRefused.DONE:
        return
    if claim is ClaimRefused.BLOCKED:
        raise RetryTask(delay=BUSY_RETRY_SECONDS)
    # The request that asked for this operation: this task's log lines carry its id.
    token = set_request_id(claim.operation.request_id)
    try:
        _carry_out(operation_id, work, claim)
    finally:
        reset_request_id(token)  # huey's worker thread goes on to other tasks


def _carry_out(operation_id: str, work: Work, claim: Claim) -> None:
    settings = current_settings()
    kind = claim.operation.operation_type
    if claim.queued_at is not None:
        waited = (utcnow() - claim.queued_at).total_seconds()
        metrics.QUEUE_WAIT.labels(kind).observe(max(waited, 0.0))
    log.info("operation %s (%s) of workspace %s started", operation_id, kind, claim.workspace.id)
    started = time.perf_counter()
    running = metrics.OPERATIONS_RUNNING.labels(kind)
    running.inc()
    heartbeat.track(operation_id, settings.heartbeat_timeout)
    outcome_label = "failed"
    try:
        provider = get_provider(claim.workspace.provider, settings, claim.workspace.host)
        outcome = work(provider, claim)
    except ProviderError as exc:
        attempts = claim.operation.attempts
        if exc.transient and attempts < settings.max_attempts:
            delay = TRANSIENT_RETRY_SECONDS * 2 ** (attempts - 1)
            log.warning("operation %s: %s; retrying in %.0f s", operation_id, exc, delay)
            release_operation(operation_id)
            outcome_label = "retried"
            raise RetryTask(delay=delay) from exc
        log.warning("operation %s failed: %s", operation_id, exc)
        fail_operation(operation_id, str(exc))
    except Exception:
        # A bug or a database hiccup, not the provider's verdict: hand the claim back so that
        # huey's retry (or later the sweep) runs it again.
        log.exception("operation %s raised; releasing it for a retry", operation_id)
        release_operation(operation_id)
        outcome_label = "released"
        raise
    else:
        complete_operation(operation_id, outcome)
        outcome_label = "success"
    finally:
        heartbeat.untrack(operation_id)
        running.dec()
        seconds = time.perf_counter() - started
        metrics.OPERATIONS.labels(kind, outcome_label).inc()
        metrics.OPERATION_SECONDS.labels(kind).observe(seconds)
        log.info("operation %s (%s): %s in %.3f s", operation_id, kind, outcome_label, seconds)
