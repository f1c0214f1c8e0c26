"""JSON responses built here rather than by quart-schema.

quart-schema passes any dict or list a handler returns (and a headers dict) through a
pydantic TypeAdapter built anew for each response: about 0.1 ms a time, a tenth of a simple
GET. A ready Response goes through untouched.
"""

from __future__ import annotations

from typing import Any

from quart import Response, jsonify


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def json_text_response(text: str, headers: dict[str, str] | None = None) -> Response:
    """A body that is JSON already (built by the database)."""
    return Response(text, status=200, headers=headers, content_type="application/json")
