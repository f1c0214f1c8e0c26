"""Statuses, operation types and the one transition table that decides what is allowed."""

from __future__ import annotations

from enum import StrEnum


class WorkspaceStatus(StrEnum):
    CREATING = "creating"
    RUNNING = "running"
    STARTING = "starting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    RESTARTING = "restarting"
    RESTORING = "restoring"
    DELETING = "deleting"
    FAILED = "failed"
    DELETED = "deleted"  # kept for the operation history; never shown through the API


class OperationType(StrEnum):
    CREATE = "create"
    DELETE = "delete"
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    REBUILD = "rebuild"
    SNAPSHOT = "snapshot"
    SNAPSHOT_RESTORE = "snapshot_restore"
    SNAPSHOT_DELETE = "snapshot_delete"


class AccessType(StrEnum):
    """A person's direct use of a running workspace, recorded in its operation history as it
    happens (never queued): who ran what, and how it ended."""

    EXEC = "exec"
    TERMINAL = "terminal"
    FILE_UPLOAD = "file_upload"
    FILE_DOWNLOAD = "file_download"


# Every value an operation's `operation_type` can take.
OPERATION_TYPE_NAMES = tuple(t.value for t in OperationType) + tuple(a.value for a in AccessType)


class OperationStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"  # revoked by an operator before it ran


class SnapshotStatus(StrEnum):
    CREATING = "creating"
    READY = "ready"
    FAILED = "failed"
    DELETING = "deleting"


S = WorkspaceStatus
T = OperationType

# action -> (statuses it may start from, transitional status while it runs, status on success)
# `None` as the transitional status means the workspace keeps its status while the work runs.
TRANSITIONS: dict[
    OperationType, tuple[frozenset[WorkspaceStatus], WorkspaceStatus | None, WorkspaceStatus | None]
] = {
    T.CREATE: (frozenset(), S.CREATING, S.RUNNING),
    T.START: (frozenset({S.STOPPED}), S.STARTING, S.RUNNING),
    T.STOP: (frozenset({S.RUNNING}), S.STOPPING, S.STOPPED),
    T.RESTART: (frozenset({S.RUNNING, S.STOPPED}), S.RESTARTING, S.RUNNING),
    T.REBUILD: (frozenset({S.RUNNING, S.STOPPED, S.FAILED}), S.CREATING, S.RUNNING),
    T.SNAPSHOT: (frozenset({S.RUNNING, S.STOPPED}), None, None),
    T.SNAPSHOT_RESTORE: (frozenset({S.RUNNING, S.STOPPED, S.FAILED}), S.RESTORING, S.RUNNING),
    T.SNAPSHOT_DELETE: (frozenset(set(S) - {S.DELETED, S.DELETING}), None, None),
    # Delete wins over whatever is in flight: it is allowed from every live status.
    T.DELETE: (frozenset(set(S) - {S.DELETED, S.DELETING}), S.DELETING, S.DELETED),
}

# Where a workspace goes back to when an action fails: a failed stop or start leaves it as it
# was; a failed create, rebuild or restore leaves nothing usable behind.
ON_FAILURE: dict[OperationType, WorkspaceStatus | None] = {
    T.CREATE: S.FAILED,
    T.START: S.STOPPED,
    T.STOP: S.RUNNING,
    T.RESTART: S.FAILED,
    T.REBUILD: S.FAILED,
    T.SNAPSHOT: None,
    T.SNAPSHOT_RESTORE: S.FAILED,
    T.SNAPSHOT_DELETE: None,
    T.DELETE: S.FAILED,
}

# Statuses that count against a user's running-workspace limit.
ACTIVE_STATUSES = frozenset({S.CREATING, S.RUNNING, S.STARTING, S.RESTARTING, S.RESTORING})
# Statuses in which a worker is expected to be doing something for the workspace.
TRANSITIONAL_STATUSES = frozenset(
    {S.CREATING, S.STARTING, S.STOPPING, S.RESTARTING, S.RESTORING, S.DELETING}
)
VISIBLE_STATUSES = tuple(s for s in S if s is not S.DELETED)


def can_apply(action: OperationType, status: WorkspaceStatus) -> bool:
    return status in TRANSITIONS[action][0]


def transitional_status(action: OperationType) -> WorkspaceStatus | None:
    return TRANSITIONS[action][1]


def success_status(action: OperationType) -> WorkspaceStatus | None:
    return TRANSITIONS[action][2]


def failure_status(action: OperationType) -> WorkspaceStatus | None:
    return ON_FAILURE[action]
