"""Turning a workspace record into what a provider needs, via the template catalogue."""

from __future__ import annotations

import functools
from pathlib import Path

from models.records import WorkspaceRecord
from service.config import Settings
from service.templates import Catalogue, load_catalogue
from tasks.providers.base import WorkspaceSpec


@functools.lru_cache(maxsize=4)
def _catalogue(path: Path | None) -> Catalogue:
    return load_catalogue(path)


def catalogue_for(settings: Settings) -> Catalogue:
    return _catalogue(settings.templates_file)


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
    )
