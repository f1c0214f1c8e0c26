"""The `vm-api` command.

vm-api              pre-start, then the web server and the worker together (Ctrl-C stops both)
vm-api web          pre-start, then the web server only
vm-api worker       pre-start, then the huey consumer (janitor and sweep included)
vm-api prestart     back up and migrate, then exit
vm-api backup       write a backup now
vm-api restore FILE put a backup in place (refuses while the service runs)
vm-api queue        show what is waiting in the queue
vm-api ws ...       the command line for people (client/ws_cli.py): workspaces over the API
vm-api tasks ...    the operator's view of the queue (service/task_commands.py)
vm-api hosts ...    the Docker hosts consumers report from (service/host_commands.py)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from models.catalogue import catalogue_for
from models.settings import ConfigError, Settings
from service.backups import BackupError, write_backup
from service.host_commands import add_hosts_parser, cmd_hosts
from service.logs import setup_logging
from service.metrics_setup import mark_dead, prepare_metrics_dir
from service.prestart import MigrationFailed, restore, run_prestart
from service.runlock import ServiceRunning, hold_running_lock
from service.task_commands import add_tasks_parser, cmd_tasks

log = logging.getLogger("vm_api.cli")
CHILD_STOP_SECONDS = 60


def _say(settings: Settings, message: str) -> None:
    """A start-up line: a log record in JSON mode (every line one object), else plain text."""
    if settings.log_format == "json":
        log.info(message)
    else:
        print(f"vm-api: {message}", file=sys.stderr)


def _prestart(settings: Settings) -> None:
    result = run_prestart(settings)
    if result.backup:
        _say(settings, f"backed up the database to {result.backup}")
    if result.applied:
        _say(settings, f"applied migrations {', '.join(result.applied)}")


def cmd_prestart(settings: Settings, _args: argparse.Namespace) -> int:
    _prestart(settings)
    return 0


# Short: Hypercorn's ping task of a closed WebSocket sleeps out its interval before it ends,
# and a graceful shutdown waits for it (hypercorn/protocol/ws_stream.py _send_pings).
WEBSOCKET_PING_SECONDS = 5.0


def cmd_web(settings: Settings, _args: argparse.Namespace) -> int:
    from hypercorn.config import Config

    from service.web_server import serve

    # Held before migrating, so that a restore cannot slip in between migrating and serving.
    hold_running_lock(settings.db_path)
    _prestart(settings)
    config = Config()
    config.bind = [settings.bind]
    config.application_path = "service.asgi:app"
    config.workers = settings.web_workers
    config.graceful_timeout = 30
    # Pings on every WebSocket (the terminal): a peer that vanished without a close is noticed
    # and its shell ended, instead of lingering (Hypercorn sends none by default).
    config.websocket_ping_interval = WEBSOCKET_PING_SECONDS
    config.accesslog = None
    # In JSON mode Hypercorn's lines go through our handler too (one object per line).
    json_logs = settings.log_format == "json"
    config.errorlog = logging.getLogger("hypercorn.error") if json_logs else "-"
    return serve(config, settings.web_workers)


def cmd_worker(settings: Settings, _args: argparse.Namespace) -> int:
    from models.store import open_store
    from tasks.queue import configure_queue, huey

    hold_running_lock(settings.db_path)
    _prestart(settings)
    open_store(settings.data_target)
    configure_queue(settings)
    import tasks.worker  # noqa: F401  (registers every task)
    from tasks.consumer import create_consumer
    from tasks.history import enable_task_history
    from tasks.metrics import install_task_metrics

    enable_task_history(huey, settings)  # in the consumer process only: it sees every signal
    install_task_metrics()
    consumer = create_consumer(settings)
    reporter = None
    if settings.worker_host_name is not None:
        from tasks.host_reports import HostReporter

        reporter = HostReporter(settings)
        reporter.start()
    try:
        consumer.run()
    finally:
        if reporter is not None:
            reporter.stop()
        mark_dead(os.getpid())  # its live gauges (operations running) stop counting
    return 0


def cmd_backup(settings: Settings, _args: argparse.Namespace) -> int:
    if settings.database is not None:
        from service.prestart_postgres import pg_dump

        print(pg_dump(settings.database, settings.resolved_backup_dir))
        return 0
    print(write_backup(settings.db_path, settings.backup_keep))
    return 0


def cmd_restore(settings: Settings, args: argparse.Namespace) -> int:
    if settings.database is not None:
        raise BackupError(
            "the data is on PostgreSQL: stop the service, then restore a dump with "
            f"pg_restore --clean --dbname=... {args.file}"
        )
    safety = restore(settings, Path(args.file).expanduser().absolute())
    where = f"; the previous database was saved to {safety}" if safety else ""
    print(f"vm-api: restored {settings.db_path} from {args.file}{where}")
    return 0


def cmd_queue(settings: Settings, _args: argparse.Namespace) -> int:
    from tasks.queue import configure_queue, huey

    configure_queue(settings)
    counts: dict[str, object] = {
        "pending": huey.pending_count(),
        "scheduled": huey.scheduled_count(),
    }
    by_host = _pending_by_host(settings)
    if by_host:  # the queues of Docker hosts (docs/deployment.md), once there are any
        counts["pending_by_host"] = by_host
    print(json.dumps(counts))
    return 0


def _pending_by_host(settings: Settings) -> dict[str, int]:
    from models.hosts import host_names
    from models.store import open_store
    from tasks.queue import pending_by_host

    if settings.database is None and not settings.db_path.exists():
        return {}
    try:
        open_store(settings.data_target)
        return pending_by_host(host_names())
    except Exception:  # no schema yet, or one from before the hosts migration: no hosts
        return {}


def cmd_all(settings: Settings, _args: argparse.Namespace) -> int:
    """What the original binary did: one command runs the API and the background work."""
    hold_running_lock(settings.db_path)
    _prestart(settings)
    children = [
        subprocess.Popen([sys.executable, "-m", "service.cli", part], start_new_session=True)
        for part in ("web", "worker")
    ]
    stopping = False

    def stop(_signum: int = 0, _frame: object = None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)  # both drain on SIGINT

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while all(child.poll() is None for child in children) and not stopping:
        time.sleep(0.2)
    stop()
    deadline = time.monotonic() + CHILD_STOP_SECONDS
    for child in children:
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    codes = [child.returncode for child in children]
    # 130: a child stopped by SIGINT before it had installed its own handler (still clean).
    return 0 if all(code in (0, 130, -signal.SIGINT) for code in codes) else 1


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "web": cmd_web,
    "worker": cmd_worker,
    "prestart": cmd_prestart,
    "backup": cmd_backup,
    "restore": cmd_restore,
    "queue": cmd_queue,
    "tasks": cmd_tasks,
    "hosts": cmd_hosts,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vm-api", description="Hosted developer workspaces.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("web", help="serve the HTTP API")
    sub.add_parser("worker", help="run the huey consumer with the janitor and the sweep")
    sub.add_parser("prestart", help="back up and apply pending migrations")
    sub.add_parser("backup", help="write a consistent backup of the database")
    restore_parser = sub.add_parser("restore", help="restore the database from a backup")
    restore_parser.add_argument("file", help="a backup file written by vm-api")
    sub.add_parser("queue", help="show the number of pending and scheduled tasks")
    sub.add_parser("ws", help="your workspaces, over the API (vm-api ws --help)")
    add_tasks_parser(sub)
    add_hosts_parser(sub)
    return parser


def _postgres_errors() -> tuple[type[Exception], ...]:
    try:
        import psycopg2
    except ImportError:  # installed without the postgres extra
        return ()
    return (psycopg2.Error,)


def _database_shown(settings: Settings) -> str:
    return settings.database.shown if settings.database is not None else str(settings.db_path)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["ws"]:  # the command line for people: a client of the API, no settings
        from client.ws_cli import main as ws_main

        return ws_main(argv[1:])
    args = _parser().parse_args(argv)
    setup_logging(args.command or "vm-api")
    # yoyo logs every statement at INFO; our own lines say what was applied.
    logging.getLogger("yoyo").setLevel(logging.WARNING)
    settings: Settings | None = None
    try:
        settings = Settings.from_env()
        settings.check_writable()
        # A bad catalogue stops the start here, not the first create later (a 500).
        catalogue_for(settings)
        if args.command in (None, "web", "worker"):
            # before anything imports prometheus_client; the children inherit it
            prepare_metrics_dir(settings)
        return COMMANDS.get(args.command, cmd_all)(settings, args)
    except ConfigError as exc:
        print(f"vm-api: configuration error: {exc}", file=sys.stderr)
        return 2
    except (MigrationFailed, BackupError, ServiceRunning) as exc:
        print(f"vm-api: {exc}", file=sys.stderr)
        return 1
    except (sqlite3.DatabaseError, *_postgres_errors()) as exc:
        # For example VM_API_DB_PATH naming a file that is not an SQLite database.
        where = f" ({_database_shown(settings)})" if settings else ""
        # one line, as every other error here: psycopg2's messages span several
        print(f"vm-api: database error: {' '.join(str(exc).split())}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
