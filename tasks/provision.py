"""provision_workspace: build a new workspace with its provider."""

from __future__ import annotations

from models.progress import progress_reporter
from models.work import Claim, Outcome
from tasks.providers.base import Provider
from tasks.queue import current_settings, huey
from tasks.runner import execute
from tasks.specs import spec_for

RETRY = {"retries": 3, "retry_delay": 2, "retry_backoff": 2.0}


def _provision(provider: Provider, claim: Claim) -> Outcome:
    spec = spec_for(claim.workspace, current_settings())
    provisioned = provider.create(spec, progress_reporter(claim.operation.id))
    return Outcome(provider_id=provisioned.provider_id, connection_info=provisioned.connection_info)


@huey.task(**RETRY)
def provision_workspace(operation_id: str) -> None:
    execute(operation_id, _provision)
