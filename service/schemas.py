"""Request and response schemas (pydantic) shared by the blueprints and the OpenAPI document."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, field_validator

from models.schedules import parse_schedule
from models.states import OPERATION_TYPE_NAMES, VISIBLE_STATUSES, OperationStatus

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
ONE_YEAR_SECONDS = 365 * 24 * 3600
METADATA_MAX_BYTES = 16 * 1024
# Deep nesting fits in 16 KiB, but every later json.dumps of it would recurse that deep.
METADATA_MAX_DEPTH = 32


def _whole_float_to_int(value: Any) -> Any:
    """JSON has one number type: 300.0 is the integer 300 (JSON Schema agrees), while strict
    mode would refuse it. Strings and booleans still are not integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_float_to_int)]


class StrictModel(BaseModel):
    # strict: "10" is not an integer; forbid: a typo such as `ttl` is an error, not ignored.
    model_config = ConfigDict(extra="forbid", strict=True)


def _depth(value: Any) -> int:
    """How deeply objects and arrays nest (without recursing: the input is untrusted)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, level = pending.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, level)
        if level <= METADATA_MAX_DEPTH:  # deeper than that is already too deep
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, level + 1) for child in children)
    return deepest


def _check_metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return value
    if _depth(value) > METADATA_MAX_DEPTH:
        raise ValueError(f"metadata must nest at most {METADATA_MAX_DEPTH} levels deep")
    if len(json.dumps(value, separators=(",", ":"))) > METADATA_MAX_BYTES:
        raise ValueError(f"metadata must be at most {METADATA_MAX_BYTES} bytes of JSON")
    return value


class WorkspaceSchedule(StrictModel):
    """When the janitor starts and stops the workspace by itself."""

    autostart: str | None = Field(default=None, max_length=200, examples=["30 8 * * 1-5"])
    autostop: str | None = Field(default=None, max_length=200, examples=["0 19 * * 1-5"])
    timezone: str = Field(default="UTC", max_length=64, examples=["Europe/Berlin"])

    def stored(self) -> dict[str, str]:
        """The schedule as kept; ValueError (for a 400) if a field is not valid."""
        return parse_schedule(self.model_dump(exclude_none=True))


class WorkspaceCreate(StrictModel):
    name: str = Field(pattern=NAME_PATTERN, description="1-63 letters, digits, '_', '.', '-'")
    repo_url: str | None = Field(default=None, max_length=2048)
    repo_ref: str | None = Field(
        default=None,
        max_length=255,
        description="branch, tag or commit of repo_url to check out (git ref name rules)",
    )
    template: str | None = Field(default=None, max_length=63)
    provider: str | None = Field(default=None, max_length=32)
    ttl_seconds: WholeNumber | None = Field(default=None, ge=1, le=ONE_YEAR_SECONDS)
    metadata: dict[str, Any] = Field(default_factory=dict)
    cpus: float | None = Field(default=None, gt=0, le=256)
    memory_mb: WholeNumber | None = Field(default=None, ge=6, le=4 * 1024 * 1024)
    schedule: WorkspaceSchedule | None = None
    idle_timeout_seconds: WholeNumber | None = Field(
        default=None, ge=0, le=ONE_YEAR_SECONDS, description="0: never; unset: the default"
    )
    # The original required `owner` in the body and replaced it with the caller, so its
    # clients all send it: accepted and ignored; the caller is always the owner.
    owner: Any = Field(default=None, description="Ignored (the caller is the owner).")

    _metadata_size = field_validator("metadata")(_check_metadata)


class WorkspaceUpdate(StrictModel):
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    metadata: dict[str, Any] | None = None
    ttl_seconds: WholeNumber | None = Field(default=None, ge=1, le=ONE_YEAR_SECONDS)
    schedule: WorkspaceSchedule | None = Field(default=None, description="null clears it")
    idle_timeout_seconds: WholeNumber | None = Field(default=None, ge=0, le=ONE_YEAR_SECONDS)

    _metadata_size = field_validator("metadata")(_check_metadata)


class SnapshotCreate(StrictModel):
    # Snapshots are stored by id, so the name is a label: "Before refactor" is fine.
    name: str = Field(
        min_length=1,
        max_length=100,
        description="1-100 printable characters, not starting or ending with a space",
    )

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str) -> str:
        # isprintable(): no control characters, no line or paragraph separators
        if not value.isprintable():
            raise ValueError("must be printable characters only")
        if value != value.strip():
            raise ValueError("must not start or end with a space")
        return value


class Workspace(BaseModel):
    id: str
    name: str
    owner: str
    repo_url: str | None
    template: str | None
    provider: str
    status: str
    created_at: str
    updated_at: str
    ttl_seconds: int | None
    expires_at: str | None
    metadata: dict[str, Any]
    provider_id: str | None
    connection_info: dict[str, Any] | None
    error_message: str | None
    cpus: float | None
    memory_mb: int | None
    repo_ref: str | None = None
    schedule: dict[str, str] | None = None
    idle_timeout_seconds: int | None = None
    last_activity_at: str | None = None
    host: str | None = None
    host_unreachable: str | None = None


class WorkspaceAccepted(Workspace):
    operation_id: str


class Operation(BaseModel):
    id: str
    workspace_id: str
    operation_type: str
    status: str
    started_at: str
    completed_at: str | None
    error: str | None
    attempts: int
    snapshot_id: str | None
    requested_by: str | None = None
    reason: str | None = Field(None, description="why it was asked for, e.g. 'ttl expired'")
    detail: dict[str, Any] | None = Field(
        None, description="what exactly: an exec's command and exit code, a file's path"
    )
    progress: str | None = Field(None, description="the latest progress line")
    task_ids: list[str] = Field(default_factory=list, description="huey tasks that ran it")
    request_id: str | None = None


class OperationLogLine(BaseModel):
    at: str
    line: str


class OperationLogs(BaseModel):
    """Every progress line the operation reported, oldest first."""

    lines: list[OperationLogLine]


class Snapshot(BaseModel):
    id: str
    workspace_id: str
    name: str
    status: str
    created_at: str
    size_bytes: int | None
    error: str | None


class SnapshotAccepted(Snapshot):
    operation_id: str


class Template(BaseModel):
    name: str
    image: str
    command: list[str] | None
    description: str
    cpus: float | None
    memory_mb: int | None
    max_cpus: float | None
    max_memory_mb: int | None
    aliases: list[str]


# Named list types: the OpenAPI document would otherwise describe each list with the docstring
# of Python's `list`.
class WorkspaceList(RootModel[list[Workspace]]):
    """The caller's workspaces, newest first. A `Link: <...>; rel="next"` header points to the
    next page when there is one."""


class OperationList(RootModel[list[Operation]]):
    """The caller's operations, newest first, paged like workspaces (`Link` rel="next")."""


