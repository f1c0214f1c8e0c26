"""/docs in a real browser with the network closed: everything the page needs comes from the
service itself (Swagger UI from the swagger-ui-py package), and it renders the operations."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import CHROMIUM_ARGS, require_chromium
from harness import StartService

pytestmark = [pytest.mark.slow, pytest.mark.browser]
LOOPBACK = "127.0.0.1"


def _loopback(url: str) -> bool:
    # data: and blob: URLs never leave the browser; Swagger UI makes some of its own
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob") or parts.hostname == LOOPBACK


@pytest.mark.parametrize("path", ["/docs", "/swagger-ui"])
def test_the_docs_page_renders_offline(
    start_service: StartService, path: str, tmp_path: Path
) -> None:
    from playwright.sync_api import Request, Route, sync_playwright

    chromium = require_chromium()
    service = start_service("web")
    requested: list[str] = []
    errors: list[str] = []

    def only_loopback(route: Route, request: Request) -> None:
        if _loopback(request.url):
            route.continue_()
        else:
            route.abort("internetdisconnected")  # the network is closed

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.route("**/*", only_loopback)  # every page and worker of the context
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{service.url}{path}")
            page.wait_for_selector(".opblock-summary-path", timeout=15_000)
            operations: list[Any] = page.eval_on_selector_all(
                ".opblock-summary",
                "blocks => blocks.map(b => [b.querySelector('.opblock-summary-method')"
                ".innerText, b.querySelector('.opblock-summary-path').dataset.path])",
            )
            page.screenshot(path=str(tmp_path / "docs.png"), full_page=True)
        finally:
            browser.close()

    assert ["GET", "/api/v1/workspaces"] in operations, operations
    assert ["POST", "/api/v1/workspaces/{workspace_id}/snapshots"] in operations, operations
    assert len(operations) >= 17
    assert any(urlsplit(url).path == "/docs/assets/swagger-ui-bundle.js" for url in requested)
    assert [url for url in requested if not _loopback(url)] == []
    assert errors == []
