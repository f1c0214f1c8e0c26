"""The dashboard in Debian's chromium against a real `vm-api` with the Docker provider: create
(a refused one first), watch it run without reloading, use the terminal, stop, start,
snapshot, delete; the dark theme; no console errors; nothing loaded from outside.

Screenshots of the main views go to the test's tmp_path and to test-output/dashboard/.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import docker
import httpx
import pytest
from browser_support import CHROMIUM_ARGS, require_chromium
from db_support import execute
from docker_support import remove_labelled, require_docker
from harness import (
    REPO_ROOT,
    ServiceProcess,
    StartService,
    git_repository,
    wait_for_status,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]
LOOPBACK = "127.0.0.1"
OUTPUT = REPO_ROOT / "test-output" / "dashboard"
STEP_TIMEOUT = 60_000  # ms: a Docker action on this machine takes a few seconds
# Chromium reports every 4xx answer to fetch() on the console; the test expects exactly these.
EXPECTED_REFUSALS = {("GET", "/api/v1/me", 401), ("POST", "/api/v1/workspaces", 400)}
HTTP_STATUS_LINE = re.compile(r"Failed to load resource: the server responded with a status of")


@dataclass
class Browsing:
    page: Any
    service: ServiceProcess
    shots: Path
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    refused: set[tuple[str, str, int]] = field(default_factory=set)
    outside: list[str] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)

    def shot(self, name: str) -> None:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        OUTPUT.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, OUTPUT / path.name)


@pytest.fixture
def docker_dashboard(start_service: StartService) -> Iterator[ServiceProcess]:
    require_docker()
    service = start_service(VM_API_DEFAULT_PROVIDER="docker")
    yield service
    client = docker.from_env()
    try:
        remove_labelled(client, service.config.instance)
        for volume in client.volumes.list(
            filters={"label": f"vm-api.service={service.config.instance}"}
        ):
            with contextlib.suppress(docker.errors.APIError):
                volume.remove(force=True)
    finally:
        client.close()


@contextlib.contextmanager
def browsing(
    service: ServiceProcess, shots: Path, color_scheme: str = "light"
) -> Iterator[Browsing]:
    from playwright.sync_api import Request, Route, sync_playwright

    chromium = require_chromium()

    def only_loopback(route: Route, request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob") or parts.hostname == LOOPBACK:
            route.continue_()
        else:
            state.outside.append(request.url)
            route.abort("internetdisconnected")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, color_scheme=color_scheme
            )
            context.route("**/*", only_loopback)
            page = context.new_page()
            page.set_default_timeout(STEP_TIMEOUT)
            state = Browsing(page, service, shots)

            def on_console(message: Any) -> None:
                if message.type == "error" and not HTTP_STATUS_LINE.search(message.text):
                    state.console_errors.append(message.text)

            def on_response(response: Any) -> None:
                if response.status >= 400:
                    path = urlsplit(response.url).path
                    state.refused.add((response.request.method, path, response.status))

            def on_navigation(frame: Any) -> None:
                if frame == page.main_frame:
                    state.navigations.append(frame.url)

            page.on("console", on_console)
            page.on("pageerror", lambda error: state.page_errors.append(str(error)))
            page.on("response", on_response)
            page.on("framenavigated", on_navigation)
            yield state
        finally:
            browser.close()


def sign_in(state: Browsing, user: str = "alice") -> None:
    page = state.page
    page.goto(state.service.url + "/")
    page.wait_for_selector("#user-dialog[open]")
    page.fill("#user-name", user)
    page.click("#user-dialog button[type=submit]")
    page.wait_for_selector("#new-workspace")
    page.wait_for_selector("#live[data-state=live]")


def create_workspace(state: Browsing, name: str) -> str:
    """Through the dialog, with a refused name first; returns the new workspace's id."""
    page = state.page
    page.click("#new-workspace")
    page.wait_for_selector("#create-dialog[open]")
    page.fill("#create-name", "not a valid name!")
    page.click("#create-submit")
    error = page.wait_for_selector("#create-error:has-text('VALIDATION_ERROR')")
    assert "name" in error.inner_text()
    state.shot("create-refused")
    page.fill("#create-name", name)
    page.select_option("#create-template", "base")
    page.click("#create-submit")
    page.wait_for_selector("#create-dialog[open]", state="detached")
    row = page.wait_for_selector(f"#workspace-rows tr:has(a:text-is('{name}'))")
    workspace_id = row.get_attribute("data-workspace")
    assert workspace_id
    return workspace_id


