"""The OpenAPI document, completed with what every /api operation shares.

Every /api operation reads the caller from one of the identity headers and may answer with
the common errors; writing that on each route would be noise and easy to forget, so it is
added here, in one place.
"""

from __future__ import annotations

from typing import Any

from quart_schema import OpenAPIProvider

from models.settings import Settings
from service.auth import DEV_HEADER, USER_NAME
from service.idempotency import OPENAPI_PARAMETER, OPENAPI_REUSED

# Integer keys, like quart-schema's own: the JSON provider sorts keys and cannot mix types.
COMMON_ERRORS = {
    400: "The request is malformed: bad JSON, a wrong type, an unknown field or parameter.",
    401: "No user identity header.",
    403: "A per-user limit would be passed.",
    404: "No such resource, or not the caller's.",
    405: "Method not allowed on this path.",
    409: "The resource's current status does not allow this.",
    413: "The body is larger than 1 MiB.",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "code"],
    "properties": {"error": {"type": "string"}, "code": {"type": "string"}},
}


def _identity_parameters(settings: Settings) -> list[dict[str, Any]]:
    descriptions = {
        settings.user_header: "The user, as the auth proxy sets it (VM_API_USER_HEADER; believed "
        "only from VM_API_TRUSTED_PROXIES).",
        DEV_HEADER: "The user, for local development: believed only on a request that did not "
        "come through a proxy (VM_API_DEV_IDENTITY).",
    }
    return [
        {
            "name": header,
            "in": "header",
            "required": False,
            "description": description,
            "schema": {"type": "string", "pattern": f"^(?:{USER_NAME.pattern})$"},
        }
        for header, description in descriptions.items()
    ]


# 200 answers that are not JSON, which quart-schema's models cannot describe.
_TEXT = {"type": "string"}
NON_JSON_ANSWERS: dict[tuple[str, str], tuple[str, str]] = {
    ("/api/v1/events", "get"): ("text/event-stream", "Server-sent events (docs/events.md)"),
    ("/api/v1/workspaces/{workspace_id}/events", "get"): (
        "text/event-stream",
        "Server-sent events of one workspace (docs/events.md)",
    ),
    ("/api/v1/workspaces/{workspace_id}/logs", "get"): ("text/plain", "The container's output"),
    ("/metrics", "get"): ("text/plain", "Prometheus text format (docs/observability.md)"),
    ("/api/v1/workspaces/{workspace_id}/files", "get"): (
        "application/octet-stream",
        "The file's bytes; a folder as application/x-tar",
    ),
}


class VmApiOpenAPIProvider(OpenAPIProvider):
    def schema(self) -> dict[str, Any]:
        document = super().schema()
        identity = _identity_parameters(self._app.config["SETTINGS"])
        document["components"]["schemas"]["Error"] = ERROR_SCHEMA
        error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if (path, method) in NON_JSON_ANSWERS:
                    media, description = NON_JSON_ANSWERS[(path, method)]
                    # an event's data is a JSON object (docs/events.md); the others are bytes
                    schema = {"type": "object"} if media == "text/event-stream" else _TEXT
                    operation.setdefault("responses", {}).setdefault(
                        200, {"description": description, "content": {media: {"schema": schema}}}
                    )
            if not path.startswith("/api/"):
                continue
            for method, operation in operations.items():
                if "requestBody" in operation:
                    operation["requestBody"]["required"] = True  # validate_request needs one
                operation.setdefault("parameters", []).extend(identity)
                responses = operation.setdefault("responses", {})
                if method == "post":  # every POST takes a key (service/idempotency.py)
                    operation["parameters"].append(OPENAPI_PARAMETER)
                    responses.setdefault(422, {"description": OPENAPI_REUSED, "content": error_ref})
                for status, description in COMMON_ERRORS.items():
                    responses.setdefault(status, {"description": description, "content": error_ref})
        return document
