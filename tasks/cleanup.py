"""cleanup_workspace: remove everything a workspace had (resource and snapshots)."""

from __future__ import annotations

from models.work import Claim, Outcome
from tasks.providers.base import Provider
from tasks.provision import RETRY
from tasks.queue import huey
from tasks.runner import execute


def _cleanup(provider: Provider, claim: Claim) -> Outcome:
    provider.destroy(claim.workspace.id)
    return Outcome()


@huey.task(**RETRY)
def cleanup_workspace(operation_id: str) -> None:
    execute(operation_id, _cleanup)
