"""Query-string parsing with explicit 400s: an invalid filter is an error, never ignored."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict

from service.errors import APIError

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# ASCII digits only: str.isdigit() also takes superscripts (int() raises) and full-width
# digits (int() reads them).
_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


def _invalid(name: str, message: str) -> APIError:
    return APIError(400, "INVALID_PARAMETER", f"{name}: {message}")


def check_known(args: MultiDict, allowed: Iterable[str]) -> None:
    """Unknown and repeated parameters are refused: only the first value would be read."""
    names = list(allowed)
    unknown = sorted(set(args.keys()) - set(names))
    if unknown:
        raise _invalid(unknown[0], f"unknown query parameter; allowed: {', '.join(names)}")
    repeated = sorted(key for key in set(args.keys()) if len(args.getlist(key)) > 1)
    if repeated:
        raise _invalid(repeated[0], "given more than once")


def limit(args: MultiDict) -> int:
    raw = args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not _WHOLE_NUMBER.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise _invalid("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_PASCAL_CASE = re.compile(r"(?:[A-Z][a-z0-9]+)+")


def snake_case(value: str) -> str:
    """The original's PascalCase values (`SnapshotRestore`) in today's spelling."""
    return _WORD_START.sub("_", value).lower()


def choice(args: MultiDict, name: str, choices: Iterable[str]) -> str | None:
    """One of `choices`, in their spelling or the original's PascalCase (`Pending`)."""
    raw = args.get(name)
    options = list(choices)
    if raw is not None and _PASCAL_CASE.fullmatch(raw) and snake_case(raw) in options:
        raw = snake_case(raw)
    if raw is not None and raw not in options:
        raise _invalid(name, f"must be one of {', '.join(options)}")
    return raw


def uuid_param(args: MultiDict, name: str) -> str | None:
    raw = args.get(name)
    if raw is None:
        return None
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise _invalid(name, "must be a UUID") from None


def next_link(path: str, args: MultiDict, cursor: str | None) -> dict[str, str]:
    if cursor is None:
        return {}
    query = {key: value for key, value in args.items() if key != "cursor"}
    query["cursor"] = cursor
    return {"Link": f'<{path}?{urlencode(query)}>; rel="next"'}


def path_uuid(value: str) -> str:
    """A malformed id in a path is simply not found (never a hint that something exists)."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise APIError(404, "NOT_FOUND", "no such resource") from None


def flag(args: MultiDict, name: str) -> bool:
    """A true/false query parameter; absent is false."""
    raw = args.get(name)
    if raw is None or raw in ("false", "0"):
        return False
    if raw in ("true", "1", ""):
        return True
    raise _invalid(name, "must be true or false")
