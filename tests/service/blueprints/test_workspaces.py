"""/api/v1/workspaces: create, list, read, update, delete, and the lifecycle actions."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from api_support import (
    ALICE,
    BOB,
    UUID_RE,
    assert_error,
    create_workspace,
    get_json,
    operations_of,
    parse_time,
    run_queued,
)
from quart.testing import QuartClient

from models.records import utcnow
from tasks.queue import huey

WORKSPACES = "/api/v1/workspaces"
WORKSPACE_FIELDS = {
    "id",
    "name",
    "owner",
    "repo_url",
    "template",
    "provider",
    "status",
    "created_at",
    "updated_at",
    "ttl_seconds",
    "expires_at",
    "metadata",
    "provider_id",
    "connection_info",
    "error_message",
    "cpus",
    "memory_mb",
    "repo_ref",
    "schedule",
    "idle_timeout_seconds",
    "last_activity_at",
    "host",
    "host_unreachable",
}
LINK_NEXT = re.compile(r'^<([^>]+)>; rel="next"$')


async def post(client: QuartClient, body: Any, headers: dict[str, str] = ALICE) -> Any:
    return await client.post(WORKSPACES, json=body, headers=headers)


# --- create --------------------------------------------------------------------------------


async def test_create_with_every_field(client: QuartClient, git_repo: Path) -> None:
    before = utcnow()
    response = await post(
        client,
        {
            "name": "full",
            "repo_url": str(git_repo),
            "template": "base",
            "provider": "local",
            "ttl_seconds": 3600,
            "metadata": {"team": "infra", "tags": ["a", "b"], "n": 1},
            "cpus": 1.5,
            "memory_mb": 512,
        },
    )

    assert response.status_code == 201
    body = await response.get_json()
    assert set(body) == WORKSPACE_FIELDS
    assert UUID_RE.match(body["id"])
    assert response.headers["Location"] == f"{WORKSPACES}/{body['id']}"
    assert body["name"] == "full"
    assert body["owner"] == "alice"
    assert body["repo_url"] == str(git_repo)
    assert (body["template"], body["provider"]) == ("base", "local")
    assert body["status"] == "creating"
    assert body["metadata"] == {"team": "infra", "tags": ["a", "b"], "n": 1}
    assert (body["cpus"], body["memory_mb"]) == (1.5, 512)
    assert body["ttl_seconds"] == 3600
    created = parse_time(body["created_at"])
    assert before - timedelta(seconds=1) <= created <= utcnow()
    assert parse_time(body["updated_at"]) == created
    assert parse_time(body["expires_at"]) == created + timedelta(seconds=3600)
    assert body["provider_id"] is None
    assert body["connection_info"] is None
    assert body["error_message"] is None


async def test_create_records_a_pending_operation_and_enqueues_one_task(
    client: QuartClient,
) -> None:
    assert huey.pending_count() == 0

    workspace = await create_workspace(client, "queued")

    operations = await operations_of(client, workspace["id"])
    assert [(o["operation_type"], o["status"]) for o in operations] == [("create", "pending")]
    assert huey.pending_count() == 1


async def test_create_without_optional_fields_takes_the_defaults(client: QuartClient) -> None:
    body = await create_workspace(client, "plain")

    assert body["template"] == "base"  # the catalogue's default
    assert body["provider"] == "local"  # VM_API_DEFAULT_PROVIDER in the test settings
    assert (body["cpus"], body["memory_mb"]) == (1.0, 256)  # the template's defaults
    assert body["metadata"] == {}
    assert body["repo_url"] is None
    assert body["ttl_seconds"] is None
    assert body["expires_at"] is None


async def test_create_provisions_a_clone_in_immediate_mode(
    client: QuartClient, immediate: None, git_repo: Path
) -> None:
    workspace = await create_workspace(client, "cloned", repo_url=str(git_repo))

    current = await get_json(client, f"{WORKSPACES}/{workspace['id']}")
    assert current["status"] == "running"
    folder = Path(current["connection_info"]["path"])
    assert (folder / "README").read_text() == "hello\n"
    assert current["provider_id"] == str(folder)
    operations = await operations_of(client, workspace["id"])
    assert [(o["operation_type"], o["status"]) for o in operations] == [("create", "success")]


async def test_the_owner_is_always_the_caller(client: QuartClient) -> None:
    # the original's clients send `owner`: accepted, and ignored
    response = await post(client, {"name": "mine", "owner": "bob"})
    created = await response.get_json()

    assert response.status_code == 201, created
    assert created["owner"] == "alice"
    assert await get_json(client, WORKSPACES, BOB) == []
    refused = await post(client, {"name": "other", "owner": "bob", "colour": "red"})
    body = await assert_error(refused, 400, "VALIDATION_ERROR")
    assert "colour" in body["error"]


VALID_NAMES = ["a", "Z", "7", "x" * 63, "my-ws", "my_ws", "v1.2.3", "9lives", "A.b-C_d"]
INVALID_NAMES = [
    "",
    "x" * 64,
    ".hidden",
    "-dash",
    "_under",
    "a/b",
    "../up",
    "café",
    "名前",
    "has space",
    "tab\there",
    "new\nline",
    "trailing\n",
    "nul\x00",
    "a@b",
    "semi;colon",
]


async def test_valid_names(client: QuartClient) -> None:
    for name in VALID_NAMES:
        assert (await create_workspace(client, name))["name"] == name


async def test_invalid_names(client: QuartClient) -> None:
    for name in INVALID_NAMES:
        body = await assert_error(await post(client, {"name": name}), 400, "VALIDATION_ERROR")
        assert "name" in body["error"], name
    assert await get_json(client, WORKSPACES) == []


async def test_a_name_that_is_not_a_string(client: QuartClient) -> None:
    for name in (None, 7, ["a"], {"a": 1}, True):
        await assert_error(await post(client, {"name": name}), 400, "VALIDATION_ERROR")


async def test_ttl_bounds_accepted(client: QuartClient) -> None:
    for ttl in (1, 31536000):
        body = await create_workspace(client, f"ttl{ttl}", ttl_seconds=ttl)

        assert body["ttl_seconds"] == ttl
        created = parse_time(body["created_at"])
        assert parse_time(body["expires_at"]) == created + timedelta(seconds=ttl)


async def test_ttl_out_of_bounds_or_not_an_integer(client: QuartClient) -> None:
    for ttl in (0, -1, 31536001, "10", True, 1.5, 10.5, [10]):
        body = await assert_error(await post(client, {"name": "ttl", "ttl_seconds": ttl}), 400)
        assert "ttl_seconds" in body["error"], ttl


async def test_a_whole_number_written_as_a_float_is_an_integer(client: QuartClient) -> None:
    # JSON (and JSON Schema) do not tell 10.0 from 10; refusing it would refuse valid input.
    body = await create_workspace(client, "whole", ttl_seconds=10.0, memory_mb=128.0)
    assert (body["ttl_seconds"], body["memory_mb"]) == (10, 128)


async def test_metadata_must_be_an_object(client: QuartClient) -> None:
    for metadata in ([], "text", 5, True, [{"a": 1}]):
        body = await assert_error(await post(client, {"name": "m", "metadata": metadata}), 400)
        assert "metadata" in body["error"], metadata


async def test_metadata_over_16_kib_is_refused(client: QuartClient) -> None:
    # {"k":"…"} is 8 bytes of JSON around the value
    fits = {"k": "x" * (16 * 1024 - 8)}
    too_big = {"k": "x" * (16 * 1024 - 7)}

    assert (await create_workspace(client, "fits", metadata=fits))["metadata"] == fits
    body = await assert_error(await post(client, {"name": "big", "metadata": too_big}), 400)
    assert "metadata" in body["error"]


async def test_deeply_nested_metadata_is_refused(client: QuartClient) -> None:
    nested: dict[str, Any] = {}
    inner = nested
    for _ in range(40):
        inner["a"] = {}
        inner = inner["a"]

    body = await assert_error(await post(client, {"name": "deep", "metadata": nested}), 400)

    assert body["error"] == "metadata: metadata must nest at most 32 levels deep"


async def test_a_name_is_unique_per_owner(client: QuartClient) -> None:
    await create_workspace(client, "dup")

    body = await assert_error(await post(client, {"name": "dup"}), 409, "NAME_TAKEN")

    assert "dup" in body["error"]
    assert len(await get_json(client, WORKSPACES)) == 1


async def test_another_owner_may_use_the_same_name(client: QuartClient) -> None:
    mine = await create_workspace(client, "shared")

    theirs = await create_workspace(client, "shared", BOB)

    assert theirs["owner"] == "bob"
    assert theirs["id"] != mine["id"]


async def test_a_name_is_free_again_once_its_workspace_is_deleted(
    client: QuartClient, immediate: None
) -> None:
    first = await create_workspace(client, "again")
    deleted = await client.delete(f"{WORKSPACES}/{first['id']}", headers=ALICE)
    assert deleted.status_code == 202

    second = await create_workspace(client, "again")

    assert second["id"] != first["id"]


async def test_unknown_provider_names_the_available_ones(client: QuartClient) -> None:
    response = await post(client, {"name": "p", "provider": "aws"})

    body = await assert_error(response, 400, "UNKNOWN_PROVIDER")
    assert "aws" in body["error"]
    assert "local" in body["error"] and "docker" in body["error"]


async def test_unknown_template_lists_the_known_ones(client: QuartClient) -> None:
    response = await post(client, {"name": "t", "template": "ubuntu"})

    body = await assert_error(response, 400, "UNKNOWN_TEMPLATE")
    assert "ubuntu" in body["error"]
    assert "base" in body["error"] and "missing" in body["error"]


@pytest.mark.parametrize(
    ("field", "code"), [("provider", "UNKNOWN_PROVIDER"), ("template", "UNKNOWN_TEMPLATE")]
)
async def test_an_empty_provider_or_template_is_not_the_default(
    client: QuartClient, field: str, code: str
) -> None:
    await assert_error(await post(client, {"name": "e", field: ""}), 400, code)


@pytest.mark.parametrize(
    ("resources", "named"),
    [({"cpus": 2.5}, "cpus"), ({"memory_mb": 1025}, "memory_mb")],
)
async def test_resources_over_the_template_maximum(
    client: QuartClient, resources: dict[str, Any], named: str
) -> None:
    response = await post(client, {"name": "r", "template": "base", **resources})

    body = await assert_error(response, 400, "RESOURCE_LIMIT")
    assert named in body["error"]


async def test_resources_at_the_template_maximum(client: QuartClient) -> None:
    body = await create_workspace(client, "r", template="base", cpus=2.0, memory_mb=1024)

    assert (body["cpus"], body["memory_mb"]) == (2.0, 1024)


async def test_resources_that_are_not_positive_numbers(client: QuartClient) -> None:
    for resources in (
        {"cpus": 0},
        {"cpus": -1},
        {"memory_mb": 0},
        {"memory_mb": 1.5},
        {"cpus": "1"},
    ):
        response = await post(client, {"name": "r", **resources})
        await assert_error(response, 400, "VALIDATION_ERROR")


DANGEROUS_REPO_URLS = [
    "ext::sh -c touch% /tmp/pwned",
    "ext::sh",
    "fd::17",
    "-uupload-pack=touch /tmp/x",
    "--upload-pack=touch",
    "https://example.com/a b.git",
    "https://example.com/a\tb.git",
    "https://example.com/repo.git\n",
    "https://example.com/\x00repo.git",
    "https://example.com/\x7frepo.git",
    "repo.git",
    "ftp://example.com/repo.git",
    "",
]


async def test_dangerous_or_malformed_repo_urls(client: QuartClient) -> None:
    for url in DANGEROUS_REPO_URLS:
        response = await post(client, {"name": "repo", "repo_url": url})
        body = await assert_error(response, 400, "INVALID_REPO_URL")
        assert "repo_url" in body["error"]


@pytest.mark.parametrize("overrides", [{"allow_file_repos": False}])
async def test_local_repositories_when_the_operator_has_not_allowed_them(
    client: QuartClient, git_repo: Path
) -> None:
    for url in ("file:///etc", "/etc", str(git_repo), f"file://{git_repo}"):
        response = await post(client, {"name": "repo", "repo_url": url})
        body = await assert_error(response, 400, "INVALID_REPO_URL")
        assert "local path" in body["error"]


async def test_remote_repo_urls_are_accepted(client: QuartClient) -> None:
    urls = [
        "https://github.com/octo/repo.git",
        "http://git.example.com/repo",
        "ssh://git@github.com/octo/repo.git",
        "git://example.com/repo.git",
        "git@github.com:octo/repo.git",
    ]
    for index, url in enumerate(urls):
        assert (await create_workspace(client, f"repo{index}", repo_url=url))["repo_url"] == url


# --- quotas --------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{"max_workspaces_per_user": 2}])
async def test_the_workspace_quota(client: QuartClient) -> None:
    await create_workspace(client, "one")
    await create_workspace(client, "two")

    body = await assert_error(await post(client, {"name": "three"}), 403, "QUOTA_EXCEEDED")

    assert "2" in body["error"]
    await create_workspace(client, "other", BOB)  # per user


@pytest.mark.parametrize("overrides", [{"max_running_per_user": 1}])
async def test_the_running_quota_counts_workspaces_being_created(client: QuartClient) -> None:
    await create_workspace(client, "one")

    await assert_error(await post(client, {"name": "two"}), 403, "QUOTA_EXCEEDED")


@pytest.mark.parametrize("overrides", [{"max_running_per_user": 1}])
async def test_the_running_quota_holds_for_every_action_that_runs_a_workspace(
    client: QuartClient,
) -> None:
    stopped = await create_workspace(client, "stopped")
    run_queued()
    assert (
        await client.post(f"{WORKSPACES}/{stopped['id']}/stop", headers=ALICE)
    ).status_code == 202
    run_queued()
    await create_workspace(client, "running")
    run_queued()

    for action in ("start", "restart", "rebuild"):
        response = await client.post(f"{WORKSPACES}/{stopped['id']}/{action}", headers=ALICE)
        await assert_error(response, 403, "QUOTA_EXCEEDED")


# --- list ----------------------------------------------------------------------------------


async def test_list_is_newest_first_and_only_the_callers(client: QuartClient) -> None:
    names = ["first", "second", "third"]
    for name in names:
        await create_workspace(client, name)
    await create_workspace(client, "bobs", BOB)

    listed = await get_json(client, WORKSPACES)

    assert [w["name"] for w in listed] == list(reversed(names))
    assert {w["owner"] for w in listed} == {"alice"}
    assert all(set(w) == WORKSPACE_FIELDS for w in listed)


async def test_list_filters_by_status(client: QuartClient) -> None:
    stopped = await create_workspace(client, "stopped")
    run_queued()
    assert (
        await client.post(f"{WORKSPACES}/{stopped['id']}/stop", headers=ALICE)
    ).status_code == 202
    run_queued()
    await create_workspace(client, "creating")
    await create_workspace(client, "bobs", BOB)

    def names(listed: list[dict[str, Any]]) -> list[str]:
        return [w["name"] for w in listed]

    assert names(await get_json(client, f"{WORKSPACES}?status=stopped")) == ["stopped"]
    assert names(await get_json(client, f"{WORKSPACES}?status=creating")) == ["creating"]
    assert await get_json(client, f"{WORKSPACES}?status=running") == []


async def test_list_refuses_an_unknown_status(client: QuartClient) -> None:
    for status in ("bogus", "deleted", "RUNNING", ""):
        response = await client.get(WORKSPACES, query_string={"status": status}, headers=ALICE)
        body = await assert_error(response, 400, "INVALID_PARAMETER")
        assert "status" in body["error"]


async def test_list_takes_the_originals_pascal_case_status(client: QuartClient) -> None:
    await create_workspace(client, "new")

    for status in ("Creating", "creating"):
        response = await client.get(WORKSPACES, query_string={"status": status}, headers=ALICE)
        body = await response.get_json()
        assert response.status_code == 200, body
        assert [w["status"] for w in body] == ["creating"]


async def test_list_refuses_an_unknown_query_parameter(client: QuartClient) -> None:
    response = await client.get(f"{WORKSPACES}?owner=bob", headers=ALICE)

    body = await assert_error(response, 400, "INVALID_PARAMETER")
    assert "owner" in body["error"]


async def test_list_refuses_a_repeated_query_parameter(client: QuartClient) -> None:
    response = await client.get(f"{WORKSPACES}?status=running&status=bogus", headers=ALICE)

    await assert_error(response, 400, "INVALID_PARAMETER")


async def test_list_refuses_a_bad_limit(client: QuartClient) -> None:
    for limit in ("0", "1001", "-1", "abc", "1.5", "", " 5", "\u00b2", "\uff11", "9" * 5000):
        response = await client.get(WORKSPACES, query_string={"limit": limit}, headers=ALICE)
        body = await assert_error(response, 400, "INVALID_PARAMETER")
        assert "limit" in body["error"]


async def test_list_limit_default_is_100_and_1000_is_allowed(client: QuartClient) -> None:
    for index in range(101):
        await create_workspace(client, f"ws{index}")

    default = await client.get(WORKSPACES, headers=ALICE)
    assert len(await default.get_json()) == 100
    assert "Link" in default.headers
    largest = await client.get(f"{WORKSPACES}?limit=1000", headers=ALICE)
    assert len(await largest.get_json()) == 101
    assert "Link" not in largest.headers


async def test_pagination_visits_every_workspace_once(client: QuartClient) -> None:
    created = [(await create_workspace(client, f"ws{index}"))["id"] for index in range(7)]
    await create_workspace(client, "bobs", BOB)

    seen: list[str] = []
    pages = []
    url: str | None = f"{WORKSPACES}?limit=3"
    while url is not None:
        response = await client.get(url, headers=ALICE)
        assert response.status_code == 200
        page = await response.get_json()
        pages.append(len(page))
        seen.extend(w["id"] for w in page)
        link = response.headers.get("Link")
        url = None
        if link is not None:
            match = LINK_NEXT.match(link)
            assert match, link
            url = match.group(1)
            assert urlsplit(url).path == WORKSPACES
            assert parse_qs(urlsplit(url).query)["limit"] == ["3"]

    assert pages == [3, 3, 1]
    assert seen == list(reversed(created))


async def test_pagination_keeps_the_status_filter(client: QuartClient) -> None:
    for index in range(3):
        await create_workspace(client, f"ws{index}")

    response = await client.get(f"{WORKSPACES}?status=creating&limit=2", headers=ALICE)

    match = LINK_NEXT.match(response.headers["Link"])
    assert match
    query = parse_qs(urlsplit(match.group(1)).query)
    assert query["status"] == ["creating"] and query["limit"] == ["2"]
    assert len(await get_json(client, match.group(1))) == 1


async def test_list_refuses_a_malformed_cursor(client: QuartClient) -> None:
    for cursor in ("garbage!", "e30", "WyJ4IiwxXQ", "x" * 300, "%00", "bnVsbA"):
        response = await client.get(WORKSPACES, query_string={"cursor": cursor}, headers=ALICE)
        await assert_error(response, 400, "INVALID_CURSOR")


# --- read ----------------------------------------------------------------------------------


async def test_get_one(client: QuartClient) -> None:
    created = await create_workspace(client, "one", metadata={"k": "v"})

    body = await get_json(client, f"{WORKSPACES}/{created['id']}")

    assert body == created


async def test_get_another_owners_workspace_is_not_found(client: QuartClient) -> None:
    theirs = await create_workspace(client, "theirs", BOB)

    response = await client.get(f"{WORKSPACES}/{theirs['id']}", headers=ALICE)

    await assert_error(response, 404, "NOT_FOUND")


async def test_a_malformed_or_unknown_id_is_not_found(client: QuartClient) -> None:
    await create_workspace(client, "exists")
    for workspace_id in ("nope", "123", "00000000-0000-0000-0000-000000000000", "x" * 500):
        response = await client.get(f"{WORKSPACES}/{workspace_id}", headers=ALICE)
        await assert_error(response, 404, "NOT_FOUND")


async def test_a_deleted_workspace_is_not_found(client: QuartClient, immediate: None) -> None:
    created = await create_workspace(client, "gone")
    deleted = await client.delete(f"{WORKSPACES}/{created['id']}", headers=ALICE)
    assert deleted.status_code == 202

    response = await client.get(f"{WORKSPACES}/{created['id']}", headers=ALICE)

    await assert_error(response, 404, "NOT_FOUND")
    assert await get_json(client, WORKSPACES) == []


# --- update --------------------------------------------------------------------------------


async def patch(client: QuartClient, workspace_id: str, body: Any) -> Any:
    return await client.patch(f"{WORKSPACES}/{workspace_id}", json=body, headers=ALICE)


async def test_rename(client: QuartClient) -> None:
    created = await create_workspace(client, "old")

    response = await patch(client, created["id"], {"name": "new"})

    assert response.status_code == 200
    body = await response.get_json()
    assert body["name"] == "new"
    assert body["id"] == created["id"]
    assert (await get_json(client, f"{WORKSPACES}/{created['id']}"))["name"] == "new"


async def test_rename_onto_another_workspace_is_a_conflict(client: QuartClient) -> None:
    await create_workspace(client, "taken")
    created = await create_workspace(client, "mine")

    await assert_error(await patch(client, created["id"], {"name": "taken"}), 409, "NAME_TAKEN")
    assert (await get_json(client, f"{WORKSPACES}/{created['id']}"))["name"] == "mine"


async def test_rename_to_its_own_name(client: QuartClient) -> None:
    created = await create_workspace(client, "same")

    response = await patch(client, created["id"], {"name": "same"})

    assert response.status_code == 200
    assert (await response.get_json())["name"] == "same"


async def test_rename_to_an_invalid_name(client: QuartClient) -> None:
    created = await create_workspace(client, "valid")

    await assert_error(await patch(client, created["id"], {"name": "-bad"}), 400)


async def test_replace_metadata(client: QuartClient) -> None:
    created = await create_workspace(client, "m", metadata={"old": 1})

    response = await patch(client, created["id"], {"metadata": {"new": [1, 2]}})

    assert response.status_code == 200
    assert (await response.get_json())["metadata"] == {"new": [1, 2]}
    assert (await get_json(client, f"{WORKSPACES}/{created['id']}"))["metadata"] == {"new": [1, 2]}


async def test_ttl_is_extended_from_now(client: QuartClient) -> None:
    created = await create_workspace(client, "ttl", ttl_seconds=60)

    before = utcnow()
    response = await patch(client, created["id"], {"ttl_seconds": 7200})
    after = utcnow()

    assert response.status_code == 200
    body = await response.get_json()
    assert body["ttl_seconds"] == 7200
    expires = parse_time(body["expires_at"])
    # millisecond precision in the response
    assert before - timedelta(milliseconds=1) <= expires - timedelta(seconds=7200) <= after
    assert parse_time(body["updated_at"]) > parse_time(created["updated_at"])


async def test_null_ttl_clears_it(client: QuartClient) -> None:
    created = await create_workspace(client, "ttl", ttl_seconds=60)

    response = await patch(client, created["id"], {"ttl_seconds": None})

    assert response.status_code == 200
    body = await response.get_json()
    assert body["ttl_seconds"] is None
    assert body["expires_at"] is None


async def test_patch_leaves_unnamed_fields_alone(client: QuartClient) -> None:
    created = await create_workspace(client, "keep", ttl_seconds=60, metadata={"k": 1})

    body = await (await patch(client, created["id"], {"name": "kept"})).get_json()

    assert body["ttl_seconds"] == 60
    assert body["expires_at"] == created["expires_at"]
    assert body["metadata"] == {"k": 1}


async def test_patch_refuses_unknown_or_invalid_fields(client: QuartClient) -> None:
    created = await create_workspace(client, "p")
    bodies: list[Any] = [
        {"ttl": 60},
        {"owner": "bob"},
        {"status": "running"},
        {"ttl_seconds": 0},
        {"ttl_seconds": "60"},
        {"metadata": []},
        [],
    ]

    for body in bodies:
        await assert_error(await patch(client, created["id"], body), 400, "VALIDATION_ERROR")

    assert await get_json(client, f"{WORKSPACES}/{created['id']}") == created


async def test_patch_another_owners_workspace_is_not_found(client: QuartClient) -> None:
    theirs = await create_workspace(client, "theirs", BOB)

    await assert_error(await patch(client, theirs["id"], {"name": "mine"}), 404, "NOT_FOUND")
    assert (await get_json(client, f"{WORKSPACES}/{theirs['id']}", BOB))["name"] == "theirs"


async def test_patch_a_workspace_being_deleted_is_a_conflict(client: QuartClient) -> None:
    created = await create_workspace(client, "leaving")
    await client.delete(f"{WORKSPACES}/{created['id']}", headers=ALICE)

    body = await assert_error(await patch(client, created["id"], {"name": "x"}), 409)

    assert body["status"] == "deleting"


# --- delete --------------------------------------------------------------------------------


async def test_delete_is_accepted_with_an_operation(client: QuartClient) -> None:
    created = await create_workspace(client, "bye")

    response = await client.delete(f"{WORKSPACES}/{created['id']}", headers=ALICE)

    assert response.status_code == 202
    body = await response.get_json()
    assert body["status"] == "deleting"
    assert body["id"] == created["id"]
    operation = await get_json(client, f"/api/v1/operations/{body['operation_id']}")
    assert (operation["operation_type"], operation["status"]) == ("delete", "pending")
    # the create that had not started yet is cancelled
    statuses = {o["operation_type"]: o["status"] for o in await operations_of(client, body["id"])}
    assert statuses == {"delete": "pending", "create": "failed"}


async def test_delete_completes_in_immediate_mode(client: QuartClient, immediate: None) -> None:
    created = await create_workspace(client, "bye")
    folder = Path((await get_json(client, f"{WORKSPACES}/{created['id']}"))["provider_id"])
    assert folder.is_dir()

    response = await client.delete(f"{WORKSPACES}/{created['id']}", headers=ALICE)

    operation_id = (await response.get_json())["operation_id"]
    await assert_error(await client.get(f"{WORKSPACES}/{created['id']}", headers=ALICE), 404)
    operation = await get_json(client, f"/api/v1/operations/{operation_id}")
    assert (operation["operation_type"], operation["status"]) == ("delete", "success")
    assert not folder.exists()


async def test_a_deleted_workspaces_operations_stay_listed(
    client: QuartClient, immediate: None
) -> None:
    created = await create_workspace(client, "history")
    await client.delete(f"{WORKSPACES}/{created['id']}", headers=ALICE)

    operations = await operations_of(client, created["id"])

    assert [(o["operation_type"], o["status"]) for o in operations] == [
        ("delete", "success"),
        ("create", "success"),
    ]


async def test_delete_twice(client: QuartClient) -> None:
    created = await create_workspace(client, "twice")
    first = await client.delete(f"{WORKSPACES}/{created['id']}", headers=ALICE)
    assert first.status_code == 202

    second = await client.delete(f"{WORKSPACES}/{created['id']}", headers=ALICE)

    body = await assert_error(second, 409, "INVALID_STATE")
    assert body["status"] == "deleting"


async def test_delete_another_owners_workspace_is_not_found(client: QuartClient) -> None:
    theirs = await create_workspace(client, "theirs", BOB)

    response = await client.delete(f"{WORKSPACES}/{theirs['id']}", headers=ALICE)

    await assert_error(response, 404, "NOT_FOUND")
    assert (await get_json(client, f"{WORKSPACES}/{theirs['id']}", BOB))["status"] == "creating"


# --- actions -------------------------------------------------------------------------------


async def act(client: QuartClient, workspace_id: str, action: str) -> Any:
    return await client.post(f"{WORKSPACES}/{workspace_id}/{action}", headers=ALICE)


async def accepted(client: QuartClient, workspace_id: str, action: str) -> dict[str, Any]:
    response = await act(client, workspace_id, action)
    body = await response.get_json()
    assert response.status_code == 202, body
    assert body["id"] == workspace_id
    assert UUID_RE.match(body["operation_id"])
    return body  # type: ignore[no-any-return]


async def status_of(client: QuartClient, workspace_id: str) -> str:
    return (await get_json(client, f"{WORKSPACES}/{workspace_id}"))["status"]  # type: ignore[no-any-return]


async def test_stop_then_start(client: QuartClient, immediate: None) -> None:
    workspace = await create_workspace(client, "cycle")

    stopped = await accepted(client, workspace["id"], "stop")
    assert stopped["status"] == "stopping"
    assert await status_of(client, workspace["id"]) == "stopped"

    started = await accepted(client, workspace["id"], "start")
    assert started["status"] == "starting"
    assert await status_of(client, workspace["id"]) == "running"
    operation = await get_json(client, f"/api/v1/operations/{started['operation_id']}")
    assert (operation["operation_type"], operation["status"]) == ("start", "success")


async def test_restart(client: QuartClient, immediate: None) -> None:
    workspace = await create_workspace(client, "again")

    body = await accepted(client, workspace["id"], "restart")

    assert body["status"] == "restarting"
    assert await status_of(client, workspace["id"]) == "running"


async def test_rebuild_starts_from_a_fresh_clone(
    client: QuartClient, immediate: None, git_repo: Path
) -> None:
    workspace = await create_workspace(client, "fresh", repo_url=str(git_repo))
    folder = Path((await get_json(client, f"{WORKSPACES}/{workspace['id']}"))["provider_id"])
    (folder / "scratch").write_text("local change")

    body = await accepted(client, workspace["id"], "rebuild")

    assert body["status"] == "creating"
    assert await status_of(client, workspace["id"]) == "running"
    assert (folder / "README").is_file()
    assert not (folder / "scratch").exists()


@pytest.mark.parametrize(
    ("action", "status"),
    [("start", "running"), ("stop", "stopped"), ("start", "creating"), ("restart", "creating")],
)
async def test_an_action_the_status_does_not_allow(
    client: QuartClient, action: str, status: str
) -> None:
    workspace = await create_workspace(client, "busy")
    if status != "creating":
        run_queued()
    if status == "stopped":
        await accepted(client, workspace["id"], "stop")
        run_queued()
    assert await status_of(client, workspace["id"]) == status

    body = await assert_error(await act(client, workspace["id"], action), 409, "INVALID_STATE")

    assert body["status"] == status
    assert status in body["error"]
    assert await status_of(client, workspace["id"]) == status


@pytest.mark.parametrize("action", ["start", "stop", "restart", "rebuild"])
async def test_actions_on_another_owners_workspace_are_not_found(
    client: QuartClient, action: str
) -> None:
    theirs = await create_workspace(client, "theirs", BOB)
    run_queued()

    await assert_error(await act(client, theirs["id"], action), 404, "NOT_FOUND")

    assert (await get_json(client, f"{WORKSPACES}/{theirs['id']}", BOB))["status"] == "running"


async def test_an_unknown_action_is_not_found(client: QuartClient) -> None:
    workspace = await create_workspace(client, "w")

    await assert_error(await act(client, workspace["id"], "explode"), 404, "NOT_FOUND")


async def reach(client: QuartClient, status: str, tmp_path: Path) -> str:
    """A workspace of alice's in `status`, driven there by running queued work step by step."""
    repo = {"repo_url": str(tmp_path / "no-such-repo")} if status == "failed" else {}
    workspace_id = (await create_workspace(client, "target", **repo))["id"]
    steps = {
        "creating": [],
        "failed": [None],
        "running": [None],
        "stopped": [None, "stop", None],
        "stopping": [None, "stop"],
        "starting": [None, "stop", None, "start"],
        "restarting": [None, "restart"],
        "restoring": [None, "snapshot", None, "restore"],
    }[status]
    snapshot_id = None
    for step in steps:
        if step is None:
            run_queued()
        elif step == "snapshot":
            response = await client.post(
                f"{WORKSPACES}/{workspace_id}/snapshots", json={"name": "s"}, headers=ALICE
            )
            snapshot_id = (await response.get_json())["id"]
        elif step == "restore":
            path = f"{WORKSPACES}/{workspace_id}/snapshots/{snapshot_id}/restore"
            assert (await client.post(path, headers=ALICE)).status_code == 202
        else:
            await accepted(client, workspace_id, step)
    assert await status_of(client, workspace_id) == status
    return workspace_id


@pytest.mark.parametrize(
    "status",
    ["creating", "running", "stopped", "failed", "stopping", "starting", "restarting", "restoring"],
)
async def test_delete_is_allowed_from_every_status(
    client: QuartClient, tmp_path: Path, status: str
) -> None:
    workspace_id = await reach(client, status, tmp_path)

    response = await client.delete(f"{WORKSPACES}/{workspace_id}", headers=ALICE)
    body = await response.get_json()
    assert response.status_code == 202, body
    assert body["status"] == "deleting"
    run_queued()

    await assert_error(await client.get(f"{WORKSPACES}/{workspace_id}", headers=ALICE), 404)
    operations = await operations_of(client, workspace_id)
    assert operations[0]["operation_type"] == "delete"
    assert operations[0]["status"] == "success"
    assert all(o["status"] in ("success", "failed") for o in operations)