def wait_row_status(state: Browsing, workspace_id: str, status: str) -> None:
    state.page.wait_for_selector(
        f"#workspace-rows tr[data-workspace='{workspace_id}'][data-status='{status}']"
    )


def wait_page_status(state: Browsing, status: str) -> None:
    state.page.wait_for_selector(f"#view .row.head .status[data-status='{status}']")


def act(state: Browsing, action: str) -> None:
    state.page.click(f"#view .row.head button[data-action='{action}']")


def terminal_available(service: ServiceProcess) -> bool:
    paths = httpx.get(f"{service.url}/openapi.json", timeout=10).json()["paths"]
    return "/api/v1/workspaces/{workspace_id}/terminal/ticket" in paths


def screen_rows(page: Any, done: Callable[[list[str]], bool]) -> list[str]:
    """The terminal's rows of text once `done(rows)` holds. Polled from here: Playwright's
    wait_for_function evaluates a string, which the page's policy (no unsafe-eval) refuses."""
    read = "[...document.querySelectorAll('#terminal .xterm-rows > div')].map(r => r.innerText)"
    return wait_until(
        lambda: (rows := page.evaluate(read)) and done(rows) and rows,
        STEP_TIMEOUT / 1000,
        interval=0.1,
        what="terminal text",
    )


def assert_clean(state: Browsing) -> None:
    assert state.page_errors == []
    assert state.console_errors == []
    assert state.refused <= EXPECTED_REFUSALS, state.refused
    assert state.outside == []
    # One document load (and the hash routes of the same document): no reload
    assert len({url.split("#")[0] for url in state.navigations}) == 1, state.navigations


@pytest.mark.docker
def test_the_dashboard_drives_a_workspace_through_its_life(
    docker_dashboard: ServiceProcess, tmp_path: Path
) -> None:
    with browsing(docker_dashboard, tmp_path) as state:
        page = state.page
        sign_in(state)
        state.shot("list-empty")
        workspace_id = create_workspace(state, "web1")
        # creating -> running arrives through the events stream: the page is never reloaded
        wait_row_status(state, workspace_id, "running")
        state.shot("list-running")

        page.click(f"#workspace-rows tr[data-workspace='{workspace_id}'] a")
        wait_page_status(state, "running")
        page.wait_for_selector("#operation-rows tr[data-type='create'][data-status='success']")
        state.shot("workspace-running")

        act(state, "stop")
        wait_page_status(state, "stopped")
        act(state, "start")
        wait_page_status(state, "running")

        page.fill("#snapshot-name", "Before refactor")
        page.click("#snapshot-create")
        page.wait_for_selector("#snapshot-rows tr[data-status='ready']:has-text('Before refactor')")
        page.wait_for_selector("#operation-rows tr[data-type='snapshot'][data-status='success']")

        page.click("#ttl-hour")
        page.wait_for_selector("#details .ttl:has-text('left')")

        page.click("#theme")
        assert page.get_attribute("html", "data-theme") == "dark"
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 20, 24)", background
        state.shot("workspace-dark")

        act(state, "delete")
        page.wait_for_selector("#confirm-dialog[open]")
        state.shot("confirm-delete")
        page.click("#confirm-ok")
        # the workspace's end comes as an event: the page goes back to the list without it
        page.wait_for_selector("#new-workspace")
        page.wait_for_selector(
            f"#workspace-rows tr[data-workspace='{workspace_id}']", state="detached"
        )
        state.shot("list-after-delete")
        assert_clean(state)

    with httpx.Client(base_url=docker_dashboard.url, headers={"x-user": "alice"}) as api:
        assert api.get(f"/api/v1/workspaces/{workspace_id}").status_code == 404


