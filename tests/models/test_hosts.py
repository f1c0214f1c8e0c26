"""The Docker host registry: placement, liveness and the reasons a host's workspaces show."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from db_support import execute, query

from models.hosts import (
    NoLiveHost,
    adopt_workspaces,
    forget_host,
    host_states,
    hostless_docker_workspaces,
    mark_unreachable,
    operation_hosts,
    report_host,
)
from models.records import sql_time, utcnow
from models.settings import Settings
from models.workspaces import Limits, NewWorkspace, insert_workspace, select_workspace

pytestmark = pytest.mark.usefixtures("migrated")
TIMEOUT = 30


def create(
    name: str, provider: str = "docker", owner: str = "alice"
) -> tuple[str, str, str | None]:
    ws, op = insert_workspace(NewWorkspace(owner, name, provider), Limits(host_timeout=TIMEOUT))
    return ws.id, op.id, ws.host


def silence(settings: Settings, host: str, seconds: int) -> None:
    """As if host's consumer last reported `seconds` ago."""
    then = sql_time(utcnow() - timedelta(seconds=seconds))
    execute(settings, "UPDATE docker_hosts SET last_seen = ? WHERE name = ?", (then, host))


def workspace_events(data: Settings, workspace_id: str) -> int:
    ((count,),) = query(
        data,
        "SELECT count(*) FROM change_events WHERE kind = 'workspace' AND object_id = ?",
        (workspace_id,),
    )
    return int(count)


def test_without_hosts_a_workspace_has_none() -> None:
    _, _, host = create("dev")
    assert host is None


def test_a_burst_of_creates_spreads_evenly_over_live_hosts() -> None:
    report_host("a", "unix:///a.sock", None)
    report_host("b", "unix:///b.sock", None)
    hosts = Counter(create(f"w{i}", owner=f"u{i % 3}")[2] for i in range(9))
    assert hosts == {"a": 5, "b": 4}  # a tie goes to the first name


def test_placement_counts_active_workspaces_only(migrated: Settings) -> None:
    report_host("a", "unix:///a.sock", None)
    first, _, host = create("one")
    assert host == "a"
    execute(migrated, "UPDATE workspaces SET status = 'stopped' WHERE id = ?", (first,))
    report_host("b", "unix:///b.sock", None)
    # a's stopped workspace does not count: a and b tie, a wins by name
    assert create("two")[2] == "a"
    assert create("three")[2] == "b"


def test_local_workspaces_get_no_host() -> None:
    report_host("a", "unix:///a.sock", None)
    assert create("folder", provider="local")[2] is None


def test_a_silent_host_gets_nothing_new(migrated: Settings) -> None:
    report_host("a", "unix:///a.sock", None)
    report_host("b", "unix:///b.sock", None)
    silence(migrated, "a", TIMEOUT + 5)
    assert {create(f"w{i}")[2] for i in range(4)} == {"b"}
    states = {state.name: state for state in host_states(TIMEOUT)}
    assert not states["a"].live and states["b"].live
    assert "has not reported since" in str(states["a"].unreachable)
    assert states["b"].active_workspaces == 4


def test_a_host_whose_daemon_does_not_answer_gets_nothing_new() -> None:
    report_host("a", "unix:///a.sock", "its Docker daemon does not answer: refused")
    report_host("b", "unix:///b.sock", None)
    assert create("dev")[2] == "b"


def test_no_live_host_refuses_the_create_and_records_nothing(migrated: Settings) -> None:
    report_host("a", "unix:///a.sock", None)
    silence(migrated, "a", TIMEOUT + 1)
    with pytest.raises(NoLiveHost, match="host a is unreachable"):
        create("dev")
    assert query(migrated, "SELECT count(*) FROM workspaces") == [(0,)]


