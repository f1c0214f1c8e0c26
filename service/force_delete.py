"""DELETE /api/v1/workspaces/{id}?force=true: out of the database now, the rest to drift repair."""

from __future__ import annotations

from quart import Response
from quart.utils import run_sync

from models.removal import force_delete_workspace
from models.settings import Settings
from service.auth import viewer
from service.responses import json_response
from tasks.providers import get_provider
from tasks.providers.base import ProviderError


def _left_behind(
    provider_name: str, host: str | None, workspace_id: str, settings: Settings
) -> list[str]:
    """What the provider (on the workspace's Docker host) still holds, as far as it can tell."""
    try:
        present = get_provider(provider_name, settings, host).is_present(workspace_id)
    except ProviderError as exc:
        return [f"unknown: the {provider_name} provider did not answer ({exc})"]
    if not present:
        return []
    return [f"the {provider_name} resources of this workspace; drift repair removes them"]


async def force_delete(workspace_id: str, settings: Settings) -> Response:
    caller = viewer()
    done = await run_sync(force_delete_workspace)(workspace_id, caller.scope, caller.user)
    left = await run_sync(_left_behind)(
        done.workspace.provider, done.workspace.host, workspace_id, settings
    )
    body = {
        **done.workspace.to_json(),
        "operation_id": done.operation_id,
        "operations_cancelled": done.cancelled,
        "left_behind": left,
    }
    return json_response(body, 200)