@pytest.mark.docker
def test_the_terminal_shows_what_the_shell_prints(
    docker_dashboard: ServiceProcess, tmp_path: Path
) -> None:
    if not terminal_available(docker_dashboard):
        pytest.skip("the terminal endpoint (POST .../terminal/ticket) is not in this build yet")
    with browsing(docker_dashboard, tmp_path) as state:
        page = state.page
        sign_in(state)
        workspace_id = create_workspace(state, "term1")
        wait_row_status(state, workspace_id, "running")
        page.click(f"#workspace-rows tr[data-workspace='{workspace_id}'] a")
        wait_page_status(state, "running")
        page.click("#open-terminal")
        page.wait_for_selector("#terminal .xterm-rows")
        screen_rows(page, lambda rows: any(row.strip() for row in rows))  # the prompt
        page.click("#terminal")
        page.keyboard.type("echo hello")
        page.keyboard.press("Enter")
        # the command line echoes "echo hello"; the shell's answer is a line of its own
        screen_rows(page, lambda rows: "hello" in [row.strip() for row in rows])
        state.shot("terminal")
        page.keyboard.type("exit 3")
        page.keyboard.press("Enter")
        screen_rows(
            page, lambda rows: "[the shell exited with code 3]" in [r.strip() for r in rows]
        )
        page.click("#close-terminal")
        assert_clean(state)


def has_paths(service: ServiceProcess, *paths: str) -> bool:
    documented = httpx.get(f"{service.url}/openapi.json", timeout=10).json()["paths"]
    return all(path in documented for path in paths)


@pytest.mark.docker
def test_files_go_in_and_out_and_logs_show(
    docker_dashboard: ServiceProcess, tmp_path: Path
) -> None:
    files = "/api/v1/workspaces/{workspace_id}/files"
    logs = "/api/v1/workspaces/{workspace_id}/logs"
    if not has_paths(docker_dashboard, files, logs):
        pytest.skip("the files and logs endpoints are not in this build yet")
    upload = tmp_path / "notes.txt"
    upload.write_text("written by the dashboard test\n")
    with browsing(docker_dashboard, tmp_path) as state:
        page = state.page
        sign_in(state)
        workspace_id = create_workspace(state, "files1")
        wait_row_status(state, workspace_id, "running")
        page.click(f"#workspace-rows tr[data-workspace='{workspace_id}'] a")
        wait_page_status(state, "running")

        page.set_input_files("#upload-file", str(upload))
        page.click("#upload")
        page.wait_for_selector("#files-result:has-text('Uploaded notes.txt')")
        page.fill("#download-path", "notes.txt")
        with page.expect_download() as download:
            page.click("#download")
        saved = tmp_path / "downloaded.txt"
        download.value.save_as(saved)
        assert saved.read_text() == "written by the dashboard test\n"

        # an archive, unpacked into a folder
        (tmp_path / "project" / "src").mkdir(parents=True)
        (tmp_path / "project" / "src" / "main.py").write_text("print('unpacked')\n")
        with tarfile.open(tmp_path / "project.tar.gz", "w:gz") as archive:
            archive.add(tmp_path / "project", arcname=".")
        page.set_input_files("#upload-file", str(tmp_path / "project.tar.gz"))
        page.fill("#upload-path", "proj")
        page.check("#upload-unpack")
        page.click("#upload")
        page.wait_for_selector("#files-result:has-text('Unpacked 1 file (18 bytes) into proj')")
        page.fill("#download-path", "proj/src/main.py")
        with page.expect_download() as unpacked:
            page.click("#download")
        unpacked.value.save_as(tmp_path / "main.py")
        assert (tmp_path / "main.py").read_text() == "print('unpacked')\n"

        page.click("#log-show")
        # the template's command (sleep) prints nothing: the page says so, with no error code
        shown = wait_until(
            lambda: page.inner_text("#log-output").strip(), STEP_TIMEOUT / 1000, what="logs"
        )
        assert shown == "(no output)", shown
        page.wait_for_selector("#operation-rows tr[data-type='file_upload'][data-status='success']")
        state.shot("files-and-logs")
        assert_clean(state)


