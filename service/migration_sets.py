"""The migrations for each engine: one folder of portable SQL, and the PostgreSQL files that
must differ from it (identity columns, 64-bit integers, triggers in PL/pgSQL) under the same
ids in migrations/postgresql/, so yoyo records the same history on both engines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yoyo import read_migrations
from yoyo.migrations import MigrationList

# Installed beside the packages (a data-only folder), as it is in the repository.
MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
POSTGRES_SUBDIR = "postgresql"


def migrations_for(engine: str, migrations_dir: Path = MIGRATIONS_DIR) -> Any:
    """Every migration in order; on PostgreSQL a file of the same id there replaces the
    portable one."""
    portable = read_migrations(str(migrations_dir))
    if engine != "postgres":
        return portable
    overrides = {m.id: m for m in read_migrations(str(migrations_dir / POSTGRES_SUBDIR))}
    unknown = sorted(set(overrides) - {m.id for m in portable})
    if unknown:
        raise ValueError(f"{POSTGRES_SUBDIR}/{unknown[0]} replaces no portable migration")
    return MigrationList([overrides.get(m.id, m) for m in portable])
