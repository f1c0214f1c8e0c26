"""A container's output (its main process's stdout and stderr), as Docker keeps it."""

from __future__ import annotations

from collections.abc import Iterator

import docker
from docker.types import CancellableStream


def log_tail(client: docker.DockerClient, container: str, tail: int) -> bytes:
    """The last `tail` lines, stdout and stderr interleaved as they were written."""
    return bytes(client.api.logs(container, stdout=True, stderr=True, tail=tail, stream=False))


def follow_client(base_url: str, api_version: str) -> docker.APIClient:
    """A client without a read timeout, for a stream that may stay quiet for hours. Its own:
    the shared clients time out after 30 s. The caller closes it."""
    return docker.APIClient(base_url=base_url, version=api_version, timeout=None)


def follow_logs(api: docker.APIClient, container: str, tail: int) -> CancellableStream:
    """The last `tail` lines, then every new one; `close()` (from any thread) ends it."""
    stream = api.logs(container, stdout=True, stderr=True, tail=tail, stream=True, follow=True)
    return stream  # type: ignore[no-any-return]


def chunks(stream: CancellableStream) -> Iterator[bytes]:
    yield from stream
