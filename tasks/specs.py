"""Turning a workspace record into what a provider needs, via the template catalogue."""

from __future__ import annotations

from models.catalogue import DEFAULT_SHELL, DEFAULT_WORKDIR, catalogue_for
from models.records import WorkspaceRecord
from models.settings import Settings
from tasks.providers.base import WorkspaceSpec


def spec_for(workspace: WorkspaceRecord, settings: Settings) -> WorkspaceSpec:
    catalogue = catalogue_for(settings)
    template = catalogue.get(workspace.template or catalogue.default_name)
    return WorkspaceSpec(
        id=workspace.id,
        owner=workspace.owner,
        name=workspace.name,
        repo_url=workspace.repo_url,
        template=template.name if template else workspace.template,
        image=template.image if template else None,
        command=template.command if template else None,
        cpus=workspace.cpus,
        memory_mb=workspace.memory_mb,
        repo_ref=workspace.repo_ref,
        workdir=template.workdir if template else DEFAULT_WORKDIR,
        shell=template.shell if template else DEFAULT_SHELL,
        network=(template.network if template else None) or settings.docker_network,
    )
