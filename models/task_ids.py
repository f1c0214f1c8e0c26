"""The huey task ids that carried out an operation (operations.task_ids, a JSON list)."""

from __future__ import annotations

from pony.orm import db_session

from models.store import active


@db_session(immediate=True)
def record_task_ids(pairs: list[tuple[str, str]]) -> None:
    """Append each (operation id, task id): one statement for the whole batch."""
    if not pairs:
        return
    active().db.get_connection().executemany(
        "UPDATE operations SET task_ids = json_insert(COALESCE(task_ids, '[]'), '$[#]', ?)"
        " WHERE id = ?",
        [(task_id, operation_id) for operation_id, task_id in pairs],
    )


@db_session
def operation_of_task(task_id: str) -> str | None:
    """The operation a task id was recorded on (a scan of task_ids: operator lookups only)."""
    rows = active().db.select(
        "SELECT id FROM operations WHERE task_ids LIKE $pattern LIMIT 1",
        {},
        {"pattern": f'%"{task_id}"%'},
    )
    return rows[0] if rows else None
