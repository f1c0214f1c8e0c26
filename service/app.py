"""create_app(): the Quart application with its schema, error handlers and blueprints."""

from __future__ import annotations

from typing import Any, NoReturn

from quart import Quart, Request
from quart_schema import Info, QuartSchema

from models.catalogue import catalogue_for
from models.settings import Settings
from models.store import open_store
from service import __version__
from service.blueprints import (
    activity,
    admin_hosts,
    admin_tasks,
    docs,
    events,
    health,
    me,
    operation_cancel,
    operations,
    snapshots,
    templates,
    terminal,
    trash,
    workspace_exec,
    workspace_files,
    workspace_logs,
    workspaces,
)
from service.browser_safety import install_browser_safety
from service.dashboard import blueprint as dashboard
from service.errors import APIError, register_error_handlers
from service.idempotency import install_idempotency
from service.openapi import VmApiOpenAPIProvider
from service.read_lane import install_read_lane
from service.request_ids import install_request_ids
from tasks.queue import configure_queue

MAX_BODY_BYTES = 1024 * 1024


class APIRequest(Request):
    """Quart decodes the body before its JSON error handling starts: a body that is not UTF-8,
    or nested deeper than the parser can follow, would otherwise be a 500.

    Quart sizes a request's body limit when the request arrives, before routing: a file
    upload gets VM_API_MAX_UPLOAD_MB (`upload_limit`, set per app) instead of 1 MiB."""

    upload_limit: int | None = None

    def __init__(self, method: str, scheme: str, path: str, *args: Any, **kwargs: Any) -> None:
        if self.upload_limit is not None and workspace_files.is_upload(method, path):
            kwargs["max_content_length"] = self.upload_limit
        super().__init__(method, scheme, path, *args, **kwargs)

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            return await super().get_json(force=force, silent=silent, cache=cache)
        except UnicodeDecodeError:
            if silent:
                return None
            raise APIError(400, "BAD_REQUEST", "request body is not UTF-8 JSON") from None
        except RecursionError:
            if silent:
                return None
            raise APIError(400, "BAD_REQUEST", "JSON body is nested too deeply") from None


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _use_strict_json(app: Quart) -> None:
    """NaN and Infinity are not JSON: accepted, they would be stored and then sent back in
    responses that no strict client can parse. Keeps quart-schema's provider for output."""
    base: Any = type(app.json)

    class StrictJSONProvider(base):  # type: ignore[misc]
        def loads(self, s: str | bytes, **kwargs: Any) -> Any:
            kwargs.setdefault("parse_constant", _reject_constant)
            return super().loads(s, **kwargs)

    app.json = StrictJSONProvider(app)


def _install_observability(app: Quart, settings: Settings) -> None:
    """Request ids always; /metrics and the request metrics unless VM_API_METRICS=false."""
    if settings.metrics_enabled:
        from service import metrics

        metrics.install_http_metrics(app)
        app.register_blueprint(metrics.blueprint)
    install_request_ids(app)  # inserted first of all: its id is set before anything else runs


def create_app(settings: Settings) -> Quart:
    """Binds the (already migrated) database and the queue named by `settings`."""
    # no static folder: Quart would serve ./static from whatever directory the service runs in
    app = Quart("vm_api", static_folder=None)
    app.request_class = type(
        "APIRequest", (APIRequest,), {"upload_limit": workspace_files.upload_limit(settings)}
    )
    catalogue_for(settings)  # a bad VM_API_TEMPLATES_FILE fails here, at start
    app.config.update(SETTINGS=settings, MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    docs.serve_docs_offline(app)
    QuartSchema(
        app,
        info=Info(
            title="vm-api",
            version=__version__,
            description="Hosted developer workspaces. Identify yourself with the X-VM-User "
            "header (set by the auth proxy) or x-user (local development).",
        ),
        openapi_provider_class=VmApiOpenAPIProvider,
        # Swagger UI only: ReDoc and Scalar would load their code from a CDN (why no package
        # serves them instead: service/blueprints/docs.py).
        redoc_ui_path=None,
        scalar_ui_path=None,
    )
    _use_strict_json(app)
    register_error_handlers(app)
    install_browser_safety(app, settings)
    install_idempotency(app)  # after the refusal of foreign pages: a refused POST claims nothing
    _install_observability(app, settings)
    for module in (
        dashboard,
        docs,
        health,
        workspaces,
        snapshots,
        operations,
        templates,
        me,
        events,
        terminal,
        activity,
        operation_cancel,
        admin_hosts,
        admin_tasks,
        workspace_exec,
        workspace_logs,
        workspace_files,
        trash,
    ):
        app.register_blueprint(module.blueprint)
    install_read_lane(app)
    events.install_change_feed(app)
    open_store(settings.data_target)
    configure_queue(settings)
    return app
