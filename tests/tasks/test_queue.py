"""The SQLite queue storage: its own file, synchronous=NORMAL, batched enqueues."""

from __future__ import annotations

import sqlite3

import pytest

from models.settings import Settings
from tasks.dispatch import enqueue_operations
from tasks.queue import QueueStorage, huey

# both about the SQLite queue file itself (the Redis queue: tests/e2e/test_redis_queue.py)
pytestmark = [pytest.mark.usefixtures("migrated"), pytest.mark.sqlite_only]


def test_the_queue_lives_in_its_own_file_with_normal_sync(migrated: Settings) -> None:
    assert isinstance(huey.storage, QueueStorage)
    assert migrated.resolved_queue_path != migrated.db_path
    with huey.storage.db() as cursor:
        assert cursor.execute("pragma synchronous").fetchone() == (1,)
        assert cursor.execute("pragma journal_mode").fetchone() == ("wal",)


def test_a_batch_is_enqueued_in_one_go_and_reads_back_task_by_task(migrated: Settings) -> None:
    huey.flush()
    operations = [(f"op-{index}", "delete" if index % 2 else "create") for index in range(50)]
    assert enqueue_operations(operations)
    assert huey.pending_count() == 50
    read = [huey.dequeue() for _ in range(50)]
    assert [(task.name, task.args) for task in read] == [
        ("cleanup_workspace" if kind == "delete" else "provision_workspace", (op_id,))
        for op_id, kind in operations
    ]
    with sqlite3.connect(migrated.resolved_queue_path) as connection:
        assert connection.execute("SELECT count(*) FROM task").fetchone() == (0,)
