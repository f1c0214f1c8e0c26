"""A host-bound consumer's reports to the host registry (models/hosts.py).

Every third of VM_API_HOST_TIMEOUT it pings its own Docker daemon and records that it is
alive, where the web processes reach the daemon, and whether the daemon answered. A consumer
that stops says so at once, so no new workspace is placed on its host meanwhile.
"""

from __future__ import annotations

import logging
import threading

from models.hosts import report_host
from models.records import rfc3339, utcnow
from models.settings import Settings
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

    def daemon_error(self) -> str | None:
        provider = direct_provider("docker", self.settings, self.name)
        assert isinstance(provider, DockerProvider)
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

    def start(self) -> None:
        self.report()  # before the first task: placement may pick this host at once
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
