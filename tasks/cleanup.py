"""cleanup_workspace: remove everything a workspace had (resource and snapshots), or, for a
delete that keeps it in the trash, everything but the final snapshot it takes first."""

from __future__ import annotations

from models.work import Claim, Outcome
from tasks.providers.base import Provider, ProviderError
from tasks.provision import RETRY
from tasks.queue import huey
from tasks.runner import execute


def _cleanup(provider: Provider, claim: Claim) -> Outcome:
    detail = claim.operation.detail or {}
    keep = claim.operation.target_id if detail.get("keep_for") else None
    if keep is None:
        provider.destroy(claim.workspace.id)
        return Outcome()
    try:
        size = provider.snapshot(claim.workspace.id, keep)
    except ProviderError as exc:
        if exc.transient:
            raise
        raise ProviderError(
            f"the final snapshot failed, so the workspace was kept rather than deleted: {exc}"
        ) from exc
    provider.destroy(claim.workspace.id, keep_snapshot=keep)
    return Outcome(size_bytes=size)


@huey.task(**RETRY)
def cleanup_workspace(operation_id: str) -> None:
    execute(operation_id, _cleanup)
