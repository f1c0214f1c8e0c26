"""Providers by name (and Docker host); one instance per process (the Docker one keeps a
client per thread)."""

from __future__ import annotations

import threading
from dataclasses import replace

from models.hosts import docker_url_of
from models.settings import PROVIDERS, Settings
from tasks.providers.base import Provider, ProviderError

_providers: dict[tuple[str, str | None], Provider] = {}
_lock = threading.Lock()


def get_provider(name: str, settings: Settings, host: str | None = None) -> Provider:
    """The provider for a workspace on `host` (None: the service's one DOCKER_HOST), its calls
    timed into vm_api_provider_call_seconds (tasks/metrics.py)."""
    if name != "docker":
        host = None  # only Docker workspaces live on a host
    docker_url = _docker_url(host, settings)
    key = (name, docker_url)
    with _lock:
        if key not in _providers:
            from tasks.metrics import TimedProvider

            built = _build(name, replace(settings, docker_host=docker_url))
            _providers[key] = TimedProvider(built)  # type: ignore[assignment]
        return _providers[key]


def direct_provider(name: str, settings: Settings, host: str | None = None) -> Provider:
    """The provider itself, for the web process's direct use of a workspace (exec, files,
    terminal), which needs more than the Provider interface."""
    provider = get_provider(name, settings, host)
    return getattr(provider, "unwrapped", provider)  # type: ignore[no-any-return]


def _docker_url(host: str | None, settings: Settings) -> str | None:
    """A host-bound consumer reaches its own daemon as DOCKER_HOST says; every other process
    at the address that host's consumer reported."""
    if host is None or host == settings.worker_host_name:
        return settings.docker_host
    url = docker_url_of(host)
    if url is None:
        raise ProviderError(f"Docker host {host} is not registered", transient=True)
    return url


def _build(name: str, settings: Settings) -> Provider:
    if name == "local":
        from tasks.providers.local import LocalProvider

        return LocalProvider(settings.resolved_data_dir, allow_file_repos=settings.allow_file_repos)
    if name == "docker":
        from tasks.providers.docker import DockerProvider
        from tasks.providers.docker_daemon import docker_tls

        # The label value keeps two installations on one daemon out of each other's way.
        return DockerProvider(
            settings.docker_host,
            service_label=settings.instance,
            allow_file_repos=settings.allow_file_repos,
            clone_in_place=settings.docker_clone_in_place,
            tls=docker_tls(settings.docker_tls_verify, settings.docker_cert_path),
        )
    raise ProviderError(f"unknown provider {name!r}; available: {', '.join(PROVIDERS)}")


def reset_providers() -> None:
    """Forget built providers (tests switch data folders between runs)."""
    with _lock:
        _providers.clear()
