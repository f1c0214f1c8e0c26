"""Images for DockerProvider: pulling a template's image, and the snapshot images of a workspace
(repository `vm-api-snapshot/<workspace id>`, tag `<snapshot id>`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.images import Image
from docker.utils import parse_repository_tag

from tasks.providers.base import ProviderError

LABEL_WORKSPACE = "vm-api.workspace-id"
LABEL_OWNER = "vm-api.owner"
LABEL_SERVICE = "vm-api.service"
LABEL_TEMPLATE = "vm-api.template"
LABEL_SNAPSHOT = "vm-api.snapshot-id"
# On a snapshot image: the bytes of its volume copy, so that a re-run can report the size.
LABEL_VOLUME_BYTES = "vm-api.volume-bytes"


def snapshot_ref(workspace_id: str, snapshot_id: str) -> str:
    return f"vm-api-snapshot/{workspace_id}:{snapshot_id}"


def ensure_image(
    client: docker.DockerClient, image: str, progress: Callable[[str], None] | None = None
) -> None:
    """Pull `image` once if it is not here; a failed pull is the image's fault, not transient."""
    try:
        client.images.get(image)
        return
    except docker.errors.ImageNotFound:
        pass
    if progress is not None:
        progress(f"pulling image {image}")
    repository, tag = parse_repository_tag(image)
    try:
        # Without a tag the SDK would pull every tag of the repository. The pull stream reports
        # some failures as events after a 200, which the high-level images.pull() ignores.
        for event in client.api.pull(repository, tag=tag or "latest", stream=True, decode=True):
            if isinstance(event, dict) and event.get("error"):
                raise docker.errors.APIError(str(event["error"]))
        client.images.get(image)
    except docker.errors.APIError as e:
        # Registry failures come back as 500s, but retrying will not make the image appear.
        reason = e.explanation or str(e)
        raise ProviderError(
            f"image {image!r} is not available and could not be pulled: {reason}"
        ) from e


@contextmanager
def patience(client: docker.DockerClient, timeout: float) -> Iterator[None]:
    """Raise the HTTP timeout for one slow call; safe because each thread has its own client."""
    saved = client.api.timeout
    client.api.timeout = max(timeout, saved)
    try:
        yield
    finally:
        client.api.timeout = saved


def commit_snapshot(
    container: Container,
    workspace_id: str,
    snapshot_id: str,
    timeout: float,
    *,
    volume_bytes: int = 0,
    pause: bool = True,
) -> Image:
    repository, tag = parse_repository_tag(snapshot_ref(workspace_id, snapshot_id))
    labels = {LABEL_WORKSPACE: workspace_id, LABEL_SNAPSHOT: snapshot_id}
    labels[LABEL_VOLUME_BYTES] = str(volume_bytes)
    changes = [f"LABEL {key}={json.dumps(value)}" for key, value in labels.items()]
    with patience(container.client, timeout):
        return container.commit(repository, tag, changes=changes, pause=pause)


def snapshot_size(image: Image) -> int:
    """The image's size plus its volume copy's."""
    volume_bytes = (image.labels or {}).get(LABEL_VOLUME_BYTES, "0")
    return int(image.attrs["Size"]) + (int(volume_bytes) if volume_bytes.isdigit() else 0)


def snapshot_images(
    client: docker.DockerClient, workspace_id: str, *, dangling: bool = False
) -> list[Image]:
    filters: dict[str, Any] = {"label": [f"{LABEL_WORKSPACE}={workspace_id}", LABEL_SNAPSHOT]}
    if dangling:
        filters["dangling"] = True
    return client.images.list(all=not dangling, filters=filters)


def remove_snapshot_images(client: docker.DockerClient, workspace_id: str) -> None:
    """Remove every snapshot image of the workspace, tagged or not; call without a container."""
    # A snapshot of a restored workspace is a child of the earlier snapshot's image, and a parent
    # cannot go first: each pass removes the leaves until nothing is left.
    for _ in range(50):
        images = snapshot_images(client, workspace_id)
        if not images:
            return
        for image in images:
            try:
                client.images.remove(image.id, force=True)
            except docker.errors.APIError as e:
                if e.status_code not in (404, 409):
                    raise
    raise ProviderError(f"could not remove every snapshot image of workspace {workspace_id}")


def remove_other_snapshot_images(
    client: docker.DockerClient, workspace_id: str, keep_snapshot: str
) -> None:
    """Remove every snapshot image of the workspace but one (the trash's); the kept image's
    ancestors refuse (409) and stay, as they must."""
    kept = client.images.get(snapshot_ref(workspace_id, keep_snapshot)).id
    for _ in range(50):
        removed = 0
        for image in snapshot_images(client, workspace_id):
            if image.id == kept:
                continue
            try:
                client.images.remove(image.id, force=True)
                removed += 1
            except docker.errors.APIError as e:
                if e.status_code not in (404, 409):
                    raise
        if not removed:
            return


def prune_deleted_snapshots(client: docker.DockerClient, workspace_id: str) -> None:
    """delete_snapshot() only untags an image a container still runs from; once that container
    is gone, the untagged image can go too."""
    for image in snapshot_images(client, workspace_id, dangling=True):
        try:
            client.images.remove(image.id)
        except docker.errors.APIError as e:
            if e.status_code not in (404, 409):  # 409: the parent of a later snapshot
                raise
