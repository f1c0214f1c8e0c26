"""`vm-api hosts`: the operator's view of the Docker hosts, on the server.

vm-api hosts                 every host a consumer reported from: live or why not, workspaces
vm-api hosts forget NAME     take a host out of the registry (none of its workspaces left)

Both take --json. Exit codes: 0 done, 1 refused or not found.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from models.settings import Settings


def add_hosts_parser(sub: Any) -> None:
    parser = sub.add_parser("hosts", help="list or forget Docker hosts (operators)")
    parser.add_argument("action", nargs="?", choices=("forget",), help="default: the list")
    parser.add_argument("name", nargs="?", help="the host to forget")
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")


def host_table(hosts: list[dict[str, Any]]) -> str:
    """One line per host (pure: tests/service/test_host_commands.py)."""
    if not hosts:
        return "no Docker hosts: the service runs on its one DOCKER_HOST"
    lines = [f"{'HOST':<16} {'STATE':<6} {'ACTIVE':>6}  DAEMON / WHY"]
    for host in hosts:
        state = "live" if host["live"] else "down"
        detail = host["docker_url"] if host["live"] else host["unreachable"]
        lines.append(f"{host['name']:<16} {state:<6} {host['active_workspaces']:>6}  {detail}")
    return "\n".join(lines)


def cmd_hosts(settings: Settings, args: argparse.Namespace) -> int:
    from models.hosts import forget_host, host_states
    from models.store import open_store

    open_store(settings.data_target)
    if args.action == "forget":
        if not args.name:
            print("vm-api hosts forget: a host name is required", file=sys.stderr)
            return 1
        try:
            forgotten = forget_host(args.name)
        except ValueError as exc:
            print(f"vm-api hosts: {exc}", file=sys.stderr)
            return 1
        if not forgotten:
            print(f"vm-api hosts: no Docker host named {args.name!r}", file=sys.stderr)
            return 1
        print(f"vm-api hosts: forgot {args.name}")
        return 0
    hosts = [state.to_json() for state in host_states(settings.host_timeout)]
    print(json.dumps(hosts) if args.json else host_table(hosts))
    return 0
