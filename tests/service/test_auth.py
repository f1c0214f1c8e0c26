"""Who is calling: proxy headers only from trusted proxies, x-user from loopback or when allowed,
names checked, and admins who see every workspace."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any

import pytest
from quart.testing import QuartClient
from werkzeug.datastructures import Headers

from models.settings import Settings
from service.auth import FORWARDING_HEADERS, PROXY_IDENTITY_HEADERS, resolve_user
from service.errors import APIError

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
PROXY = ("127.0.0.1", 5555)
STRANGER = ("203.0.113.9", 5555)
ME = "/api/v1/me"


def strict(**overrides: Any) -> Settings:
    """Production-like: loopback proxies trusted, x-user only from loopback."""
    return replace(Settings(trusted_proxies=LOOPBACK, allow_dev_user_header=False), **overrides)


class RawHeaders:
    """Case-insensitive lookup without werkzeug's own refusal of CR/LF, so that the check in
    resolve_user is what gets tested (an ASGI server may pass anything on)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = {name.lower(): value for name, value in values.items()}

    def get(self, name: str) -> str | None:
        return self.values.get(name.lower())


def resolve(headers: dict[str, str], remote: str | None, settings: Settings | None = None) -> Any:
    return resolve_user(RawHeaders(headers), remote, settings or strict())


# --- resolve_user --------------------------------------------------------------------------


def test_the_proxy_header_from_a_trusted_proxy() -> None:
    assert resolve({"X-VM-User": "alice"}, "127.0.0.1") == "alice"


def test_header_names_are_case_insensitive() -> None:
    headers = Headers({"x-vm-user": "alice", "X-USER": "dev"})

    assert resolve_user(headers, "127.0.0.1", strict()) == "alice"
    assert resolve_user(Headers({"X-USER": "dev"}), "127.0.0.1", strict()) == "dev"


def test_only_the_configured_header_names_the_caller() -> None:
    # oauth2-proxy sets X-Forwarded-User and passes the client's X-VM-User through
    oauth2 = strict(user_header="X-Forwarded-User")
    forged = {"X-Forwarded-User": "alice", "X-VM-User": "root", "x-user": "root"}

    assert resolve(forged, "127.0.0.1", oauth2) == "alice"
    assert resolve({"X-VM-User": "root"}, "127.0.0.1", oauth2) is None
    assert resolve({"X-Forwarded-User": "root"}, "127.0.0.1") is None
    assert resolve({"X-VM-User": "alice", "X-Forwarded-User": "root"}, "127.0.0.1") == "alice"


@pytest.mark.parametrize("marker", [*FORWARDING_HEADERS, *PROXY_IDENTITY_HEADERS])
def test_x_user_is_never_believed_through_a_proxy(marker: str) -> None:
    headers = {marker: "127.0.0.1" if marker != "X-VM-User" else "", "x-user": "root"}

    assert resolve(headers, "127.0.0.1") is None
    assert resolve(headers, "127.0.0.1", strict(allow_dev_user_header=True)) is None


def test_x_user_from_a_remote_trusted_proxy_is_not_believed() -> None:
    settings = strict(trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),), dev_identity="any")

    assert resolve({"x-user": "root"}, "10.1.2.3", settings) is None
    assert resolve({"x-user": "dev"}, "203.0.113.9", settings) == "dev"


def test_the_dev_header_can_be_turned_off() -> None:
    assert resolve({"x-user": "dev"}, "127.0.0.1", strict(dev_identity="off")) is None
    assert resolve({"X-VM-User": "alice"}, "127.0.0.1", strict(dev_identity="off")) == "alice"


@pytest.mark.parametrize("value", ["", "   ", "café", "用户"])
def test_an_empty_or_undecodable_header_is_no_identity(value: str) -> None:
    assert resolve({"X-VM-User": value}, "127.0.0.1") is None
    assert resolve({"x-user": value}, "127.0.0.1") is None


def test_proxy_headers_from_an_untrusted_address_are_ignored() -> None:
    headers = {"X-VM-User": "alice", "X-Forwarded-User": "alice"}

    assert resolve(headers, "203.0.113.9") is None
    assert resolve(headers, "203.0.113.9", strict(allow_dev_user_header=True)) is None


def test_a_proxy_header_from_an_untrusted_address_makes_the_dev_header_void() -> None:
    settings = strict(allow_dev_user_header=True)

    assert resolve({"X-VM-User": "root", "x-user": "dev"}, "203.0.113.9", settings) is None


