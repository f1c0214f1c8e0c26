"""The ASGI entry point Hypercorn loads: `service.asgi:app` (settings from the environment)."""

from service.app import create_app
from service.config import Settings

app = create_app(Settings.from_env())
