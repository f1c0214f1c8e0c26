"""Reading operations on behalf of an API caller."""

from __future__ import annotations

from pony.orm import db_session, desc

from models.errors import NotFound
from models.pagination import decode_cursor, page_of
from models.records import OperationRecord, Page
from models.store import active


@db_session
def select_operation(operation_id: str, owner: str | None) -> OperationRecord:
    op = active().entities.Operation.get(id=operation_id)
    if op is None or (owner is not None and op.owner != owner):
        raise NotFound(operation_id)
    return OperationRecord.from_entity(op)


@db_session
def select_operations(
    owner: str | None,
    workspace_id: str | None,
    operation_type: str | None,
    status: str | None,
    limit: int,
    cursor: str | None,
) -> Page:
    """Newest first. Operations outlive their workspace, so a deleted one's history stays here."""
    query = active().entities.Operation.select()
    if owner is not None:
        query = query.filter(lambda o: o.owner == owner)
    if workspace_id is not None:
        query = query.filter(lambda o: o.workspace_id == workspace_id)
    if operation_type is not None:
        query = query.filter(lambda o: o.operation_type == operation_type)
    if status is not None:
        query = query.filter(lambda o: o.status == status)
    if cursor is not None:
        before, before_id = decode_cursor(cursor)
        query = query.filter(
            lambda o: o.started_at < before or (o.started_at == before and o.id < before_id)
        )
    rows = list(query.order_by(lambda o: (desc(o.started_at), desc(o.id)))[: limit + 1])
    return page_of(rows, limit, OperationRecord.from_entity, lambda row: row.started_at)
