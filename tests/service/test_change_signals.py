"""On PostgreSQL: change events are handed out in commit order and wake the feed at once."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest

import service.change_feed as change_feed
from models.records import sql_time, utcnow
from models.settings import Settings
from service.change_feed import ChangeFeed

pytestmark = pytest.mark.postgres


@pytest.fixture
def on_postgres(migrated: Settings) -> Settings:
    if migrated.database is None:
        pytest.skip("the data is on SQLite in this run (TEST_DATABASE_URL unset)")
    return migrated


def _connect(settings: Settings) -> Any:
    import psycopg2

    assert settings.database is not None
    return psycopg2.connect(**settings.database.connect_kwargs)


def _insert_workspace(cursor: Any, name: str) -> str:
    workspace_id, now = str(uuid.uuid4()), sql_time(utcnow())
    cursor.execute(
        "INSERT INTO workspaces (id, owner, name, provider, status, created_at, updated_at,"
        " metadata) VALUES (%s, 'alice', %s, 'local', 'creating', %s, %s, '{}')",
        (workspace_id, name, now, now),
    )
    return workspace_id


def test_events_get_their_ids_in_commit_order(on_postgres: Settings) -> None:
    first, second = _connect(on_postgres), _connect(on_postgres)
    try:
        first_id = _insert_workspace(first.cursor(), "first")  # its transaction stays open
        done = threading.Event()
        second_id: list[str] = []

        def other_writer() -> None:
            second_id.append(_insert_workspace(second.cursor(), "second"))
            second.commit()
            done.set()

        thread = threading.Thread(target=other_writer)
        thread.start()
        assert not done.wait(0.5)  # waits for the first writer's commit, not past it
        first.commit()
        assert done.wait(10)
        thread.join()
        cursor = first.cursor()
        cursor.execute("SELECT object_id FROM change_events ORDER BY id")
        assert [row[0] for row in cursor.fetchall()] == [first_id, second_id[0]]
    finally:
        first.close()
        second.close()


async def test_a_commit_wakes_the_feed_without_waiting_for_a_poll(
    on_postgres: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(change_feed, "LISTENING_FALLBACK_SECONDS", 60.0)
    feed = ChangeFeed(poll_seconds=60.0, listen_to=on_postgres.database)  # no poll in time
    subscription = await feed.subscribe(None, None)
    try:
        await asyncio.sleep(0.3)  # the listener connects and the poller goes to sleep

        def write() -> str:
            connection = _connect(on_postgres)
            try:
                workspace_id = _insert_workspace(connection.cursor(), "woken")
                connection.commit()
            finally:
                connection.close()
            return workspace_id

        workspace_id = await asyncio.to_thread(write)
        event = await asyncio.wait_for(subscription.queue.get(), 5)
        assert event is not None and event.workspace_id == workspace_id
    finally:
        await feed.close()
