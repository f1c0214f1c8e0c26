"""The shape every per-workspace task shares: claim, do the slow work, record the result."""

from __future__ import annotations

import logging
from collections.abc import Callable

from huey.exceptions import RetryTask

from models.work import (
    Claim,
    ClaimRefused,
    Outcome,
    claim_operation,
    complete_operation,
    fail_operation,
    release_operation,
)
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
    heartbeat.track(operation_id, settings.heartbeat_timeout)
    try:
        outcome = work(get_provider(claim.workspace.provider, settings), claim)
    except ProviderError as exc:
        attempts = claim.operation.attempts
        if exc.transient and attempts < settings.max_attempts:
            delay = TRANSIENT_RETRY_SECONDS * 2 ** (attempts - 1)
            log.warning("operation %s: %s; retrying in %.0f s", operation_id, exc, delay)
            release_operation(operation_id)
            raise RetryTask(delay=delay) from exc
        log.warning("operation %s failed: %s", operation_id, exc)
        fail_operation(operation_id, str(exc))
    except Exception:
        # A bug or a database hiccup, not the provider's verdict: hand the claim back so that
        # huey's retry (or later the sweep) runs it again.
        log.exception("operation %s raised; releasing it for a retry", operation_id)
        release_operation(operation_id)
        raise
    else:
        complete_operation(operation_id, outcome)
    finally:
        heartbeat.untrack(operation_id)
