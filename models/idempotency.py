"""Idempotency keys: the first answer to a POST, kept so that a retry gets it again.

A request claims its key with one INSERT that does nothing when the key exists (portable to
PostgreSQL: no select-then-insert race, whatever the isolation level). The claimant does the
work and then records the answer; everyone else gets that answer, or is told it is on its way.
A claimant that died (a crash, a kill) never records anything: its claim counts as abandoned
after ABANDONED_AFTER and the next request with the key takes it over with a conditional UPDATE.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from pony.orm import db_session

from models.records import sql_time, utcnow
from models.store import active, write_session

IN_PROGRESS = "in_progress"
COMPLETED = "completed"
KEY_LIFETIME = timedelta(hours=24)
# Far longer than any request takes (SQLite's busy timeout is 30 s), so a live claimant is
# never overtaken; short enough that a crashed one does not hold the key up for long.
ABANDONED_AFTER = timedelta(seconds=60)


@dataclass(frozen=True)
class Fingerprint:
    """What makes two requests with one key the same request."""

    method: str
    path: str
    body_sha256: str


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Claimed:
    """This request owns the key: it does the work, then finishes or releases the claim."""

    claim_id: str


class Busy(Enum):
    IN_PROGRESS = "in_progress"  # another request with this key is still working on it
    REUSED = "reused"  # the key was first used for a different request


@dataclass(frozen=True)
class KeyRecord:
    status: str
    fingerprint: Fingerprint
    response: StoredResponse | None
    created_at: str
    expires_at: str


_COLUMNS = (
    "owner, idempotency_key, method, path, body_sha256, status, claim_id, claimed_at,"
    " created_at, expires_at"
)


def _claim_values(owner: str, key: str, fingerprint: Fingerprint, now: datetime) -> dict[str, str]:
    return {
        "owner": owner,
        "key": key,
        "method": fingerprint.method,
        "path": fingerprint.path,
        "body_sha256": fingerprint.body_sha256,
        "status": IN_PROGRESS,
        "claim_id": str(uuid.uuid4()),
        "now": sql_time(now),
        "expires_at": sql_time(now + KEY_LIFETIME),
    }


def _response(status: int | None, body: str | None, headers: str | None) -> StoredResponse | None:
    if status is None:
        return None
    return StoredResponse(status, body or "", json.loads(headers or "{}"))


def _take_over(values: dict[str, str], previous_claim: str) -> bool:
    """Replace an expired key or an abandoned claim, unless someone else replaced it first."""
    cursor = active().db.execute(
        """UPDATE idempotency_keys SET method = $method, path = $path,
             body_sha256 = $body_sha256, status = $status, claim_id = $claim_id,
             claimed_at = $now, created_at = $now, expires_at = $expires_at,
             response_status = NULL, response_body = NULL, response_headers = NULL
           WHERE owner = $owner AND idempotency_key = $key AND claim_id = $previous_claim""",
        {},
        {**values, "previous_claim": previous_claim},
    )
    return bool(cursor.rowcount == 1)


@write_session
def claim_key(
    owner: str, key: str, fingerprint: Fingerprint, now: datetime | None = None
) -> Claimed | StoredResponse | Busy:
    """Claim `key` for this request, or say why not: its stored answer, or Busy."""
    db = active().db
    now = now or utcnow()
    values = _claim_values(owner, key, fingerprint, now)
    # Twice at most: on a database without SQLite's immediate lock, the row found taken may be
    # purged before it is read.
    for _ in range(2):
        cursor = db.execute(
            f"""INSERT INTO idempotency_keys ({_COLUMNS})
            VALUES ($owner, $key, $method, $path, $body_sha256, $status, $claim_id, $now, $now,
                    $expires_at)
            ON CONFLICT (owner, idempotency_key) DO NOTHING""",
            {},
            values,
        )
        if cursor.rowcount == 1:
            return Claimed(values["claim_id"])
        rows = db.select(
            """SELECT method, path, body_sha256, status, claim_id,
                 response_status, response_body, response_headers,
                 CASE WHEN expires_at <= $now THEN 1 ELSE 0 END,
                 CASE WHEN claimed_at <= $abandoned_before THEN 1 ELSE 0 END
            FROM idempotency_keys WHERE owner = $owner AND idempotency_key = $key""",
            {},
            {**values, "abandoned_before": sql_time(now - ABANDONED_AFTER)},
        )
        if not rows:
            continue
        method, path, body_sha256, status, claim_id, r_status, r_body, r_headers, expired, old = (
            rows[0]
        )
        if expired:  # not purged yet, but gone as far as anyone can tell
            return Claimed(values["claim_id"]) if _take_over(values, claim_id) else Busy.IN_PROGRESS
        if Fingerprint(method, path, body_sha256) != fingerprint:
            return Busy.REUSED
        if status == COMPLETED:
            response = _response(r_status, r_body, r_headers)
            assert response is not None, "a completed key has its response"
            return response
        if old and _take_over(values, claim_id):
            return Claimed(values["claim_id"])
        return Busy.IN_PROGRESS
    return Busy.IN_PROGRESS


@write_session
def finish_key(owner: str, key: str, claim_id: str, response: StoredResponse) -> bool:
    """Record the answer of the claim; False if the claim was taken over in the meantime."""
    cursor = active().db.execute(
        """UPDATE idempotency_keys SET status = $completed, response_status = $status,
             response_body = $body, response_headers = $headers
           WHERE owner = $owner AND idempotency_key = $key AND claim_id = $claim_id
             AND status = $in_progress""",
        {},
        {
            "completed": COMPLETED,
            "in_progress": IN_PROGRESS,
            "status": response.status,
            "body": response.body,
            "headers": json.dumps(response.headers, separators=(",", ":")),
            "owner": owner,
            "key": key,
            "claim_id": claim_id,
        },
    )
    return bool(cursor.rowcount == 1)


@write_session
def release_key(owner: str, key: str, claim_id: str) -> bool:
    """Drop an unfinished claim, so that a retry can do the work."""
    cursor = active().db.execute(
        """DELETE FROM idempotency_keys
           WHERE owner = $owner AND idempotency_key = $key AND claim_id = $claim_id
             AND status = $in_progress""",
        {},
        {"owner": owner, "key": key, "claim_id": claim_id, "in_progress": IN_PROGRESS},
    )
    return bool(cursor.rowcount == 1)


@db_session
def select_key(owner: str, key: str) -> KeyRecord | None:
    rows = active().db.select(
        """SELECT status, method, path, body_sha256, response_status, response_body,
             response_headers, created_at, expires_at
        FROM idempotency_keys WHERE owner = $owner AND idempotency_key = $key""",
        {},
        {"owner": owner, "key": key},
    )
    if not rows:
        return None
    status, method, path, body_sha256, r_status, r_body, r_headers, created, expires = rows[0]
    return KeyRecord(
        status=status,
        fingerprint=Fingerprint(method, path, body_sha256),
        response=_response(r_status, r_body, r_headers),
        created_at=str(created),
        expires_at=str(expires),
    )


@write_session
def purge_expired_keys(now: datetime | None = None) -> int:
    """Delete every key past its lifetime (answered or abandoned); served by its index."""
    cursor = active().db.execute(
        "DELETE FROM idempotency_keys WHERE expires_at <= $now",
        {},
        {"now": sql_time(now or utcnow())},
    )
    return int(cursor.rowcount)
