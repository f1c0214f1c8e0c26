"""`vm-api ws ...`: workspaces from a person's shell, against VM_API_URL.

Exit codes: 0 done, 1 the operation failed (or the service could not be reached), 2 usage,
3 not found, 4 refused (the API said no: a bad value, a conflict, not allowed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from client import transfer
from client.http import Api, ApiError, Connection, UsageError
from client.output import (
    WORKSPACE_COLUMNS,
    describe_workspace,
    err,
    print_json,
    table,
    workspace_rows,
)
from client.trash_cli import cmd_purge, cmd_trash, undelete_request
from client.workspaces import list_workspaces, progress_to_stderr, resolve, wait_for_operation

OK, FAILED, USAGE, NOT_FOUND, REFUSED = 0, 1, 2, 3, 4

Command = Callable[[Api, argparse.Namespace], int]


def _finish(api: Api, args: argparse.Namespace, accepted: dict[str, Any], what: str) -> int:
    """Wait for the operation an action started (unless --no-wait) and say how it ended."""
    workspace_id = accepted.get("workspace_id") or accepted["id"]
    operation_id = accepted["operation_id"]
    if args.no_wait:
        if args.json:
            print_json(accepted)
        else:
            print(f"{what}: operation {operation_id} accepted")
        return OK
    say = progress_to_stderr if not args.json else (lambda _line: None)
    operation = wait_for_operation(api, workspace_id, operation_id, say)
    if args.json:
        print_json(operation)
    elif operation["status"] == "success":
        print(f"{what}: done")
    else:
        err(f"{what}: {operation['status']}: {operation.get('error') or 'no reason given'}")
    return OK if operation["status"] == "success" else FAILED


def cmd_list(api: Api, args: argparse.Namespace) -> int:
    workspaces = list_workspaces(api, args.status)
    if args.json:
        print_json(workspaces)
    elif workspaces:
        print(table(workspace_rows(workspaces), WORKSPACE_COLUMNS))
    else:
        print("no workspaces")
    return OK


def cmd_get(api: Api, args: argparse.Namespace) -> int:
    workspace = resolve(api, args.workspace)
    print_json(workspace) if args.json else print(describe_workspace(workspace))
    return OK


def cmd_create(api: Api, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"name": args.name}
    for key in ("template", "cpus", "memory_mb", "repo_url", "repo_ref", "ttl_seconds"):
        value = getattr(args, key)
        if value is not None:
            body[key] = value
    workspace = api.post("/workspaces", body)
    # A create answers 201 with the workspace (as the original did); its operation is the one
    # create operation of the new workspace.
    operations = api.get("/operations", workspace_id=workspace["id"], type="create", limit=1)
    accepted = {**workspace, "operation_id": operations[0]["id"]}
    return _finish(api, args, accepted, f"create {args.name}")


def _action(name: str) -> Command:
    def command(api: Api, args: argparse.Namespace) -> int:
        workspace = resolve(api, args.workspace)
        accepted = api.post(f"/workspaces/{workspace['id']}/{name}")
        return _finish(api, args, accepted, f"{name} {workspace['name']}")

    return command


def cmd_delete(api: Api, args: argparse.Namespace) -> int:
    workspace = resolve(api, args.workspace)
    query = {"keep": "true"} if args.keep else None
    accepted = api.call("DELETE", f"/workspaces/{workspace['id']}", params=query)
    return _finish(api, args, accepted, f"delete {workspace['name']}")


def cmd_undelete(api: Api, args: argparse.Namespace) -> int:
    accepted, what = undelete_request(api, args)
    return _finish(api, args, accepted, what)


def cmd_snapshot(api: Api, args: argparse.Namespace) -> int:
    workspace = resolve(api, args.workspace)
    body = {"name": args.snapshot} if args.snapshot else {}
    accepted = api.post(f"/workspaces/{workspace['id']}/snapshots", body)
    accepted.setdefault("workspace_id", workspace["id"])
    return _finish(api, args, accepted, f"snapshot {workspace['name']}")


def _snapshot_id(api: Api, workspace_id: str, name_or_id: str) -> str:
    snapshots = api.get(f"/workspaces/{workspace_id}/snapshots")
    for snapshot in snapshots:
        if name_or_id in (snapshot["id"], snapshot["name"]):
            return str(snapshot["id"])
    raise ApiError(404, "NOT_FOUND", f"no snapshot named or with id {name_or_id!r}")


def cmd_restore(api: Api, args: argparse.Namespace) -> int:
    workspace = resolve(api, args.workspace)
    snapshot_id = _snapshot_id(api, workspace["id"], args.snapshot)
    accepted = api.post(f"/workspaces/{workspace['id']}/snapshots/{snapshot_id}/restore")
    accepted.setdefault("workspace_id", workspace["id"])
    return _finish(api, args, accepted, f"restore {workspace['name']}")


def cmd_logs(api: Api, args: argparse.Namespace) -> int:
    workspace = resolve(api, args.workspace)
    return transfer.print_logs(api, workspace["id"], args.tail, args.follow)


def _env(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--env takes NAME=VALUE, not {pair!r}")
        env[name] = value
    return env


def _stdin_text() -> str:
    try:
        return sys.stdin.buffer.read().decode()
    except UnicodeDecodeError:
        raise UsageError("exec -i sends text: standard input is not UTF-8") from None


def cmd_exec(api: Api, args: argparse.Namespace) -> int:
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise UsageError("exec needs a command: vm-api ws exec NAME -- CMD ...")
    body: dict[str, Any] = {"command": command, "timeout_seconds": args.timeout}
    if args.workdir:
        body["workdir"] = args.workdir
    if args.env:
        body["env"] = _env(args.env)
    if args.interactive:
        body["stdin"] = _stdin_text()
    workspace = resolve(api, args.workspace)
    return transfer.run_exec(api, workspace["id"], body, args.json)


def cmd_cp(api: Api, args: argparse.Namespace) -> int:
    source, target = args.source, args.target
    if ":" in source and ":" not in target:
        name, _, path = source.partition(":")
        workspace = resolve(api, name)
        return transfer.download(api, workspace["id"], path, Path(target))
    if ":" in target and ":" not in source:
        name, _, path = target.partition(":")
        workspace = resolve(api, name)
        return transfer.upload(api, workspace["id"], Path(source), path)
    raise UsageError("cp copies between NAME:PATH and a local path, one of each")


def cmd_shell(api: Api, args: argparse.Namespace) -> int:
    from client.shell import open_shell  # the terminal needs a tty and websockets

    workspace = resolve(api, args.workspace)
    return open_shell(api, workspace["id"])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vm-api ws",
        description="Workspaces from your shell (VM_API_URL, VM_API_USER or VM_API_TOKEN).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, command: Command, help_text: str, *, wait: bool = False) -> Any:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(run=command)
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        if wait:
            p.add_argument("--no-wait", action="store_true", help="return once accepted")
        return p

    add("list", cmd_list, "your workspaces").add_argument("--status")
    create = add("create", cmd_create, "create a workspace", wait=True)
    create.add_argument("name")
    create.add_argument("--template", "-t")
    create.add_argument("--cpus", type=float)
    create.add_argument("--memory-mb", dest="memory_mb", type=int)
    create.add_argument("--repo", dest="repo_url")
    create.add_argument("--ref", dest="repo_ref", help="branch, tag or commit of --repo")
    create.add_argument("--ttl", dest="ttl_seconds", type=int, help="time to live, seconds")
    add("get", cmd_get, "show one workspace").add_argument("workspace")
    for action in ("start", "stop", "restart", "rebuild"):
        add(action, _action(action), f"{action} a workspace", wait=True).add_argument("workspace")
    delete = add("delete", cmd_delete, "delete a workspace", wait=True)
    delete.add_argument("workspace")
    delete.add_argument("--keep", action="store_true", help="keep it in the trash, restorable")
    add("trash", cmd_trash, "deleted workspaces you can still undelete")
    undelete = add("undelete", cmd_undelete, "bring a workspace back from the trash", wait=True)
    undelete.add_argument("workspace", help="its name or id in the trash")
    undelete.add_argument("--as", dest="rename", help="a new name, if the old one is taken")
    add("purge", cmd_purge, "remove a workspace from the trash now").add_argument("workspace")
    snapshot = add("snapshot", cmd_snapshot, "take a snapshot", wait=True)
    snapshot.add_argument("workspace")
    snapshot.add_argument("snapshot", nargs="?", help="the snapshot's name")
    restore = add("restore", cmd_restore, "restore a snapshot", wait=True)
    restore.add_argument("workspace")
    restore.add_argument("snapshot", help="the snapshot's name or id")
    logs = add("logs", cmd_logs, "the workspace's output")
    logs.add_argument("workspace")
    logs.add_argument("--tail", type=int, default=100)
    logs.add_argument("--follow", "-f", action="store_true")
    execute = add("exec", cmd_exec, "run a command: vm-api ws exec NAME -- CMD ...")
    execute.add_argument("workspace")
    execute.add_argument("command", nargs=argparse.REMAINDER)
    _exec_options(execute)
    add("shell", cmd_shell, "open a terminal in the workspace").add_argument("workspace")
    cp = add("cp", cmd_cp, "copy a file: NAME:PATH LOCAL, or LOCAL NAME:PATH")
    cp.add_argument("source")
    cp.add_argument("target")
    return parser


def _exec_options(parser: argparse.ArgumentParser) -> None:
    """exec's own options (`--json` is every command's)."""
    parser.add_argument("--timeout", type=int, default=60, help="seconds (at most 600)")
    parser.add_argument("--workdir", "-w", help="where it runs, relative to the workspace")
    parser.add_argument("--env", "-e", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument(
        "--interactive", "-i", action="store_true", help="give it this standard input (text)"
    )


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """`exec NAME [options] -- CMD ...`: what follows `--` is the command, untouched. The
    command is argparse's REMAINDER, which also takes the options between NAME and `--`:
    those are parsed again here as exec's own."""
    if argv[:1] != ["exec"] or "--" not in argv:
        return parser.parse_args(argv)
    split = argv.index("--")
    args = parser.parse_args(argv[:split])
    options = argparse.ArgumentParser(prog="vm-api ws exec NAME", add_help=False)
    options.add_argument("--json", action="store_true")
    _exec_options(options)
    options.parse_args(args.command, namespace=args)
    args.command = argv[split + 1 :]
    return args


def _exit_code_of(exc: ApiError) -> int:
    if exc.status == 404:
        return NOT_FOUND
    if 400 <= exc.status < 500:
        return REFUSED
    return FAILED


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = _parse(parser, sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for a usage error
        return int(exc.code or 0)
    try:
        api = Api(Connection.from_env())
    except UsageError as exc:
        err(str(exc))
        return USAGE
    try:
        return int(args.run(api, args))
    except UsageError as exc:
        err(str(exc))
        return USAGE
    except ApiError as exc:
        err(f"{exc} ({exc.code})" if exc.status else str(exc))
        return _exit_code_of(exc)
    except KeyboardInterrupt:
        return 130
    finally:
        api.close()


if __name__ == "__main__":
    sys.exit(main())