def test_an_invalid_header_from_an_untrusted_address_is_not_even_read() -> None:
    assert resolve({"X-VM-User": "not a name"}, "203.0.113.9") is None


def test_trusted_proxies_are_configurable() -> None:
    settings = strict(trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),))

    assert resolve({"X-VM-User": "alice"}, "10.1.2.3", settings) == "alice"
    assert resolve({"X-VM-User": "alice"}, "127.0.0.1", settings) is None
    assert resolve({"X-VM-User": "alice"}, "11.0.0.1", settings) is None


@pytest.mark.parametrize("remote", ["127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"])
def test_x_user_from_loopback(remote: str) -> None:
    assert resolve({"x-user": "dev"}, remote) == "dev"


@pytest.mark.parametrize("remote", ["::ffff:127.0.0.1", "fe80::1%eth0"])
def test_unusual_address_forms_of_a_trusted_proxy(remote: str) -> None:
    settings = strict(trusted_proxies=(*LOOPBACK, ipaddress.ip_network("fe80::/10")))

    assert resolve({"X-VM-User": "alice"}, remote, settings) == "alice"


@pytest.mark.parametrize(
    "remote", ["203.0.113.9", "10.0.0.1", "::ffff:203.0.113.9", None, "<local>"]
)
def test_x_user_from_elsewhere_only_when_allowed(remote: str | None) -> None:
    assert resolve({"x-user": "dev"}, remote) is None
    assert resolve({"x-user": "dev"}, remote, strict(allow_dev_user_header=True)) == "dev"


def test_no_identity_at_all() -> None:
    assert resolve({}, "127.0.0.1") is None


@pytest.mark.parametrize("name", ["a", "A", "x" * 64, "a.b@c-d_e", "9", "user@example.com"])
def test_valid_user_names(name: str) -> None:
    assert resolve({"X-VM-User": name}, "127.0.0.1") == name


@pytest.mark.parametrize(
    "name",
    [
        "x" * 65,
        "has space",
        "a\r\nb",
        "alice\n",
        "alice\r",
        "tab\t",
        "nul\x00",
        "-lead",
        ".dot",
        "a/b",
        "a:b",
        "a,b",
    ],
)
def test_invalid_user_names_are_refused(name: str) -> None:
    for header, settings in (
        ("X-VM-User", strict()),
        ("X-Forwarded-User", strict(user_header="X-Forwarded-User")),
        ("x-user", strict()),
    ):
        with pytest.raises(APIError) as raised:
            resolve({header: name}, "127.0.0.1", settings)
        assert (raised.value.status, raised.value.code) == (400, "INVALID_USER")


# --- over HTTP -----------------------------------------------------------------------------


async def user_of(client: QuartClient, headers: dict[str, str], remote: tuple[str, int]) -> Any:
    response = await client.get(ME, headers=headers, scope_base={"client": remote})
    return response.status_code, await response.get_json()


async def test_no_identity_is_a_json_401(client: QuartClient) -> None:
    status, body = await user_of(client, {}, PROXY)

    assert status == 401
    assert body["code"] == "UNAUTHORIZED"
    assert body["error"]


async def test_x_vm_user_from_a_trusted_proxy(client: QuartClient) -> None:
    status, body = await user_of(client, {"X-VM-User": "alice"}, PROXY)

    assert (status, body["user"]) == (200, "alice")


async def test_x_forwarded_user_is_not_the_default_header(client: QuartClient) -> None:
    status, body = await user_of(client, {"X-Forwarded-User": "alice"}, PROXY)

    assert (status, body["code"]) == (401, "UNAUTHORIZED")


class TestBehindOauth2Proxy:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(settings, user_header="X-Forwarded-User")

    async def test_x_forwarded_user_names_the_caller(self, client: QuartClient) -> None:
        headers = {"X-Forwarded-User": "alice", "X-VM-User": "root", "x-user": "root"}
        status, body = await user_of(client, headers, PROXY)

        assert (status, body["user"]) == (200, "alice")


async def test_x_vm_user_wins_over_x_user(client: QuartClient) -> None:
    status, body = await user_of(client, {"X-VM-User": "alice", "x-user": "mallory"}, PROXY)

    assert (status, body["user"]) == (200, "alice")


