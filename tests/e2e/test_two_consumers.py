"""Several consumers on one queue with the data on PostgreSQL: nothing runs twice, nothing is
lost when one of them is killed. (The PostgreSQL pass of the suite; skipped on SQLite, where
one file serializes every writer anyway.)"""

from __future__ import annotations

import ast
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from db_support import query
from harness import ServiceConfig, ServiceProcess, StartService, wait_until

pytestmark = pytest.mark.slow

FAST_RECOVERY = {
    "VM_API_HEARTBEAT_TIMEOUT": "3",
    "VM_API_PROVISIONER_INTERVAL": "1",
    "VM_API_REQUEUE_AFTER": "2",
    "VM_API_WORKERS": "2",
    "VM_API_JANITOR_INTERVAL": "1",  # many janitor slots while the two consumers race
}


def on_postgres_only(config: ServiceConfig) -> None:
    if config.database_url is None:
        pytest.skip("the data is on SQLite in this run (the PostgreSQL pass runs this)")


def create_many(config: ServiceConfig, count: int, prefix: str) -> list[str]:
    def one(index: int) -> str:
        with httpx.Client(
            base_url=config.url, headers={"x-user": f"u{index % 10}"}, timeout=30
        ) as api:
            response = api.post("/api/v1/workspaces", json={"name": f"{prefix}{index}"})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def settled(config: ServiceConfig) -> bool:
    ((open_ops,),) = query(
        config.settings(), "SELECT count(*) FROM operations WHERE status IN ('pending', 'running')"
    )
    return open_ops == 0


def runs_per_operation(config: ServiceConfig, task: str = "%") -> Counter[str]:
    """How many times a consumer started each operation's task (huey's own signals), by the
    task's first argument (an operation id, or a periodic slot)."""
    rows = query(
        config.settings(),
        "SELECT args FROM huey_event WHERE signal = 'executing' AND task LIKE ?",
        (task,),
    )
    # recorded as "('<operation id>',) {}": the positional arguments, then the keyword ones
    positional = [ast.literal_eval(args.rsplit(" {", 1)[0]) for (args,) in rows if args]
    return Counter(str(values[0]) for values in positional if values)  # periodic tasks: none


def executed_by(worker: ServiceProcess) -> int:
    return worker.log_text().count("Executing ")


def start_two(start_service: StartService) -> tuple[ServiceProcess, ServiceProcess, ServiceProcess]:
    web = start_service("web", **FAST_RECOVERY)
    on_postgres_only(web.config)
    first = start_service("worker", config=web.config)
    second = start_service("worker", config=web.config)
    return web, first, second


def test_two_consumers_provision_200_workspaces_each_exactly_once(
    start_service: StartService,
) -> None:
    web, first, second = start_two(start_service)
    ids = create_many(web.config, 200, "w")
    wait_until(lambda: settled(web.config), 180, interval=0.5, what="every create to finish")

    data = web.config.settings()
    statuses = dict(query(data, "SELECT id, status FROM workspaces"))
    assert statuses == {workspace_id: "running" for workspace_id in ids}
    creates = query(
        data, "SELECT id, status, attempts FROM operations WHERE operation_type = 'create'"
    )
    assert len(creates) == 200
    assert {(status, attempts) for _, status, attempts in creates} == {("success", 1)}
    # huey's history is written in batches: wait until every create's run is in it
    wanted = {op_id for op_id, _, _ in creates}

    def recorded() -> bool:
        return wanted <= set(runs_per_operation(web.config))

    wait_until(recorded, 60, interval=0.2, what="every create's run in the history")
    runs = runs_per_operation(web.config)
    assert {op_id: runs[op_id] for op_id, _, _ in creates} == {op_id: 1 for op_id, _, _ in creates}
    folders = sorted(p.name for p in (web.config.data_dir / "workspaces").iterdir())
    assert folders == sorted(ids)
    assert executed_by(first) > 0 and executed_by(second) > 0  # both took part
    janitor_runs = runs_per_operation(web.config, "%janitor_slot")
    assert len(janitor_runs) >= 3 and set(janitor_runs.values()) == {1}  # once per slot


def test_kill_9_of_one_of_two_consumers_mid_burst_loses_nothing_and_runs_nothing_twice(
    start_service: StartService,
) -> None:
    web, victim, survivor = start_two(start_service)
    made: list[str] = []
    burst = threading.Thread(target=lambda: made.extend(create_many(web.config, 80, "k")))
    burst.start()
    wait_until(lambda: executed_by(victim) >= 5, 60, interval=0.05, what="the victim at work")
    victim.kill()  # SIGKILL: whatever it held is re-run by the sweep, on the survivor
    burst.join(timeout=120)
    wait_until(lambda: settled(web.config), 180, interval=0.5, what="every create to finish")

    data = web.config.settings()
    statuses = dict(query(data, "SELECT id, status FROM workspaces"))
    assert len(made) == 80
    assert statuses == {workspace_id: "running" for workspace_id in made}
    creates = query(data, "SELECT status FROM operations WHERE operation_type = 'create'")
    assert [status for (status,) in creates] == ["success"] * 80
    folders = sorted(p.name for p in (web.config.data_dir / "workspaces").iterdir())
    assert folders == sorted(made)  # one each, no half-made scratch folder left behind
    assert executed_by(survivor) > 0
