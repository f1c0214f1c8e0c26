"""Terminal tickets (stored by hash, used once) and the per-workspace count of open terminals."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from db_support import execute, query

from models.access import finish_access
from models.records import utcnow
from models.settings import Settings
from models.terminals import TooManyTerminals, begin_terminal, open_terminal_count
from models.tickets import purge_expired_tickets
from models.work import touch_operations
from service.tickets import issue_ticket, redeem_ticket, ticket_hash
from tasks.janitor import run_janitor

pytestmark = pytest.mark.usefixtures("migrated")

WORKSPACE = str(uuid.uuid4())
OTHER = str(uuid.uuid4())
FRESH = timedelta(seconds=30)


def test_a_ticket_is_stored_as_its_hash_only(migrated: Settings) -> None:
    ticket = issue_ticket("alice", WORKSPACE, migrated)

    rows = query(migrated, "SELECT * FROM terminal_tickets")
    assert len(rows) == 1
    assert ticket.value not in repr(rows)
    assert rows[0][0] == ticket_hash(ticket.value)
    lifetime = ticket.expires_at - utcnow()
    assert timedelta(seconds=25) < lifetime <= timedelta(seconds=30)


def test_a_ticket_names_its_user_once(migrated: Settings) -> None:
    ticket = issue_ticket("alice", WORKSPACE, migrated)

    assert redeem_ticket(ticket.value, WORKSPACE) == "alice"
    assert redeem_ticket(ticket.value, WORKSPACE) is None


def test_the_workspace_id_may_be_spelled_in_capitals(migrated: Settings) -> None:
    ticket = issue_ticket("alice", WORKSPACE, migrated)

    assert redeem_ticket(ticket.value, WORKSPACE.upper()) == "alice"


def test_a_ticket_for_another_workspace_is_refused_and_used_up(migrated: Settings) -> None:
    ticket = issue_ticket("alice", WORKSPACE, migrated)

    assert redeem_ticket(ticket.value, OTHER) is None
    assert redeem_ticket(ticket.value, WORKSPACE) is None


def test_an_expired_ticket_is_refused(migrated: Settings) -> None:
    from dataclasses import replace

    ticket = issue_ticket("alice", WORKSPACE, replace(migrated, terminal_ticket_seconds=1))
    # its second passed
    execute(migrated, "UPDATE terminal_tickets SET expires_at = '2000-01-01 00:00:00.000000'")

    assert redeem_ticket(ticket.value, WORKSPACE) is None


def test_unknown_tickets_are_refused() -> None:
    assert redeem_ticket("made-up", WORKSPACE) is None
    assert redeem_ticket("", WORKSPACE) is None


def test_the_janitor_purges_expired_tickets_only(migrated: Settings) -> None:
    issue_ticket("alice", WORKSPACE, migrated)
    issue_ticket("alice", OTHER, migrated)

    assert purge_expired_tickets(utcnow()) == 0
    assert purge_expired_tickets(utcnow() + timedelta(seconds=31)) == 2
    issue_ticket("alice", WORKSPACE, migrated)
    execute(migrated, "UPDATE terminal_tickets SET expires_at = '2000-01-01 00:00:00.000000'")
    assert run_janitor(migrated).terminal_tickets_purged == 1


def test_terminals_past_the_limit_are_refused() -> None:
    first = begin_terminal(WORKSPACE, "alice", "alice", 2, FRESH)
    begin_terminal(WORKSPACE, "alice", "admin", 2, FRESH)
    begin_terminal(OTHER, "alice", "alice", 2, FRESH)  # another workspace's count

    with pytest.raises(TooManyTerminals):
        begin_terminal(WORKSPACE, "alice", "alice", 2, FRESH)
    finish_access(first.id, detail={"exit_code": 0})
    assert open_terminal_count(WORKSPACE, FRESH) == 1
    begin_terminal(WORKSPACE, "alice", "alice", 2, FRESH)


def test_a_session_without_heartbeat_stops_counting(migrated: Settings) -> None:
    session = begin_terminal(WORKSPACE, "alice", "alice", 1, FRESH)
    execute(  # its web process died long ago
        migrated,
        "UPDATE operations SET heartbeat_at = '2000-01-01 00:00:00.000000' WHERE id = ?",
        (session.id,),
    )
    assert open_terminal_count(WORKSPACE, FRESH) == 0
    touch_operations([session.id])  # a live one keeps its place
    assert open_terminal_count(WORKSPACE, FRESH) == 1
