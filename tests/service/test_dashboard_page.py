"""The dashboard page and its files: a strict Content-Security-Policy with a fresh nonce, no
inline script, our own files and the npm ones by fixed name only, and a clear notice when
`npm ci` has not run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from quart.testing import QuartClient

from service.dashboard import assets
from service.dashboard.blueprint import content_security_policy

HTML = {"Accept": "text/html,application/xhtml+xml"}


async def page_of(client: QuartClient, **headers: str) -> tuple[str, Any]:
    response = await client.get("/", headers={**HTML, **headers})
    assert (response.status_code, response.mimetype) == (200, "text/html")
    return await response.get_data(as_text=True), response.headers


def directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split("; ")}


async def test_the_page_has_a_strict_policy_with_a_fresh_nonce(client: QuartClient) -> None:
    first, headers = await page_of(client)
    _, again = await page_of(client)

    policy = directives(headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["connect-src"][0] == "'self'"
    assert policy["frame-ancestors"] == ["'none'"]
    nonce = re.search(r'name="vm-api-style-nonce" content="([^"]+)"', first)
    assert nonce is not None
    assert policy["style-src"] == ["'self'", f"'nonce-{nonce.group(1)}'"]
    assert headers["Content-Security-Policy"] != again["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"


async def test_the_page_has_no_inline_script_and_links_to_the_docs(client: QuartClient) -> None:
    page, _ = await page_of(client)

    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts
    assert all('src="/' in attributes and body.strip() == "" for attributes, body in scripts)
    assert "<style" not in page
    assert 'href="/docs"' in page


async def test_every_file_the_page_names_is_served(client: QuartClient) -> None:
    page, _ = await page_of(client)

    sources = re.findall(r'(?:src|href)="(/dashboard/[^"]+)"', page)
    assert "/dashboard/static/app.js" in sources
    for source in sources:
        response = await client.get(source)
        assert response.status_code == 200, source
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_modules_import_only_our_files(client: QuartClient) -> None:
    for name, path in assets.OWN_FILES.items():
        if not name.endswith(".js"):
            continue
        text = path.read_text()
        for target in re.findall(r'(?:from|import)\s*\(?\s*[`"]([^`"]+)[`"]', text):
            assert target.startswith(("./", "${VENDOR}/")), (name, target)
        response = await client.get(f"/dashboard/static/{name}")
        assert response.mimetype == "text/javascript"


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/static/..%2Fblueprint.py",
        "/dashboard/static/../blueprint.py",
        "/dashboard/static/nope.js",
        "/dashboard/vendor/package.json",
        "/dashboard/vendor/..%2F..%2Fpackage.json",
        "/dashboard/vendor/xterm.js",
    ],
)
async def test_nothing_else_is_served(client: QuartClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert (await response.get_json())["code"] == "NOT_FOUND"


async def test_vendor_files_come_from_node_modules(client: QuartClient) -> None:
    if assets.missing_vendor_files():
        pytest.skip("npm ci has not run (bash .ci/install-frontend)")
    response = await client.get("/dashboard/vendor/xterm.mjs")

    assert response.mimetype == "text/javascript"
    body = await response.get_data()
    assert body == (assets.NODE_MODULES / "@xterm/xterm/lib/xterm.mjs").read_bytes()


async def test_without_npm_ci_the_page_says_what_to_run(
    client: QuartClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(assets, "NODE_MODULES", tmp_path / "node_modules")

    page, _ = await page_of(client)
    response = await client.get("/dashboard/vendor/xterm.mjs")

    assert 'id="frontend-missing"' in page
    assert "make run" in page and "npm ci" in page
    assert 'data-frontend="missing"' in page
    assert "/dashboard/vendor/xterm.css" not in page
    assert response.status_code == 404
    assert (await response.get_json())["code"] == "FRONTEND_NOT_INSTALLED"


def test_the_terminal_socket_is_allowed_for_a_plain_host_only() -> None:
    plain = directives(content_security_policy("n", "vm.example:3121"))
    odd = directives(content_security_policy("n", "evil.example; script-src *"))

    assert plain["connect-src"] == ["'self'", "ws://vm.example:3121", "wss://vm.example:3121"]
    assert odd["connect-src"] == ["'self'"]


async def test_a_json_client_still_gets_the_index(client: QuartClient) -> None:
    response = await client.get("/", headers={"Accept": "application/json"})

    assert (await response.get_json())["links"]["dashboard"] == "/"


async def test_one_charset_per_content_type(client: QuartClient) -> None:
    response = await client.get("/dashboard/static/app.js")

    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
