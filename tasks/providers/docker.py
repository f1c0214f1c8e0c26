"""Workspaces as Docker containers: one container `vm-ws-<workspace id>` per workspace, found
again by its name and labels, on the template's network, with its files in a named volume of the
same name mounted at the template's workdir (tasks/providers/docker_volumes.py). The repository
is cloned on the worker into the volume before the container first starts
(tasks/providers/docker_clone.py). Snapshots are a committed image plus a copy of the volume."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

import docker
import docker.errors
from docker.models.containers import Container
from docker.tls import TLSConfig

from tasks.providers.base import Progress, ProviderError, Provisioned, WorkspaceSpec
from tasks.providers.docker_clone import Fill, RepositoryClones, container_name, never_started
from tasks.providers.docker_daemon import ClientPool, with_retry
from tasks.providers.docker_images import (
    LABEL_OWNER,
    LABEL_SERVICE,
    LABEL_TEMPLATE,
    LABEL_WORKSPACE,
    ensure_image,
    prune_deleted_snapshots,
    remove_other_snapshot_images,
    remove_snapshot_images,
    snapshot_ref,
    snapshot_size,
)
from tasks.providers.docker_snapshots import fill_from_snapshot, take_snapshot
from tasks.providers.docker_volumes import (
    ensure_volume,
    leftover_workspace_ids,
    remove_helpers,
    remove_volume,
    snapshot_volume_name,
    volume_exists,
    volume_name,
    workdir_mount,
    workspace_container_ids,
    workspace_volumes,
)

T = TypeVar("T")
Client = docker.DockerClient

DEFAULT_URL = "unix:///var/run/docker.sock"


def _quiet(line: str) -> None:
    pass


def _hostname(name: str) -> str:
    # The workspace name is user input; a hostname is one DNS label.
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return label or "workspace"


class DockerProvider(RepositoryClones):
    name = "docker"
    stop_timeout = 10  # seconds between SIGTERM and SIGKILL on stop/restart
    slow_timeout = 600.0  # HTTP timeout for commit, which copies a whole filesystem

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float = 30,
        attempts: int = 4,
        backoff: float = 0.5,
        service_label: str = "vm-api",
        allow_file_repos: bool = False,
        clone_in_place: bool = True,
        tls: TLSConfig | None = None,
    ) -> None:
        self.base_url = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_URL
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.service_label = service_label
        self.allow_file_repos = allow_file_repos
        self.clone_in_place = clone_in_place
        self._clients = ClientPool(self.base_url, timeout, tls)

    # -- plumbing ------------------------------------------------------------------------------

    def _op(self, what: str, body: Callable[[Client], T]) -> T:
        """Run `body` (idempotent as a whole) with retries; only ProviderError escapes."""
        return with_retry(
            lambda: body(self._clients.get()),
            what=what,
            base_url=self.base_url,
            attempts=self.attempts,
            backoff=self.backoff,
        )

    def client(self) -> Client:
        """This thread's client of the daemon, for work outside the Provider interface (exec,
        terminal, files); errors it raises are the caller's to translate."""
        return self._clients.get()

    def close(self) -> None:
        """Close every thread's client (and its sockets); the provider stays usable."""
        self._clients.close()

    def ping(self) -> None:
        """Raise ProviderError unless the daemon answers."""
        self._op("answer a ping", lambda client: client.ping())

    def _get(self, client: Client, workspace_id: str) -> Container | None:
        try:
            return client.containers.get(container_name(workspace_id))
        except docker.errors.NotFound:
            return None

    def _require(self, client: Client, workspace_id: str) -> Container:
        container = self._get(client, workspace_id)
        if container is None:
            raise ProviderError(f"container {container_name(workspace_id)} no longer exists")
        return container

    def _remove(self, client: Client, workspace_id: str) -> None:
        name = container_name(workspace_id)
        try:
            client.api.remove_container(name, force=True, v=True)
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as e:
            if e.status_code != 409:  # 409: a removal is already in progress; wait for it
                raise
            with suppress(docker.errors.NotFound):
                client.api.wait(name, condition="removed", timeout=self.timeout)

    def _labels(self, spec: WorkspaceSpec) -> dict[str, str]:
        labels = {LABEL_WORKSPACE: spec.id, LABEL_OWNER: spec.owner}
        labels[LABEL_SERVICE] = self.service_label
        if spec.template:
            labels[LABEL_TEMPLATE] = spec.template
        return labels

    def _run(
        self,
        client: Client,
        spec: WorkspaceSpec,
        image: str,
        existing: Container | None = None,
        fill: Fill | None = None,
        progress: Progress = _quiet,
    ) -> Provisioned:
        """Create and start the workspace's container, or adopt `existing` (or a racing one).
        `fill` runs on the created container before its first start.

        The low-level API: the high-level one inspects the container after each call, and
        those round trips were most of the overhead against a plain `docker run`.
        """
        if existing is not None:
            self._ensure_running(existing)
            return self._provisioned(existing.id, existing.name, image, spec.workdir)
        labels = self._labels(spec)
        ensure_volume(client, volume_name(spec.id), labels)
        try:
            container_id = self._create(client, spec, image)
        except docker.errors.ImageNotFound:
            ensure_image(client, image, progress)  # pulled once, only when it is missing
            container_id = self._create(client, spec, image)
        except docker.errors.APIError as e:
            if e.status_code != 409:
                raise
            return self._run(client, spec, image, self._await_winner(client, spec.id))
        if fill is not None:
            fill(client, container_id)
        progress("starting container")
        client.api.start(container_id)
        return self._provisioned(container_id, container_name(spec.id), image, spec.workdir)

    def _create(self, client: Client, spec: WorkspaceSpec, image: str) -> str:
        host_config = client.api.create_host_config(
            network_mode=spec.network,
            # a repository's volume holds the repository: no copy of the image's workdir
            mounts=[workdir_mount(volume_name(spec.id), spec.workdir, no_copy=bool(spec.repo_url))],
            nano_cpus=int(spec.cpus * 1e9) if spec.cpus else None,
            mem_limit=spec.memory_mb * 1024 * 1024 if spec.memory_mb else None,
            init=True,  # PID 1 that forwards SIGTERM (fast stops) and reaps zombies
            # A running workspace comes back by itself after its command dies or the daemon
            # restarts; a workspace stopped through the API stays stopped.
            restart_policy={"Name": "unless-stopped"},
        )
        created = client.api.create_container(
            image,
            list(spec.command) if spec.command is not None else None,
            name=container_name(spec.id),
            hostname=_hostname(spec.name),
            labels=self._labels(spec),
            host_config=host_config,
            working_dir=spec.workdir,  # where exec and the terminal begin
            detach=True,
        )
        return str(created["Id"])

    def _await_winner(self, client: Client, workspace_id: str) -> Container:
        """Another attempt took the name; the daemon reserves a name before the container can
        be inspected, so wait a moment for it to appear."""
        for _ in range(50):
            container = self._get(client, workspace_id)
            if container is not None:
                return container
            time.sleep(0.1)
        return self._require(client, workspace_id)

    @staticmethod
    def _ensure_running(container: Container) -> None:
        if container.status == "paused":  # e.g. a commit was interrupted half-way
            container.unpause()
        elif container.status != "running":
            container.start()

    @staticmethod
    def _provisioned(container_id: str, name: str, image: str, workdir: str) -> Provisioned:
        info = {"container_id": container_id, "container_name": name, "image": image}
        info["workdir"] = workdir
        info["shell"] = f"docker exec -it {name} sh"  # on the Docker host itself
        # The original's key for "a shell in it": from any person's machine, the terminal
        # WebSocket through `vm-api ws shell` (by id: a rename does not make it stale).
        info["ssh_command"] = f"vm-api ws shell {name.removeprefix('vm-ws-')}"
        return Provisioned(provider_id=container_id, connection_info=info)

    @staticmethod
    def _image_of(spec: WorkspaceSpec) -> str:
        if not spec.image:
            raise ProviderError(f"workspace {spec.id} has no image to run")
        return spec.image

    # -- the Provider interface ----------------------------------------------------------------

    def create(self, spec: WorkspaceSpec, progress: Progress | None = None) -> Provisioned:
        report = progress or _quiet
        adopted = self._op(
            f"inspect container {container_name(spec.id)}", lambda c: self._adopt(c, spec)
        )
        if adopted is not None:
            return adopted
        image = self._image_of(spec)
        if spec.repo_url:  # tasks/providers/docker_clone.py
            return self._create_with_repository(spec, image, report)
        return self._op(
            f"create container {container_name(spec.id)}",
            lambda client: self._run(client, spec, image, progress=report),
        )

    def _adopt(self, client: Client, spec: WorkspaceSpec) -> Provisioned | None:
        """What an earlier attempt built: a container that has started is adopted; one that
        never started may hold half a clone, so it goes, with its volume, to be made again."""
        existing = self._get(client, spec.id)
        if existing is None:
            return None
        if spec.repo_url and never_started(existing):
            self._remove(client, spec.id)
            remove_volume(client, volume_name(spec.id))
            return None
        return self._run(client, spec, existing.attrs["Config"]["Image"], existing)

    def destroy(self, workspace_id: str, keep_snapshot: str | None = None) -> None:
        kept_volume = snapshot_volume_name(workspace_id, keep_snapshot) if keep_snapshot else None

        def body(client: Client) -> None:
            self._remove(client, workspace_id)
            remove_helpers(client, self.service_label, workspace_id)
            if keep_snapshot is None:
                remove_snapshot_images(client, workspace_id)
            else:
                remove_other_snapshot_images(client, workspace_id, keep_snapshot)
            for name in workspace_volumes(client, self.service_label, workspace_id):
                if name != kept_volume:
                    remove_volume(client, name)

        self._op(f"remove container {container_name(workspace_id)}", body)

    def start(self, workspace_id: str) -> None:
        self._op(
            f"start container {container_name(workspace_id)}",
            lambda client: self._ensure_running(self._require(client, workspace_id)),
        )

    def stop(self, workspace_id: str) -> None:
        self._op(
            f"stop container {container_name(workspace_id)}",
            lambda client: self._require(client, workspace_id).stop(timeout=self.stop_timeout),
        )

    def restart(self, workspace_id: str) -> None:
        self._op(
            f"restart container {container_name(workspace_id)}",
            lambda client: self._require(client, workspace_id).restart(timeout=self.stop_timeout),
        )

    def rebuild(self, spec: WorkspaceSpec, progress: Progress | None = None) -> Provisioned:
        """A fresh container from the template on the same volume: the files stay, nothing is
        cloned again."""
        report = progress or _quiet

        def body(client: Client) -> Provisioned:
            image = self._image_of(spec)
            ensure_image(client, image, report)  # before removing anything: the pull may fail
            self._remove(client, spec.id)
            prune_deleted_snapshots(client, spec.id)
            return self._run(client, spec, image, progress=report)

        return self._op(f"rebuild container {container_name(spec.id)}", body)

    def snapshot(self, workspace_id: str, snapshot_id: str) -> int:
        def body(client: Client) -> int:
            # The image is committed last: its presence means the whole snapshot is there.
            with suppress(docker.errors.ImageNotFound):  # taken by an earlier attempt
                return snapshot_size(client.images.get(snapshot_ref(workspace_id, snapshot_id)))
            container = self._require(client, workspace_id)
            return take_snapshot(
                client, container, workspace_id, snapshot_id, self.service_label,
                self.slow_timeout,
            )  # fmt: skip

        return self._op(f"snapshot container {container_name(workspace_id)}", body)

    def restore(
        self, spec: WorkspaceSpec, snapshot_id: str, progress: Progress | None = None
    ) -> Provisioned:
        ref = snapshot_ref(spec.id, snapshot_id)
        report = progress or _quiet

        def body(client: Client) -> Provisioned:
            try:
                client.images.get(ref)  # before removing anything
            except docker.errors.ImageNotFound:
                message = f"snapshot {snapshot_id} of workspace {spec.id} no longer exists"
                raise ProviderError(message) from None
            # A snapshot taken before workspaces had volumes has none: the files stay.
            with_volume = volume_exists(client, snapshot_volume_name(spec.id, snapshot_id))
            self._remove(client, spec.id)
            prune_deleted_snapshots(client, spec.id)
            fill = None
            if with_volume:
                remove_volume(client, volume_name(spec.id))  # its content becomes the snapshot's

                def fill(client: Client, container_id: str) -> None:
                    report("copying files")
                    fill_from_snapshot(
                        client, container_id, ref, spec.workdir, self.service_label,
                        spec.id, snapshot_id,
                    )  # fmt: skip

            return self._run(client, spec, ref, fill=fill, progress=report)

        return self._op(f"restore container {container_name(spec.id)}", body)

    def delete_snapshot(self, workspace_id: str, snapshot_id: str) -> None:
        def body(client: Client) -> None:
            # By reference and forced: this only untags an image a container still runs from;
            # prune_deleted_snapshots() and destroy() remove it later.
            with suppress(docker.errors.ImageNotFound):
                client.images.remove(snapshot_ref(workspace_id, snapshot_id), force=True)
            remove_volume(client, snapshot_volume_name(workspace_id, snapshot_id))

        self._op(f"delete snapshot {snapshot_ref(workspace_id, snapshot_id)}", body)

    def is_present(self, workspace_id: str) -> bool:
        return self._op(
            f"inspect container {container_name(workspace_id)}",
            lambda client: self._get(client, workspace_id) is not None,
        )

    def owned_workspace_ids(self) -> set[str]:
        return self._op(
            "list containers", lambda client: workspace_container_ids(client, self.service_label)
        )

    def snapshot_workspace_ids(self) -> set[str]:
        return self._op(
            "list snapshot images and volumes",
            lambda client: leftover_workspace_ids(client, self.service_label),
        )
