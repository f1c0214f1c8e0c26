"""Providers by name; one instance per process (the Docker one keeps a client per thread)."""

from __future__ import annotations

import threading

from models.settings import PROVIDERS, Settings
from tasks.providers.base import Provider, ProviderError

_providers: dict[str, Provider] = {}
_lock = threading.Lock()


def get_provider(name: str, settings: Settings) -> Provider:
    """The provider, its calls timed into vm_api_provider_call_seconds (tasks/metrics.py)."""
    with _lock:
        if name not in _providers:
            from tasks.metrics import TimedProvider

            _providers[name] = TimedProvider(_build(name, settings))  # type: ignore[assignment]
        return _providers[name]


def direct_provider(name: str, settings: Settings) -> Provider:
    """The provider itself, for the web process's direct use of a workspace (exec, files,
    terminal), which needs more than the Provider interface."""
    provider = get_provider(name, settings)
    return getattr(provider, "unwrapped", provider)  # type: ignore[no-any-return]


def _build(name: str, settings: Settings) -> Provider:
    if name == "local":
        from tasks.providers.local import LocalProvider

        return LocalProvider(settings.resolved_data_dir, allow_file_repos=settings.allow_file_repos)
    if name == "docker":
        from tasks.providers.docker import DockerProvider

        # The label value keeps two installations on one daemon out of each other's way.
        return DockerProvider(
            settings.docker_host,
            service_label=settings.instance,
            allow_file_repos=settings.allow_file_repos,
            clone_in_place=settings.docker_clone_in_place,
        )
    raise ProviderError(f"unknown provider {name!r}; available: {', '.join(PROVIDERS)}")


def reset_providers() -> None:
    """Forget built providers (tests switch data folders between runs)."""
    with _lock:
        _providers.clear()