def test_an_admin_sees_every_workspace_by_keyboard_in_the_systems_dark_theme(
    start_service: StartService, tmp_path: Path
) -> None:
    service = start_service(VM_API_ADMINS="root")  # the local provider: no Docker needed
    with service.config.client("bob") as bob:
        created = bob.post("/api/v1/workspaces", json={"name": "bobs", "ttl_seconds": 600})
        assert created.status_code == 201, created.text
    tasks = has_paths(service, "/api/v1/admin/tasks")
    with browsing(service, tmp_path, color_scheme="dark") as state:
        page = state.page
        sign_in(state, "root")
        page.wait_for_selector("#workspace-rows tr:has(a:text-is('bobs')):has-text('bob')")
        assert page.inner_text("#view h1") == "All workspaces"
        assert page.is_visible("#nav-tasks")
        # the system's dark theme, with no choice stored
        assert page.get_attribute("html", "data-theme") is None
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(18, 20, 24)", background

        # by keyboard: the dialog opens on Enter, takes focus, closes on Escape
        page.focus("#new-workspace")
        page.keyboard.press("Enter")
        page.wait_for_selector("#create-dialog[open]")
        assert page.evaluate("document.activeElement.id") == "create-name"
        page.keyboard.press("Escape")
        page.wait_for_selector("#create-dialog[open]", state="detached")
        assert page.evaluate("document.activeElement.id") == "new-workspace"
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline == "solid", outline
        state.shot("admin-list-dark")

        if tasks:
            page.click("#nav-tasks")
            # bob's create ran as a huey task: the recent tasks name it
            page.wait_for_selector("#tasks tbody tr:has-text('provision')")
            assert page.query_selector("#tasks-body .error") is None
            page.select_option("#task-state", "pending")
            page.wait_for_selector("#tasks-body:has-text('No pending tasks.')")
            page.select_option("#task-state", "recent")
            page.wait_for_selector("#tasks tbody tr")
            state.shot("admin-tasks")
        assert_clean(state)


def web_and_worker_with_a_running_workspace(
    start_service: StartService, name: str
) -> tuple[ServiceProcess, dict[str, Any]]:
    """`vm-api web` and `vm-api worker` apart, and alice's `local` workspace running."""
    web = start_service("web")
    start_service("worker", config=web.config)
    with web.config.client("alice") as api:
        created = api.post("/api/v1/workspaces", json={"name": name}).json()
        wait_for_status(api, created["id"], ("running",), 30)
    return web, created


def test_the_list_catches_up_after_the_web_server_restarts(
    start_service: StartService, tmp_path: Path
) -> None:
    """The stream resumes with Last-Event-ID: a change made while the web process was down
    reaches the page when it comes back, with no reload."""
    web, created = web_and_worker_with_a_running_workspace(start_service, "steady")
    with browsing(web, tmp_path) as state:
        page = state.page
        resumed_from: list[str | None] = []
        page.on(
            "request",
            lambda request: (
                urlsplit(request.url).path == "/api/v1/events"
                and resumed_from.append(request.headers.get("last-event-id"))
            ),
        )
        sign_in(state)
        wait_row_status(state, created["id"], "running")
        # an event reaches the page, so that it has an id to resume from
        with web.config.client("alice") as api:
            other = api.post("/api/v1/workspaces", json={"name": "second"}).json()
        wait_row_status(state, other["id"], "running")

        web.stop()
        page.wait_for_selector("#live[data-state=reconnecting]")
        # a change committed while no web process runs: the database's trigger records it
        execute(
            web.config.settings(),
            "UPDATE workspaces SET status = 'stopped' WHERE id = ?",
            (created["id"],),
        )
        start_service("web", config=web.config)

        wait_row_status(state, created["id"], "stopped")
        page.wait_for_selector("#live[data-state=live]")
        assert resumed_from[0] is None
        assert resumed_from[-1] is not None and resumed_from[-1].isdigit(), resumed_from
        # the browser's own lines for the refused connections while the server was down
        state.console_errors = [
            line for line in state.console_errors if "ERR_CONNECTION_REFUSED" not in line
        ]
        assert_clean(state)


