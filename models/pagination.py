"""Opaque keyset cursors: newest first, by (time, id)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from models.errors import BadCursor

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


def next_cursor(
    rows: Sequence[Any], limit: int, position: Callable[[Any], tuple[datetime, str]]
) -> str | None:
    """Pages fetch limit + 1 rows: the extra one only says there is more. Then the next page
    starts after the last row shown, whose (time, id) `position` gives."""
    if len(rows) <= limit:
        return None
    return encode_cursor(*position(rows[limit - 1]))
