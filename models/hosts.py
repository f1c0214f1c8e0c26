"""Docker hosts: which consumers are alive, where a new workspace goes, and why a host's
workspaces cannot be reached.

A consumer started with VM_API_WORKER_HOST_NAME reports every few seconds (`report_host`):
its daemon's address and whether that daemon answered. A host is live while its last report
is younger than VM_API_HOST_TIMEOUT and said the daemon answered. With no host ever reported,
the service runs as one host (workspaces have no `host`, every task goes to the one queue).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pony.orm import db_session

from models.reads import stored_moment
from models.records import rfc3339, sql_time, utcnow
from models.states import ACTIVE_STATUSES
from models.store import active, write_session

# Placement counts what is running or on its way there: in a burst of creates nothing is
# running yet, and counting only `running` would send the whole burst to one host.
_ACTIVE = tuple(sorted(status.value for status in ACTIVE_STATUSES))


class NoLiveHost(Exception):
    """Hosts are registered, but none takes new workspaces now."""


@dataclass(frozen=True)
class HostState:
    name: str
    docker_url: str | None
    first_seen: datetime
    last_seen: datetime
    daemon_error: str | None
    active_workspaces: int
    unreachable: str | None  # None: live

    @property
    def live(self) -> bool:
        return self.unreachable is None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "docker_url": self.docker_url,
            "first_seen": rfc3339(self.first_seen),
            "last_seen": rfc3339(self.last_seen),
            "live": self.live,
            "unreachable": self.unreachable,
            "active_workspaces": self.active_workspaces,
        }


def unreachable_reason(
    name: str, last_seen: datetime, daemon_error: str | None, now: datetime, timeout: int
) -> str | None:
    # Stable wording while the host stays down: the sweep writes a workspace only on change.
    if (now - last_seen).total_seconds() > timeout:
        return (
            f"host {name} is unreachable: its consumer has not reported since "
            f"{rfc3339(last_seen)} (more than {timeout} s)"
        )
    if daemon_error is not None:
        return f"host {name} is unreachable: {daemon_error}"
    return None


@write_session
def report_host(name: str, docker_url: str, daemon_error: str | None) -> None:
    """The consumer of host `name` is alive; `daemon_error` (a phrase: "its Docker daemon does
    not answer: ...") says why it takes no work now."""
    now = sql_time(utcnow())
    active().db.execute(
        """INSERT INTO docker_hosts (name, docker_url, first_seen, last_seen, daemon_error)
        VALUES ($name, $docker_url, $now, $now, $daemon_error)
        ON CONFLICT (name) DO UPDATE SET docker_url = excluded.docker_url,
            last_seen = excluded.last_seen, daemon_error = excluded.daemon_error""",
        {"name": name, "docker_url": docker_url, "now": now, "daemon_error": daemon_error},
    )


def _states(timeout: int) -> list[HostState]:
    rows = active().db.select(
        f"""SELECT h.name, h.docker_url, h.first_seen, h.last_seen, h.daemon_error,
            (SELECT count(*) FROM workspaces AS w WHERE w.host = h.name
                AND w.status IN ({", ".join(f"'{s}'" for s in _ACTIVE)}))
        FROM docker_hosts AS h ORDER BY h.name"""
    )
    now = utcnow()
    states = []
    for name, url, first, last, error, count in rows:
        last_seen: datetime = stored_moment(last)  # type: ignore[assignment]
        states.append(
            HostState(
                name=name,
                docker_url=url,
                first_seen=stored_moment(first),  # type: ignore[arg-type]
                last_seen=last_seen,
                daemon_error=error,
                active_workspaces=int(count),
                unreachable=unreachable_reason(name, last_seen, error, now, timeout),
            )
        )
    return states


@db_session
def host_states(timeout: int) -> list[HostState]:
    return _states(timeout)


def place_workspace(timeout: int) -> str | None:
    """The host for a new Docker workspace, inside the caller's write session (so a burst of
    creates sees each other's choices): the live host with the fewest active workspaces, by
    name on a tie. None when no host was ever registered."""
    states = _states(timeout)
    if not states:
        return None
    live = [state for state in states if state.live]
    if not live:
        reasons = "; ".join(str(state.unreachable) for state in states)
        raise NoLiveHost(f"no Docker host takes new workspaces now: {reasons}")
    return min(live, key=lambda state: (state.active_workspaces, state.name)).name


@db_session
def host_names() -> list[str]:
    return list(active().db.select("SELECT name FROM docker_hosts ORDER BY name"))


@db_session
def operation_hosts(operation_ids: list[str]) -> dict[str, str | None]:
    """The host of each operation's workspace (None: the service's one Docker host)."""
    found: dict[str, str | None] = {}
    for start in range(0, len(operation_ids), 500):
        chunk = operation_ids[start : start + 500]
        marks = ", ".join(f"$ids_{i}" for i in range(len(chunk)))
        rows = active().db.select(
            f"""SELECT o.id, w.host FROM operations AS o
            JOIN workspaces AS w ON w.id = o.workspace_id WHERE o.id IN ({marks})""",
            {f"ids_{i}": value for i, value in enumerate(chunk)},
        )
        found.update({op_id: host for op_id, host in rows})
    return found


@db_session
def docker_url_of(name: str) -> str | None:
    """Where host `name`'s daemon answers; None if no such host was ever reported."""
    rows = active().db.select(
        "SELECT docker_url FROM docker_hosts WHERE name = $name", {"name": name}
    )
    return rows[0] if rows else None


@write_session
def mark_unreachable(timeout: int) -> int:
    """Say on each workspace of a host that is not live why it cannot be reached, and clear
    that once the host is back. Only changed rows are written (each change is an event)."""
    changed = 0
    now = sql_time(utcnow())
    for state in _states(timeout):
        changed += (
            active()
            .db.execute(
                """UPDATE workspaces SET host_unreachable = $reason, updated_at = $now
            WHERE host = $name AND status != 'deleted'
              AND (host_unreachable IS NULL OR host_unreachable != $reason)"""
                if state.unreachable is not None
                else """UPDATE workspaces SET host_unreachable = NULL, updated_at = $now
            WHERE host = $name AND host_unreachable IS NOT NULL""",
                {"reason": state.unreachable, "name": state.name, "now": now},
            )
            .rowcount
        )
    return changed


@db_session
def hostless_docker_workspaces() -> set[str]:
    """Docker workspaces made before any host was named (`host` null), not deleted."""
    return set(
        active().db.select(
            """SELECT id FROM workspaces
            WHERE provider = 'docker' AND host IS NULL AND status != 'deleted'"""
        )
    )


@write_session
def adopt_workspaces(name: str, workspace_ids: set[str]) -> tuple[int, list[tuple[str, str]]]:
    """Host `name` takes these host-less workspaces (their container or volume is on its
    daemon): their later tasks go to its queue. Returns how many it took, and the
    (operation id, type) of their pending operations, whose tasks wait on the shared queue and
    must be enqueued again on the host's."""
    db = active().db
    adopted = 0
    pending: list[tuple[str, str]] = []
    now = sql_time(utcnow())
    for workspace_id in sorted(workspace_ids):
        taken = db.execute(
            """UPDATE workspaces SET host = $name, updated_at = $now
            WHERE id = $id AND host IS NULL AND status != 'deleted'""",
            {"name": name, "id": workspace_id, "now": now},
        ).rowcount
        if not taken:
            continue  # another host took it first, or it was deleted meanwhile
        adopted += 1
        pending += db.select(
            """SELECT id, operation_type FROM operations
            WHERE workspace_id = $id AND status = 'pending' ORDER BY started_at""",
            {"id": workspace_id},
        )
    return adopted, [(op_id, kind) for op_id, kind in pending]


@write_session
def forget_host(name: str) -> bool:
    """Remove a host from the registry; False if unknown. Refused (ValueError) while
    workspaces still live there."""
    db = active().db
    if not db.select("SELECT name FROM docker_hosts WHERE name = $name", {"name": name}):
        return False
    (left,) = db.select(
        "SELECT count(*) FROM workspaces WHERE host = $name AND status != 'deleted'",
        {"name": name},
    )
    if left:
        raise ValueError(f"host {name} still holds {left} workspaces; delete or move them first")
    db.execute("DELETE FROM docker_hosts WHERE name = $name", {"name": name})
    return True
