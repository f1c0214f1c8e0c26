"""One-time terminal tickets, stored by their SHA-256 only.

A ticket is redeemed with one DELETE of its row: of two processes (or two connections)
presenting the same ticket at once, exactly one deletes it and gets its user. A ticket that is
looked up is gone, whether it was still valid, expired, or for another workspace: a ticket
that was tried in the wrong place is as good as leaked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from models.records import sql_time, utcnow
from models.store import active, write_session


@dataclass(frozen=True)
class TicketRow:
    user: str
    workspace_id: str
    expires_at: datetime


@write_session
def insert_ticket(
    ticket_sha256: str,
    user: str,
    workspace_id: str,
    lifetime: timedelta,
    now: datetime | None = None,
) -> datetime:
    """Store the hash of a new ticket; returns when it expires."""
    now = now or utcnow()
    expires_at = now + lifetime
    active().db.execute(
        """INSERT INTO terminal_tickets
             (ticket_sha256, user_name, workspace_id, created_at, expires_at)
           VALUES ($ticket_sha256, $user, $workspace_id, $now, $expires_at)""",
        {},
        {
            "ticket_sha256": ticket_sha256,
            "user": user,
            "workspace_id": workspace_id,
            "now": sql_time(now),
            "expires_at": sql_time(expires_at),
        },
    )
    return expires_at


@write_session
def take_ticket(ticket_sha256: str) -> TicketRow | None:
    """Remove the ticket and say what it was; None if it does not exist (or was used)."""
    db = active().db
    rows = db.select(
        """SELECT user_name, workspace_id, expires_at FROM terminal_tickets
           WHERE ticket_sha256 = $ticket_sha256""",
        {},
        {"ticket_sha256": ticket_sha256},
    )
    if not rows:
        return None
    cursor = db.execute(
        "DELETE FROM terminal_tickets WHERE ticket_sha256 = $ticket_sha256",
        {},
        {"ticket_sha256": ticket_sha256},
    )
    if cursor.rowcount != 1:  # someone else took it in between (a database without the lock)
        return None
    user, workspace_id, expires_at = rows[0]
    if isinstance(expires_at, str):
        expires_at = datetime.fromisoformat(expires_at)
    return TicketRow(user=user, workspace_id=workspace_id, expires_at=expires_at)


@write_session
def purge_expired_tickets(now: datetime | None = None) -> int:
    """Delete every ticket past its lifetime; served by its index."""
    cursor = active().db.execute(
        "DELETE FROM terminal_tickets WHERE expires_at <= $now",
        {},
        {"now": sql_time(now or utcnow())},
    )
    return int(cursor.rowcount)
