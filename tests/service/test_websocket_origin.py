"""WebSocket handshakes follow the same Origin rule as state-changing requests (the terminal of a
later issue uses `browser_websocket`): a foreign page is refused, the CLI (no Origin) is not."""

from __future__ import annotations

import pytest
from quart import Quart, websocket
from quart.testing import WebsocketResponseError

from models.settings import Settings
from service.browser_safety import browser_websocket, install_browser_safety
from service.errors import register_error_handlers


@pytest.fixture
def app() -> Quart:
    app = Quart("origin-test")
    settings = Settings(cors_origins=("http://localhost:3120",))
    app.config["SETTINGS"] = settings
    register_error_handlers(app)
    install_browser_safety(app, settings)

    @app.websocket("/echo")
    @browser_websocket
    async def echo() -> None:
        await websocket.accept()
        await websocket.send(await websocket.receive())

    return app


@pytest.mark.parametrize(
    "headers",
    [{}, {"Origin": "http://localhost:3120"}, {"Origin": "http://localhost", "Host": "localhost"}],
)
async def test_allowed_handshakes(app: Quart, headers: dict[str, str]) -> None:
    async with app.test_client().websocket("/echo", headers=headers) as ws:
        await ws.send("hello")
        assert await ws.receive() == "hello"


@pytest.mark.parametrize("origin", ["https://evil.example", "null"])
async def test_a_foreign_origin_is_refused(app: Quart, origin: str) -> None:
    with pytest.raises(WebsocketResponseError) as refused:
        async with app.test_client().websocket("/echo", headers={"Origin": origin}) as ws:
            await ws.send("hello")
            await ws.receive()

    assert refused.value.response.status_code == 403
