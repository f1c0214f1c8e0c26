"""Opaque keyset cursors: newest first, by (time, id)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from models.errors import BadCursor
from models.records import Page

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def encode_cursor(moment: datetime, row_id: str) -> str:
    raw = json.dumps([moment.strftime(_TIME_FORMAT), row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    if len(cursor) > 200:
        raise BadCursor("cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment_text, row_id = json.loads(raw)
        if not isinstance(row_id, str) or not isinstance(moment_text, str):
            raise ValueError
        return datetime.strptime(moment_text, _TIME_FORMAT), row_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadCursor("cursor is malformed") from None


def page_of(rows: list[Any], limit: int, moment_of: Callable[[Any], datetime]) -> Page:
    """Turn up to limit + 1 fetched records into a page; the extra one only says there is more."""
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(moment_of(last), last.id)
    return Page(items=rows[:limit], next_cursor=next_cursor)
