"""/docs in a real browser with the network closed: everything the page needs comes from the
service itself (Swagger UI from the swagger-ui-bundle package), and it renders the operations."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from browser_support import CHROMIUM_ARGS, require_chromium
from harness import StartService

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.mark.parametrize("path", ["/docs", "/swagger-ui"])
def test_the_docs_page_renders_offline(start_service: StartService, path: str, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = require_chromium()
    service = start_service("web")
    requested: list[str] = []
    errors: list[str] = []

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()

            def only_loopback(route, request) -> None:
                requested.append(request.url)
                if urlsplit(request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    route.abort("internetdisconnected")  # the network is closed

            page.route("**/*", only_loopback)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{service.url}{path}")
            page.wait_for_selector(".opblock-summary-path", timeout=15_000)
            operations = page.locator(".opblock-summary-path").all_inner_texts()
            page.screenshot(path=str(tmp_path / "docs.png"))
        finally:
            browser.close()

    assert "/api/v1/workspaces/{workspace_id}" in operations, operations
    assert len(operations) >= 17
    outside = [url for url in requested if urlsplit(url).hostname != "127.0.0.1"]
    assert outside == []
    assert errors == []
