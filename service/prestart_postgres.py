"""The pre-start hook on PostgreSQL: an optional pg_dump, then the pending migrations.

There is no file to copy: the backup is `pg_dump` into VM_API_BACKUP_DIR when the operator
asks for it (VM_API_PG_BACKUP=true), and the hook says which it did. Two hooks started at once
serialize on a session advisory lock; yoyo applies each migration in a transaction of its own,
so a failing one leaves the database as that migration found it.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
from yoyo import get_backend

from models.engines import PostgresTarget
from models.settings import Settings
from service.backups import BackupError

log = logging.getLogger("vm_api.prestart")
MIGRATE_LOCK = 7419002  # pg_advisory_lock key of the pre-start hook (the feed's is 7419001)
DUMP_TIMEOUT_SECONDS = 3600


class DumpFailed(BackupError):
    pass


@contextmanager
def migration_lock(target: PostgresTarget) -> Iterator[None]:
    """Held by one hook at a time, across hosts; released when its connection ends. The
    schema is created under it: two hooks creating it at once would collide (CREATE SCHEMA IF
    NOT EXISTS is not safe against a concurrent one)."""
    connection = psycopg2.connect(**{**target.connect_kwargs, "options": ""})
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
            if target.schema is not None:
                _create_schema(cursor, target.schema)
        yield
    finally:
        connection.close()


def _create_schema(cursor: Any, schema: str) -> None:
    # made at this very moment by someone other than a hook (hooks wait for the lock)
    with suppress(psycopg2.errors.UniqueViolation):
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def pg_dump(target: PostgresTarget, folder: Path) -> Path:
    """A custom-format dump (restore with pg_restore), named by the time it was taken."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"vm-{stamp}.pgdump"
    command = [
        "pg_dump", "--format=custom", f"--file={path}", "--no-password",
        f"--host={target.host}", f"--port={target.port}", f"--dbname={target.database}",
    ]  # fmt: skip
    if target.user:
        command.append(f"--username={target.user}")
    if target.schema:
        command.append(f"--schema={target.schema}")
    env = {"PGPASSWORD": target.password} if target.password else {}
    env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}, **env}
    try:
        subprocess.run(
            command, check=True, capture_output=True, text=True, timeout=DUMP_TIMEOUT_SECONDS,
            env=env,
        )  # fmt: skip
    except FileNotFoundError:
        raise DumpFailed("pg_dump is not installed (apt-get install postgresql-client)") from None
    except subprocess.CalledProcessError as exc:
        last = (exc.stderr or "").strip().splitlines()[-1:] or ["no message"]
        raise DumpFailed(f"pg_dump failed: {last[0]}") from None
    return path


def run_postgres_prestart(
    settings: Settings, migrations: Any, apply: Any
) -> tuple[list[str], Path | None, str | None]:
    """(applied ids, the dump taken or None, the failure or None)."""
    target = settings.database
    assert target is not None
    with migration_lock(target):
        backend = get_backend(target.yoyo_url)
        try:
            backend.break_lock()  # we hold the advisory lock: a yoyo lock row is a dead hook's
            pending = list(backend.to_apply(migrations))
            if not pending:
                log.info("PostgreSQL %s: no migration to apply, no backup taken", target.shown)
                return [], None, None
            dump = None
            if settings.pg_backup:
                dump = pg_dump(target, settings.resolved_backup_dir)
                log.info("PostgreSQL %s: pg_dump written to %s", target.shown, dump)
            else:
                log.info(
                    "PostgreSQL %s: no backup taken before migrating (VM_API_PG_BACKUP=true "
                    "takes a pg_dump)", target.shown,
                )  # fmt: skip
            with backend.lock():
                applied, failure = apply(backend, pending)
        finally:
            backend.connection.close()
    return applied, dump, failure
