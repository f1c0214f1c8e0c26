"""Webhooks: POST each delivery to VM_API_WEBHOOK_URL, signed, until the receiver takes it.

The sweep (every VM_API_PROVISIONER_INTERVAL seconds) turns new changes into deliveries and
enqueues them; `deliver_webhook` makes one attempt and, on failure, schedules the next with
exponential backoff (VM_API_WEBHOOK_RETRY_BASE seconds, doubling, at most an hour apart) until
a day has passed. Each attempt is a huey task, so deliveries show in `vm-api tasks`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta

import httpx

from models.records import utcnow
from models.settings import Settings
from models.webhooks import (
    GIVE_UP_AFTER,
    collect_deliveries,
    overdue_deliveries,
    pending_delivery,
    record_attempt,
)
from tasks.queue import current_settings, huey

log = logging.getLogger("vm_api.webhooks")

SIGNATURE_HEADER = "X-VM-API-Signature"
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_RETRY_SECONDS = 3600.0


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the raw body>`, as receivers check it."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(attempts: int, base: float) -> float:
    """Before attempt `attempts + 1`: base, 2 base, 4 base, ... capped at an hour."""
    return min(base * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)


def _post(settings: Settings, event_type: str, delivery_id: str, body: bytes) -> str | None:
    """None when the receiver took it (2xx), else why not."""
    assert settings.webhook_url is not None
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "vm-api-webhooks",
        "X-VM-API-Event": event_type,
        "X-VM-API-Delivery": delivery_id,
    }
    if settings.webhook_secret:
        headers[SIGNATURE_HEADER] = signature(settings.webhook_secret, body)
    try:
        response = httpx.post(settings.webhook_url, content=body, headers=headers, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


@huey.task(retries=0)
def deliver_webhook(delivery_id: str) -> None:
    settings = current_settings()
    delivery = pending_delivery(delivery_id)
    if delivery is None or settings.webhook_url is None:
        return
    error = _post(settings, delivery.event_type, delivery.id, delivery.body.encode())
    if error is None:
        record_attempt(delivery_id, None, None)
        log.info("webhook %s %s delivered", delivery.event_type, delivery_id)
        return
    attempts = delivery.attempts + 1
    delay = retry_delay(attempts, settings.webhook_retry_base)
    give_up = utcnow() + timedelta(seconds=delay) - delivery.created_at > GIVE_UP_AFTER
    record_attempt(delivery_id, error, None if give_up else delay)
    if give_up:
        log.error("webhook %s %s: gave up after %d attempts: %s", delivery.event_type,
                  delivery_id, attempts, error)  # fmt: skip
        return
    log.warning("webhook %s %s: %s; attempt %d in %.0f s", delivery.event_type, delivery_id,
                error, attempts + 1, delay)  # fmt: skip
    deliver_webhook.schedule(args=(delivery_id,), delay=delay)


def run_webhooks(settings: Settings) -> int:
    """Make deliveries of what changed and enqueue them, and those whose task was lost; the
    number enqueued. Nothing without VM_API_WEBHOOK_URL."""
    if settings.webhook_url is None:
        return 0
    ids = collect_deliveries(settings.expiry_warning)
    ids += overdue_deliveries(grace_seconds=max(60, settings.requeue_after * 2))
    for delivery_id in ids:
        deliver_webhook(delivery_id)
    if ids:
        log.info("webhooks: %d deliveries enqueued", len(ids))
    return len(ids)
