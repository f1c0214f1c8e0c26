"""What the data layer refuses, in terms the API maps onto HTTP statuses."""

from __future__ import annotations


class NotFound(Exception):
    """Missing, deleted, or another owner's: the caller cannot tell which."""


class NameTaken(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"a workspace named {name!r} already exists")


class InvalidTransition(Exception):
    """The action is not allowed now. `field` names what `status` is the status of, as the
    error body reports it: `status` (the workspace's) or `snapshot_status`."""

    def __init__(self, action: str, status: str, *, snapshot: bool = False) -> None:
        subject = "a snapshot" if snapshot else "a workspace"
        super().__init__(f"cannot {action.replace('_', ' ')} {subject} that is {status}")
        self.status = status
        self.field = "snapshot_status" if snapshot else "status"


class QuotaExceeded(Exception):
    """A per-user limit would be passed."""


class BadCursor(Exception):
    pass