class SnapshotList(RootModel[list[Snapshot]]):
    """The workspace's snapshots, oldest first."""


class TemplateList(RootModel[list[Template]]):
    """The operator's template catalogue."""


class Error(BaseModel):
    error: str
    code: str


class ListQuery(BaseModel):
    limit: int | None = Field(default=None, ge=1, le=1000)
    cursor: str | None = Field(default=None, min_length=1, max_length=200)


WorkspaceStatusName = Literal[tuple(s.value for s in VISIBLE_STATUSES)]  # type: ignore[valid-type]
OperationTypeName = Literal[OPERATION_TYPE_NAMES]  # type: ignore[valid-type]
OperationStatusName = Literal[tuple(s.value for s in OperationStatus)]  # type: ignore[valid-type]


class WorkspaceListQuery(ListQuery):
    status: WorkspaceStatusName | None = None


class OperationListQuery(ListQuery):
    workspace_id: UUID | None = None
    type: OperationTypeName | None = None
    status: OperationStatusName | None = None


class Health(BaseModel):
    status: str
    service: str
    version: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    database: Literal["connected", "unavailable"]
    queue: Literal["connected", "unavailable"]


class Limits(BaseModel):
    max_workspaces: int | None
    max_running: int | None


class Usage(BaseModel):
    workspaces: int = Field(description="live workspaces: what max_workspaces counts")
    running: int
    trash: int = Field(description="deleted workspaces kept in the trash: no limit counts them")
    trash_bytes: int = Field(description="the size of their final snapshots")


class Me(BaseModel):
    user: str
    admin: bool
    limits: Limits
    usage: Usage


ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,255}$"
EXEC_MAX_TIMEOUT_SECONDS = 600


def _no_nul(value: str) -> str:
    if "\0" in value:
        raise ValueError("must not contain a NUL character")
    return value


class ExecRequest(StrictModel):
    command: list[str] | str = Field(
        description="argv as a list, or one string run by `sh -c`",
    )
    workdir: str | None = Field(
        default=None,
        max_length=4096,
        description="where it runs; relative to the template's workdir, which is the default",
    )
    env: dict[str, str] = Field(default_factory=dict, description="extra environment variables")
    stdin: str | None = Field(default=None, description="text given on standard input")
    timeout_seconds: WholeNumber = Field(default=60, ge=1, le=EXEC_MAX_TIMEOUT_SECONDS)

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("must not be empty")
            return _no_nul(value)
        if not value or not value[0]:
            raise ValueError("must name a program")
        return [_no_nul(part) for part in value]

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not re.fullmatch(ENV_NAME_PATTERN, name):
                raise ValueError(f"{name!r} is not a variable name (letters, digits, '_')")
            _no_nul(text)
        return value

    @field_validator("workdir", "stdin")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return None if value is None else _no_nul(value)


class ExecResult(BaseModel):
    exit_code: int | None = Field(description="137 after a timeout's kill; null if unconfirmed")
    stdout: str
    stderr: str
    duration_ms: int
    timed_out: bool
    truncated: bool = Field(description="stdout or stderr went past 1 MiB and was cut")


class FilesQuery(BaseModel):
    path: str = Field(description="relative to the workspace folder (the template's workdir)")


class LogsQuery(BaseModel):
    tail: int | None = Field(default=None, ge=0, le=100_000)
    follow: bool | None = None


class Uploaded(BaseModel):
    path: str
    size_bytes: int = Field(description="the file's bytes; for a folder, all its files' bytes")
    files: int | None = Field(default=None, description="a folder upload: the files unpacked")
