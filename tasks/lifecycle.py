"""Start, stop, restart, rebuild, and the snapshot operations of a workspace."""

from __future__ import annotations

from models.progress import progress_reporter
from models.work import Claim, Outcome
from tasks.providers.base import Provider, Provisioned
from tasks.provision import RETRY
from tasks.queue import current_settings, huey
from tasks.runner import execute
from tasks.specs import spec_for


def _recorded(provisioned: Provisioned) -> Outcome:
    return Outcome(provider_id=provisioned.provider_id, connection_info=provisioned.connection_info)


def _snapshot_id(claim: Claim) -> str:
    assert claim.operation.target_id is not None, "snapshot operations carry their snapshot id"
    return claim.operation.target_id


def _start(provider: Provider, claim: Claim) -> Outcome:
    provider.start(claim.workspace.id)
    return Outcome()


def _stop(provider: Provider, claim: Claim) -> Outcome:
    provider.stop(claim.workspace.id)
    return Outcome()


def _restart(provider: Provider, claim: Claim) -> Outcome:
    provider.restart(claim.workspace.id)
    return Outcome()


def _rebuild(provider: Provider, claim: Claim) -> Outcome:
    spec = spec_for(claim.workspace, current_settings())
    return _recorded(provider.rebuild(spec, progress_reporter(claim.operation.id)))


def _snapshot(provider: Provider, claim: Claim) -> Outcome:
    return Outcome(size_bytes=provider.snapshot(claim.workspace.id, _snapshot_id(claim)))


def _restore(provider: Provider, claim: Claim) -> Outcome:
    spec = spec_for(claim.workspace, current_settings())
    progress = progress_reporter(claim.operation.id)
    return _recorded(provider.restore(spec, _snapshot_id(claim), progress))


def _delete_snapshot(provider: Provider, claim: Claim) -> Outcome:
    provider.delete_snapshot(claim.workspace.id, _snapshot_id(claim))
    return Outcome()


@huey.task(**RETRY)
def start_workspace(operation_id: str) -> None:
    execute(operation_id, _start)


@huey.task(**RETRY)
def stop_workspace(operation_id: str) -> None:
    execute(operation_id, _stop)


@huey.task(**RETRY)
def restart_workspace(operation_id: str) -> None:
    execute(operation_id, _restart)


@huey.task(**RETRY)
def rebuild_workspace(operation_id: str) -> None:
    execute(operation_id, _rebuild)


@huey.task(**RETRY)
def snapshot_workspace(operation_id: str) -> None:
    execute(operation_id, _snapshot)


@huey.task(**RETRY)
def restore_snapshot(operation_id: str) -> None:
    execute(operation_id, _restore)


@huey.task(**RETRY)
def delete_snapshot(operation_id: str) -> None:
    execute(operation_id, _delete_snapshot)
