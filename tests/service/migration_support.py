"""The real migrations, for tests that copy them and add one of their own."""

from __future__ import annotations

import shutil
from pathlib import Path

from service.prestart import MIGRATIONS_DIR

ALL_MIGRATIONS = sorted(
    path.name.removesuffix(".sql")
    for path in MIGRATIONS_DIR.glob("*.sql")
    if not path.name.endswith(".rollback.sql")
)


def migrations_plus(folder: Path, name: str, sql: str) -> Path:
    """The real migrations copied into `folder`, and `name` after the latest of them."""
    shutil.copytree(MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__*"))
    (folder / f"{name}.sql").write_text(f"-- depends: {ALL_MIGRATIONS[-1]}\n{sql}")
    return folder
