"""Who the caller is, behind a real nginx on loopback: the proxy's header names the caller, and
nothing a client adds to its request changes that.

Two set-ups, as the README's recipes deploy them:
- like oauth2-proxy: the proxy authenticates, sets X-Forwarded-User and passes every other
  header of the client through (VM_API_USER_HEADER=X-Forwarded-User);
- plain nginx: the proxy sets X-VM-User (the default header) and X-Forwarded-For.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from harness import ServiceProcess, StartService
from nginx import running_nginx

pytestmark = pytest.mark.slow

# The oauth2-proxy shape: authenticate, set one header, pass the rest through untouched
# (nginx forwards every client header it does not set itself). No X-Forwarded-For: the
# proxy's own header is what must win.
OAUTH2_LIKE = """
        location / {
            if ($authenticated_user = "") { return 401; }
            proxy_pass http://UPSTREAM;
            proxy_set_header X-Forwarded-User $authenticated_user;
        }
"""
# The README's nginx recipe; /public/ is a location without authentication. It too sets the
# user header (to nothing): nginx passes on every client header a location does not set, and a
# location that sets any proxy header inherits none from the server block.
NGINX_RECIPE = """
        location / {
            if ($authenticated_user = "") { return 401; }
            proxy_pass http://UPSTREAM;
            proxy_set_header X-VM-User $authenticated_user;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
        }
        location /public/ {
            proxy_pass http://UPSTREAM/;
            proxy_set_header X-VM-User "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }
"""
FORGERIES = [
    {},
    {"X-VM-User": "root"},
    {"X-Forwarded-User": "root"},
    {"x-user": "root"},
    {"X-VM-User": "root", "X-Forwarded-User": "root", "x-user": "root"},
    {"X-Forwarded-For": "127.0.0.1", "x-user": "root"},
    {"X-Auth-Request-User": "root", "Remote-User": "root"},
]


@pytest.fixture
def api(start_service: StartService) -> ServiceProcess:
    # `root` is an admin: a forgery that worked would show as admin too
    return start_service("web", VM_API_ADMINS="root")


@pytest.fixture
def oauth2_proxy(tmp_path: Path, start_service: StartService) -> Iterator[str]:
    api = start_service("web", VM_API_ADMINS="root", VM_API_USER_HEADER="X-Forwarded-User")
    with running_nginx(tmp_path / "oauth2", f"127.0.0.1:{api.config.port}", OAUTH2_LIKE) as url:
        yield url


@pytest.fixture
def nginx_proxy(api: ServiceProcess, tmp_path: Path) -> Iterator[str]:
    with running_nginx(tmp_path / "nginx", f"127.0.0.1:{api.config.port}", NGINX_RECIPE) as url:
        yield url


def me(url: str, headers: dict[str, str], path: str = "/api/v1/me") -> httpx.Response:
    return httpx.get(f"{url}{path}", headers=headers, timeout=10.0)


@pytest.mark.parametrize("forged", FORGERIES)
def test_behind_oauth2_proxy_forged_headers_change_nothing(oauth2_proxy: str, forged: dict) -> None:
    response = me(oauth2_proxy, {"Authorization": "Bearer alice-token", **forged})

    assert response.status_code == 200, response.text
    assert (response.json()["user"], response.json()["admin"]) == ("alice", False)


@pytest.mark.parametrize("forged", FORGERIES)
def test_behind_nginx_forged_headers_change_nothing(nginx_proxy: str, forged: dict) -> None:
    response = me(nginx_proxy, {"Authorization": "Bearer bob-token", **forged})

    assert response.status_code == 200, response.text
    assert (response.json()["user"], response.json()["admin"]) == ("bob", False)


def test_unauthenticated_requests_stop_at_the_proxy(oauth2_proxy: str) -> None:
    assert me(oauth2_proxy, {"x-user": "root", "X-VM-User": "root"}).status_code == 401


@pytest.mark.parametrize("forged", FORGERIES[1:])
def test_an_unauthenticated_location_gives_no_identity(nginx_proxy: str, forged: dict) -> None:
    response = me(nginx_proxy, forged, path="/public/api/v1/me")

    assert response.status_code == 401, response.text
    assert response.json()["code"] == "UNAUTHORIZED"


def test_what_alice_creates_through_the_proxy_is_hers(nginx_proxy: str) -> None:
    alice = {"Authorization": "Bearer alice-token", "x-user": "bob", "X-VM-User": "bob"}
    created = httpx.post(
        f"{nginx_proxy}/api/v1/workspaces", json={"name": "mine"}, headers=alice, timeout=10.0
    )
    assert created.status_code == 201, created.text
    assert created.json()["owner"] == "alice"

    bobs_view = httpx.get(
        f"{nginx_proxy}/api/v1/workspaces",
        headers={"Authorization": "Bearer bob-token", "x-user": "alice"},
        timeout=10.0,
    )
    assert bobs_view.json() == []


def test_the_development_header_still_works_directly(api: ServiceProcess) -> None:
    # the seed's `curl -H "x-user: me" http://localhost:3121/...`, with the default settings
    response = me(api.url, {"x-user": "me"})

    assert (response.status_code, response.json()["user"]) == (200, "me")