def creates_take_a_ref(service: ServiceProcess) -> bool:
    """Whether the create body documents repo_ref (cloning into Docker workspaces)."""
    document = httpx.get(f"{service.url}/openapi.json", timeout=10).json()
    body = document["paths"]["/api/v1/workspaces"]["post"].get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})
    return "repo_ref" in schema.get("properties", {})


@pytest.mark.docker
def test_a_create_from_a_repository_shows_its_progress(
    docker_dashboard: ServiceProcess, tmp_path: Path
) -> None:
    if not creates_take_a_ref(docker_dashboard):
        pytest.skip(
            "cloning into a Docker workspace (repo_ref, progress lines) is not in this build"
        )
    repo = git_repository(tmp_path / "repo", {"README": "hello\n"})
    with browsing(docker_dashboard, tmp_path) as state:
        page = state.page
        sign_in(state)
        page.click("#new-workspace")
        page.fill("#create-name", "cloned")
        page.fill("#create-repo", str(repo))  # a local path: the harness allows file repos
        page.fill("#create-ref", "main")
        page.click("#create-submit")
        row = page.wait_for_selector("#workspace-rows tr:has(a:text-is('cloned'))")
        workspace_id = row.get_attribute("data-workspace")
        page.click(f"#workspace-rows tr[data-workspace='{workspace_id}'] a")
        wait_page_status(state, "running")
        create = "#operation-rows tr[data-type='create'][data-status='success']"
        assert page.inner_text(f"{create} td.progress").strip()  # its latest progress line
        page.click(f"{create} button")
        lines = page.wait_for_selector("#operation-rows pre.log")
        text = wait_until(
            lambda: (shown := lines.inner_text()) not in ("…", "") and shown,
            STEP_TIMEOUT / 1000,
            what="progress lines",
        )
        assert "cloning 100 %" in text.splitlines(), text
        assert page.inner_text("#details").count(f"{repo} @ main") == 1
        state.shot("progress")
        assert_clean(state)


def test_a_workspace_on_a_down_host_says_why_in_the_list_and_its_page(
    start_service: StartService, tmp_path: Path
) -> None:
    """What the sweep writes when a Docker host stops reporting reaches the page live."""
    web, created = web_and_worker_with_a_running_workspace(start_service, "far")
    reason = "host b is unreachable: its consumer has not reported since 2026-12-03T10:00:00.000Z"
    with browsing(web, tmp_path) as state:
        page = state.page
        sign_in(state)
        wait_row_status(state, created["id"], "running")
        execute(
            web.config.settings(),
            "UPDATE workspaces SET host = 'b', host_unreachable = ? WHERE id = ?",
            (reason, created["id"]),
        )
        row = f"#workspace-rows tr[data-workspace='{created['id']}']"
        badge = page.wait_for_selector(f"{row} .host-down")
        assert badge.get_attribute("title") == reason
        page.click(f"{row} a")
        assert page.wait_for_selector("#host-unreachable").inner_text() == reason
        assert page.is_disabled("#open-terminal")
        assert "on b" in page.inner_text("#details")
        state.shot("workspace-host-down")
        assert_clean(state)
