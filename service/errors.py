"""One error type and one set of handlers: every failure is JSON {"error", "code"}."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from quart import Quart, Response, jsonify, request
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from models.errors import BadCursor, InvalidTransition, NameTaken, NotFound, QuotaExceeded
from models.hosts import NoLiveHost

log = logging.getLogger("vm_api.errors")


class APIError(Exception):
    def __init__(self, status: int, code: str, message: str, /, **extra: Any) -> None:
        # positional-only: `extra` may carry a body field named "status" (a workspace's status)
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def error_response(
    http_status: int, code: str, message: str, /, **extra: Any
) -> tuple[Response, int]:
    # positional-only: `extra` may carry a body field named "status" (a workspace's status)
    return jsonify({"error": message, "code": code, **extra}), http_status


def _describe(error: Exception) -> str:
    """A one-line, human summary of what was wrong with the request."""
    if not isinstance(error, ValidationError):
        return str(error) or "invalid request"
    parts = []
    for detail in error.errors()[:5]:
        field = ".".join(str(part) for part in detail["loc"])
        if detail["type"] == "extra_forbidden":
            parts.append(f"unknown field {field!r}")
        elif detail["type"] == "missing":
            parts.append(f"missing field {field!r}")
        elif not field:
            parts.append("request body must be a JSON object")
        else:
            # our own validators' messages come prefixed with pydantic's "Value error, "
            parts.append(f"{field}: {detail['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(APIError)
    async def api_error(error: APIError) -> tuple[Response, int]:
        return error_response(error.status, error.code, error.message, **error.extra)

    @app.errorhandler(RequestSchemaValidationError)
    async def invalid_request(error: RequestSchemaValidationError) -> tuple[Response, int]:
        return error_response(400, "VALIDATION_ERROR", _describe(error.validation_error))

    @app.errorhandler(NotFound)
    async def not_found(_error: NotFound) -> tuple[Response, int]:
        return error_response(404, "NOT_FOUND", "no such resource")

    @app.errorhandler(NameTaken)
    async def name_taken(error: NameTaken) -> tuple[Response, int]:
        return error_response(409, "NAME_TAKEN", str(error))

    @app.errorhandler(InvalidTransition)
    async def invalid_transition(error: InvalidTransition) -> tuple[Response, int]:
        return error_response(409, "INVALID_STATE", str(error), **{error.field: error.status})

    @app.errorhandler(QuotaExceeded)
    async def quota_exceeded(error: QuotaExceeded) -> tuple[Response, int]:
        return error_response(403, "QUOTA_EXCEEDED", str(error))

    @app.errorhandler(NoLiveHost)
    async def no_live_host(error: NoLiveHost) -> tuple[Response, int]:
        return error_response(503, "NO_LIVE_HOST", str(error))

    @app.errorhandler(BadCursor)
    async def bad_cursor(error: BadCursor) -> tuple[Response, int]:
        return error_response(400, "INVALID_CURSOR", str(error))

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> tuple[Response, int]:
        status = error.code or 500
        code = _HTTP_CODES.get(status, (error.name or "error").upper().replace(" ", "_"))
        messages = {
            400: "request body is not valid JSON" if request.is_json else "bad request",
            404: f"no such path: {request.path}",
            405: f"method {request.method} is not allowed for {request.path}",
            413: "request body is larger than 1 MiB",
        }
        message = messages.get(status) or error.description or error.name or "error"
        response, status = error_response(status, code, message)
        allowed = getattr(error, "valid_methods", None)
        if status == 405 and allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response, status

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> tuple[Response, int]:
        log.exception("unhandled error", exc_info=error)
        return error_response(500, "INTERNAL_ERROR", "internal error; the request was not applied")
