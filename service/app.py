"""create_app(): the Quart application with its schema, error handlers and blueprints."""

from __future__ import annotations

from quart import Quart
from quart_schema import Info, QuartSchema

from models.store import open_store
from service import __version__
from service.blueprints import health, me, operations, snapshots, templates, workspaces
from service.config import Settings
from service.errors import register_error_handlers
from tasks.queue import configure_queue

MAX_BODY_BYTES = 1024 * 1024


def create_app(settings: Settings) -> Quart:
    """Binds the (already migrated) database and the queue named by `settings`."""
    app = Quart("vm_api")
    app.config.update(SETTINGS=settings, MAX_CONTENT_LENGTH=MAX_BODY_BYTES)
    QuartSchema(
        app,
        info=Info(
            title="vm-api",
            version=__version__,
            description="Hosted developer workspaces. Identify yourself with the X-VM-User "
            "header (set by the auth proxy) or x-user (local development).",
        ),
        security_schemes={
            "user": {"type": "apiKey", "in_": "header", "name": "X-VM-User"},
            "devUser": {"type": "apiKey", "in_": "header", "name": "x-user"},
        },
        security=[{"user": []}, {"devUser": []}],
    )
    register_error_handlers(app)
    for module in (health, workspaces, snapshots, operations, templates, me):
        app.register_blueprint(module.blueprint)
    open_store(settings.db_path)
    configure_queue(settings)
    return app
