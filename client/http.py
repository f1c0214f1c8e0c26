"""The API as the people's command line sees it: one httpx client, errors as exceptions.

Where the identity comes from (the operator's proxy decides which applies):
  VM_API_USER=alice          sends `x-user: alice` (local development, straight to the API)
  VM_API_TOKEN=...           sends `Authorization: Bearer ...` (a proxy that takes tokens)
  VM_API_HEADER='Name: v'    sends any other header the proxy accepts (for example a cookie)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:3121"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class ApiError(Exception):
    """An answer of 400 or more, with the API's own message and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class UsageError(Exception):
    """The command line itself is wrong (exit code 2)."""


@dataclass(frozen=True)
class Connection:
    url: str
    headers: dict[str, str]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Connection:
        env = os.environ if env is None else env
        headers: dict[str, str] = {}
        if env.get("VM_API_USER"):
            headers["x-user"] = env["VM_API_USER"]
        if env.get("VM_API_TOKEN"):
            headers["Authorization"] = f"Bearer {env['VM_API_TOKEN']}"
        if env.get("VM_API_HEADER"):
            name, sep, value = env["VM_API_HEADER"].partition(":")
            if not sep or not name.strip():
                raise UsageError("VM_API_HEADER must look like 'Name: value'")
            headers[name.strip()] = value.strip()
        return cls(env.get("VM_API_URL", DEFAULT_URL).rstrip("/"), headers)


def error_of(status: int, body: bytes, reason: str) -> ApiError:
    """The API's `{"error", "code"}` answer as an ApiError; the first line of any other body
    (a proxy's page) as HTTP_ERROR."""
    try:
        parsed = json.loads(body)
        return ApiError(status, str(parsed["code"]), str(parsed["error"]))
    except (ValueError, KeyError, TypeError):
        text = body.decode(errors="replace").strip()
        return ApiError(status, "HTTP_ERROR", text.splitlines()[0] if text else reason)


def _error_of(response: httpx.Response) -> ApiError:
    return error_of(response.status_code, response.content, response.reason_phrase)


class Api:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.http = httpx.Client(
            base_url=connection.url + "/api/v1", headers=connection.headers, timeout=TIMEOUT
        )

    def close(self) -> None:
        self.http.close()

    def response(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The answer when it is a success; ApiError otherwise, or when nothing answers."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(0, "UNREACHABLE", f"cannot reach {self.connection.url}: {exc}") from exc
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.response(method, path, **kwargs)
        if not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, json=body)

    def stream(self, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """An open streaming response (the caller iterates it, then closes it)."""
        request = self.http.build_request("GET", path, **kwargs)
        try:
            response = self.http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise ApiError(0, "UNREACHABLE", f"cannot reach {self.connection.url}: {exc}") from exc
        if response.status_code >= 400:
            response.read()
            response.close()
            raise _error_of(response)
        yield response

    def events(self, path: str, last_event_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Server-sent events of `path` as dicts: id, event and the parsed data; first
        `{"event": "open"}` once the stream is open and `{"event": "heartbeat"}` for each of the
        server's keep-alive comments."""
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        timeout = httpx.Timeout(10.0, read=60.0)  # heartbeats come every 15 s
        for response in self.stream(path, headers=headers, timeout=timeout):
            try:
                yield {"event": "open", "data": {}}
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line == "":
                        if "data" in fields:
                            yield {**fields, "data": json.loads(fields["data"])}
                        fields = {}
                    elif line.startswith(":"):
                        yield {"event": "heartbeat", "data": {}}
                    elif ":" in line:
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
            finally:
                response.close()
