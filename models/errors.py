"""What the data layer refuses, in terms the API maps onto HTTP statuses."""

from __future__ import annotations


class NotFound(Exception):
    """Missing, deleted, or another owner's: the caller cannot tell which."""


class NameTaken(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(f"a workspace named {name!r} already exists")


class InvalidTransition(Exception):
    """The action is not allowed now; `status` is the workspace's (or snapshot's) current one."""

    def __init__(self, action: str, status: str, subject: str = "a workspace") -> None:
        super().__init__(f"cannot {action.replace('_', ' ')} {subject} that is {status}")
        self.status = status


class QuotaExceeded(Exception):
    """A per-user limit would be passed."""


class BadCursor(Exception):
    pass