def test_the_sweep_mark_says_why_and_clears_when_the_host_is_back(migrated: Settings) -> None:
    report_host("a", "unix:///a.sock", None)
    report_host("b", "unix:///b.sock", None)
    on_a, _, _ = create("on-a")
    on_b, _, _ = create("on-b")
    assert mark_unreachable(TIMEOUT) == 0

    events_before = workspace_events(migrated, on_a)
    silence(migrated, "a", TIMEOUT + 5)
    assert mark_unreachable(TIMEOUT) == 1
    assert mark_unreachable(TIMEOUT) == 0  # the same reason is not written again
    assert workspace_events(migrated, on_a) == events_before + 1  # live streams see it
    reason = select_workspace(on_a, None).host_unreachable
    assert reason is not None and reason.startswith("host a is unreachable")
    assert select_workspace(on_b, None).host_unreachable is None

    report_host("a", "unix:///a.sock", None)
    assert mark_unreachable(TIMEOUT) == 1
    assert select_workspace(on_a, None).host_unreachable is None
    assert workspace_events(migrated, on_a) == events_before + 2


def test_operation_hosts_names_each_operations_host() -> None:
    report_host("a", "unix:///a.sock", None)
    _, on_a, _ = create("docker-one")
    _, local, _ = create("folder", provider="local")
    assert operation_hosts([on_a, local, "no-such-operation"]) == {on_a: "a", local: None}


def test_forget_a_host_only_once_it_holds_nothing(migrated: Settings) -> None:
    report_host("a", "unix:///a.sock", None)
    workspace, _, _ = create("dev")
    with pytest.raises(ValueError, match="still holds 1 workspaces"):
        forget_host("a")
    execute(migrated, "UPDATE workspaces SET status = 'deleted' WHERE id = ?", (workspace,))
    assert forget_host("a") is True
    assert forget_host("a") is False
    assert host_states(TIMEOUT) == []


def test_the_sweep_leaves_a_down_hosts_pending_work_in_its_queue(migrated: Settings) -> None:
    from models.maintenance import recover_operations

    report_host("a", "unix:///a.sock", None)
    _, operation, _ = create("dev")
    long_ago = sql_time(utcnow() - timedelta(seconds=120))
    execute(migrated, "UPDATE operations SET enqueued_at = ? WHERE id = ?", (long_ago, operation))
    silence(migrated, "a", TIMEOUT + 5)
    mark_unreachable(TIMEOUT)
    assert recover_operations(30, 30, 3).requeue == []  # it waits in host a's queue

    report_host("a", "unix:///a.sock", None)
    mark_unreachable(TIMEOUT)
    assert recover_operations(30, 30, 3).requeue == []  # found in no queue: marked
    execute(migrated, "UPDATE operations SET missing_since = ? WHERE id = ?", (long_ago, operation))
    assert [item.operation_id for item in recover_operations(30, 30, 3).requeue] == [operation]


def test_a_host_adopts_hostless_workspaces_once_with_their_pending_operations(
    migrated: Settings,
) -> None:
    kept, kept_create, _ = create("kept")
    gone, _, _ = create("gone")
    create("local-one", provider="local")
    execute(migrated, "UPDATE operations SET status = 'success' WHERE id = ?", (kept_create,))
    execute(migrated, "UPDATE workspaces SET status = 'deleted' WHERE id = ?", (gone,))
    assert hostless_docker_workspaces() == {kept}  # neither local nor deleted ones

    report_host("a", "unix:///a.sock", None)
    report_host("b", "unix:///b.sock", None)
    later, later_create, host = create("later")
    assert host is not None  # made once hosts exist: never host-less

    assert adopt_workspaces("a", {kept, gone}) == (1, [])  # its create is done: nothing to redo
    # a second host reaching the same workspace (or a race) does not take it again
    assert adopt_workspaces("b", {kept}) == (0, [])
    assert select_workspace(kept, None).host == "a"
    assert query(migrated, "SELECT host FROM workspaces WHERE id = ?", (gone,)) == [(None,)]

    execute(migrated, "UPDATE workspaces SET host = NULL WHERE id = ?", (later,))
    assert adopt_workspaces("b", {later}) == (1, [(later_create, "create")])
    assert operation_hosts([later_create]) == {later_create: "b"}
