"""A host-bound consumer's reports to the host registry (models/hosts.py).

Every third of VM_API_HOST_TIMEOUT it pings its own Docker daemon and records that it is
alive, where the web processes reach the daemon, and whether the daemon answered. A consumer
that stops says so at once, so no new workspace is placed on its host meanwhile.

At start it also adopts the workspaces made before any host was named (`host` null) whose
container or volume is on its daemon: from one host to many needs no consumer without a name.
"""

from __future__ import annotations

import logging
import threading

from models.hosts import adopt_workspaces, hostless_docker_workspaces, report_host
from models.records import rfc3339, utcnow
from models.settings import Settings
from tasks.dispatch import enqueue_operations
from tasks.providers import direct_provider
from tasks.providers.base import ProviderError
from tasks.providers.docker import DockerProvider

log = logging.getLogger("vm_api.hosts")
DOCKER_DEFAULT_URL = "unix:///var/run/docker.sock"  # what the Docker SDK uses without DOCKER_HOST


class HostReporter:
    def __init__(self, settings: Settings) -> None:
        if settings.worker_host_name is None:
            raise ValueError("a host reporter needs VM_API_WORKER_HOST_NAME")
        self.name = settings.worker_host_name
        self.url = settings.advertised_docker_url or DOCKER_DEFAULT_URL
        self.settings = settings
        self.interval = max(settings.host_timeout / 3, 0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="host-reports", daemon=True)

    def _provider(self) -> DockerProvider:
        provider = direct_provider("docker", self.settings, self.name)
        assert isinstance(provider, DockerProvider)
        return provider

    def daemon_error(self) -> str | None:
        provider = self._provider()
        try:
            provider.ping()
        except ProviderError as exc:
            return f"its Docker daemon does not answer: {exc}"
        return None

    def report(self) -> None:
        error = self.daemon_error()
        report_host(self.name, self.url, error)
        if error:
            log.warning("host %s: %s", self.name, error)

    def adopt_hostless(self) -> int:
        """Host-less Docker workspaces with a container or volume on this daemon become this
        host's; their pending operations are enqueued again on its queue. A workspace with
        nothing here belongs to another daemon, or has not been made yet: left alone."""
        candidates = hostless_docker_workspaces()
        if not candidates:
            return 0
        provider = self._provider()
        try:
            here = provider.owned_workspace_ids() | provider.snapshot_workspace_ids()
        except ProviderError as exc:
            log.warning("host %s: cannot list its daemon's workspaces to adopt: %s", self.name, exc)
            return 0
        adopted, pending = adopt_workspaces(self.name, candidates & here)
        if pending:
            enqueue_operations(pending)
        if adopted:
            log.info(
                "host %s: adopted %d workspaces made before hosts were named (%d pending "
                "operations enqueued again)",
                self.name,
                adopted,
                len(pending),
            )
        return adopted

    def start(self) -> None:
        self.report()  # before the first task: placement may pick this host at once
        try:
            self.adopt_hostless()
        except Exception:
            log.exception("host %s: could not adopt host-less workspaces", self.name)
        log.info(
            "host %s: reporting every %.1f s (daemon at %s)", self.name, self.interval, self.url
        )
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.report()
            except Exception:
                log.exception(
                    "host %s: could not report; it counts as down after %d s",
                    self.name,
                    self.settings.host_timeout,
                )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)
        try:
            report_host(self.name, self.url, f"its consumer stopped at {rfc3339(utcnow())}")
        except Exception:
            log.exception("host %s: could not record the stop", self.name)
