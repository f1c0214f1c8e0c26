"""The docs pages load nothing from a CDN; the original's docs addresses; `/` for JSON clients
(a browser's `/` is the dashboard: tests/service/test_dashboard_page.py)."""

from __future__ import annotations

import re

import pytest
from quart.testing import QuartClient

from service.blueprints.docs import SWAGGER_UI_FILES


@pytest.mark.parametrize("path", ["/docs", "/swagger-ui", "/swagger-ui/"])
async def test_the_docs_page_loads_only_our_own_assets(client: QuartClient, path: str) -> None:
    page = await (await client.get(path)).get_data(as_text=True)

    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources, page
    assert all(source.startswith("/") for source in sources), sources
    for source in sources:
        response = await client.get(source)
        assert response.status_code == 200, source


@pytest.mark.parametrize(
    ("name", "mimetype"),
    [("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css")],
)
async def test_assets_are_the_packaged_files(client: QuartClient, name: str, mimetype: str) -> None:
    response = await client.get(f"/docs/assets/{name}")

    assert response.mimetype == mimetype
    assert await response.get_data() == (SWAGGER_UI_FILES / name).read_bytes()


@pytest.mark.parametrize("name", ["index.html", "..%2F__init__.py", "swagger-ui.js.map"])
async def test_nothing_else_of_the_package_is_served(client: QuartClient, name: str) -> None:
    response = await client.get(f"/docs/assets/{name}")

    assert response.status_code == 404
    assert (await response.get_json())["code"] == "NOT_FOUND"


async def test_the_originals_openapi_address(client: QuartClient) -> None:
    original = await (await client.get("/api-docs/openapi.json")).get_json()
    ours = await (await client.get("/openapi.json")).get_json()

    assert original == ours
    assert "/api/v1/workspaces" in original["paths"]


async def test_redoc_sends_a_person_to_swagger_ui(client: QuartClient) -> None:
    # quart-schema's ReDoc page would load its code from a CDN
    response = await client.get("/redocs")

    assert (response.status_code, response.headers["Location"]) == (302, "/docs")


async def test_the_front_page_for_a_json_client(client: QuartClient) -> None:
    response = await client.get("/", headers={"Accept": "application/json"})

    body = await response.get_json()
    assert body["service"] == "vm-api"
    assert body["links"]["docs"] == "/docs"


@pytest.mark.parametrize("accept", [None, "*/*"])
async def test_curl_gets_the_json_index(client: QuartClient, accept: str | None) -> None:
    headers = {} if accept is None else {"Accept": accept}
    response = await client.get("/", headers=headers)

    assert (response.status_code, response.mimetype) == (200, "application/json")
