"""The janitor purges idempotency keys past their lifetime, and only those."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models.idempotency import KEY_LIFETIME, Fingerprint, claim_key, select_key
from models.records import utcnow
from models.settings import Settings
from tasks.janitor import run_janitor

pytestmark = pytest.mark.usefixtures("migrated", "immediate")

CREATE = Fingerprint("POST", "/api/v1/workspaces", "0" * 64)


def test_each_run_purges_expired_keys(migrated: Settings) -> None:
    claim_key("alice", "old", CREATE, now=utcnow() - KEY_LIFETIME - timedelta(seconds=1))
    claim_key("alice", "new", CREATE)

    report = run_janitor(migrated)

    assert report.idempotency_keys_purged == 1
    assert select_key("alice", "old") is None
    assert select_key("alice", "new") is not None
    assert run_janitor(migrated).idempotency_keys_purged == 0
