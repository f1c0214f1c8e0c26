"""The trash's request and response shapes (docs/trash.md)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.schemas import NAME_PATTERN, Snapshot, StrictModel, Workspace


class TrashEntry(BaseModel):
    id: str = Field(description="the deleted workspace's id")
    name: str
    owner: str
    deleted_at: str | None
    purge_after: str | None = Field(description="when the janitor purges it")
    deleted_by: str | None = Field(description="who deleted it: its owner, an admin or janitor")
    reason: str | None = Field(description="why, e.g. 'ttl expired'")
    size_bytes: int | None = Field(description="the final snapshot's size, volume included")
    snapshot: Snapshot | None
    workspace: Workspace = Field(description="the workspace as it was when it was deleted")


class TrashList(BaseModel):
    items: list[TrashEntry]


class TrashRestore(StrictModel):
    name: str | None = Field(
        default=None,
        pattern=NAME_PATTERN,
        description="a new name, needed when another workspace has taken the old one",
    )


class TrashPurged(BaseModel):
    id: str
    operation_id: str = Field(description="the delete that removes the final snapshot")