async def test_x_vm_user_from_an_untrusted_address(client: QuartClient) -> None:
    status, body = await user_of(client, {"X-VM-User": "alice"}, STRANGER)

    assert status == 401
    assert body["code"] == "UNAUTHORIZED"


async def test_x_user_from_anywhere_when_allowed(client: QuartClient) -> None:
    # the test settings allow the development header
    status, body = await user_of(client, {"x-user": "dev"}, STRANGER)

    assert (status, body["user"]) == (200, "dev")


async def test_invalid_names_over_http_are_a_json_400(client: QuartClient) -> None:
    # raw header bytes, as a proxy would pass them on
    for raw in (b"x" * 65, b"has space", b"nul\x00", b"t\tx"):
        headers = [(b"host", b"localhost"), (b"x-vm-user", raw)]
        response = await client.get(ME, scope_base={"client": PROXY, "headers": headers})

        assert response.status_code == 400, raw
        assert (await response.get_json())["code"] == "INVALID_USER"


async def test_empty_or_undecodable_names_over_http_are_a_json_401(client: QuartClient) -> None:
    for raw in (b"", b"  ", "café".encode(), "用户".encode(), b"\xff\xfe"):
        headers = [(b"host", b"localhost"), (b"x-vm-user", raw)]
        response = await client.get(ME, scope_base={"client": PROXY, "headers": headers})

        assert response.status_code == 401, raw
        assert (await response.get_json())["code"] == "UNAUTHORIZED"


class TestWithoutTheDevHeader:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(settings, allow_dev_user_header=False)

    async def test_x_user_from_loopback(self, client: QuartClient) -> None:
        status, body = await user_of(client, {"x-user": "dev"}, ("127.0.0.1", 40000))

        assert (status, body["user"]) == (200, "dev")

    async def test_x_user_from_elsewhere_is_refused(self, client: QuartClient) -> None:
        status, body = await user_of(client, {"x-user": "dev"}, STRANGER)

        assert status == 401
        assert body["code"] == "UNAUTHORIZED"

    async def test_a_trusted_proxy_still_works(self, client: QuartClient) -> None:
        status, body = await user_of(client, {"X-VM-User": "alice"}, PROXY)

        assert (status, body["user"]) == (200, "alice")


class TestAdmins:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return replace(settings, admins=frozenset({"root"}))

    @pytest.fixture
    async def workspaces(self, client: QuartClient) -> dict[str, str]:
        ids = {}
        for user in ("alice", "bob"):
            response = await client.post(
                "/api/v1/workspaces", json={"name": f"{user}s"}, headers={"x-user": user}
            )
            assert response.status_code == 201
            ids[user] = (await response.get_json())["id"]
        return ids

    async def test_an_admin_lists_every_workspace(
        self, client: QuartClient, workspaces: dict[str, str]
    ) -> None:
        response = await client.get("/api/v1/workspaces", headers={"x-user": "root"})

        listed = await response.get_json()
        assert {(w["id"], w["owner"]) for w in listed} == {
            (workspaces["alice"], "alice"),
            (workspaces["bob"], "bob"),
        }
        operations = await (
            await client.get("/api/v1/operations", headers={"x-user": "root"})
        ).get_json()
        assert {o["workspace_id"] for o in operations} == set(workspaces.values())

    async def test_an_admin_acts_on_anyones_workspace(
        self, client: QuartClient, workspaces: dict[str, str], immediate: None
    ) -> None:
        path = f"/api/v1/workspaces/{workspaces['alice']}"
        root = {"x-user": "root"}

        patched = await client.patch(path, json={"metadata": {"by": "root"}}, headers=root)
        deleted = await client.delete(path, headers=root)

        assert patched.status_code == 200
        assert (await patched.get_json())["owner"] == "alice"  # the owner does not change
        assert deleted.status_code == 202
        assert (await client.get(path, headers={"x-user": "alice"})).status_code == 404

    async def test_other_users_are_not_admins(
        self, client: QuartClient, workspaces: dict[str, str]
    ) -> None:
        response = await client.get("/api/v1/workspaces", headers={"x-user": "alice"})

        assert [w["owner"] for w in await response.get_json()] == ["alice"]
        bobs = await client.get(
            f"/api/v1/workspaces/{workspaces['bob']}", headers={"x-user": "alice"}
        )
        assert bobs.status_code == 404
