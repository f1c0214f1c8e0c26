"""The request id of the work in hand: set by the web process per request, and by a task from
its operation, so that log lines and new operations carry it (one grep follows a request)."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar, Token

request_id_var: ContextVar[str | None] = ContextVar("vm_api_request_id", default=None)

# What a client may send as X-Request-ID: short, and nothing that could break a log line.
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def current_request_id() -> str | None:
    return request_id_var.get()


def accepted_or_new(given: str | None) -> str:
    """The client's id if it is sane, else a new one (uuid4 hex)."""
    if given is not None and _ACCEPTED.fullmatch(given):
        return given
    return uuid.uuid4().hex


def set_request_id(value: str | None) -> Token[str | None]:
    return request_id_var.set(value)


def reset_request_id(token: Token[str | None]) -> None:
    request_id_var.reset(token)
