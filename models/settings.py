"""Typed settings read from the environment; malformed values fail loudly, by name."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from models.engines import DatabaseTarget, DatabaseURLError, PostgresTarget, parse_database_url

PROVIDERS = ("local", "docker")
# Where the development header `x-user` is believed from (never through a proxy).
DEV_IDENTITIES = ("loopback", "any", "off")
LOG_FORMATS = ("text", "json")
# How idle consumer threads learn of new tasks: a wake-up datagram from the enqueuer, or polling.
QUEUE_WAKEUPS = ("doorbell", "poll")


class ConfigError(Exception):
    """A setting is malformed; the message names the variable and is shown as one line."""


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 3121
    db_path: Path = field(default_factory=lambda: Path("~/.vm/api/vm.db").expanduser())
    queue_path: Path | None = None
    queue_url: str | None = None
    # VM_API_DATABASE_URL: the data on PostgreSQL instead of the SQLite file (models/engines.py)
    database: PostgresTarget | None = None
    backup_dir: Path | None = None  # where PostgreSQL dumps go (SQLite's sit beside the file)
    pg_backup: bool = False  # the pre-start hook on PostgreSQL runs pg_dump first
    data_dir: Path | None = None
    janitor_interval: int = 300
    provisioner_interval: int = 10
    default_provider: str = "docker"
    templates_file: Path | None = None
    workers: int = 4
    web_workers: int = 1
    poll_max_delay: float = 0.05
    requeue_after: int = 30
    heartbeat_timeout: int = 30
    max_attempts: int = 3
    backup_keep: int = 10
    allow_file_repos: bool = False
    docker_clone_in_place: bool = True  # git writes into a local volume's folder directly
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    allow_dev_user_header: bool = False
    user_header: str = "X-VM-User"
    dev_identity: str = "loopback"
    cors_origins: tuple[str, ...] = ("http://localhost:3120", "http://127.0.0.1:3120")
    admins: frozenset[str] = frozenset()
    max_workspaces_per_user: int = 0
    max_running_per_user: int = 0
    docker_host: str | None = None
    # TLS to every Docker daemon this process reaches, as the docker CLI reads it
    docker_tls_verify: bool = False
    docker_cert_path: str | None = None
    instance: str = "vm-api"
    # Beyond one host: the Docker host this consumer is bound to (its own queue), the address
    # the web processes reach that host's daemon at, and how long a silent host counts as alive.
    worker_host_name: str | None = None
    worker_docker_url: str | None = None
    host_timeout: int = 30
    # Work-in issue: the network a template without its own gets; exec on the server itself
    # (local provider) only when the operator says so; upload cap; terminals per workspace.
    docker_network: str = "bridge"
    allow_local_exec: bool = False
    max_upload_mb: int = 100
    max_terminals_per_workspace: int = 4
    terminal_ticket_seconds: int = 30  # lifetime of a one-time terminal ticket
    # Operator issue: logs as text or JSON lines; who may scrape /metrics; task history kept.
    log_format: str = "text"
    metrics_token: str | None = None
    task_history_path: Path | None = None
    task_history_retention: int = 7 * 24 * 3600
    # Lifecycle issue: where webhooks go, how they are signed, how early expiry is announced.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_retry_base: float = 10.0
    expiry_warning: int = 3600
    idle_timeout: int = 0  # seconds without activity before a running workspace stops; 0 never
    trash_retention: int = 7 * 24 * 3600  # how long the trash keeps a deleted workspace; 0: off
    task_history: bool = True  # off: the consumer records no task history (for benchmarks)
    task_history_max_events: int = 200_000
    # Observability: /metrics on or off (the benchmark measures both); the consumer's wake-up.
    metrics_enabled: bool = True
    queue_wakeup: str = "doorbell"
    queue_fallback_poll: float = 5.0

    @property
    def bind(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def dev_header_from(self) -> str:
        """loopback, any or off; the older VM_API_ALLOW_DEV_USER_HEADER=true still means any."""
        if self.allow_dev_user_header and self.dev_identity == "loopback":
            return "any"
        return self.dev_identity

    @property
    def data_target(self) -> DatabaseTarget:
        """Where the data lives: the PostgreSQL database when one is set, else the SQLite file."""
        return self.database if self.database is not None else self.db_path

    @property
    def advertised_docker_url(self) -> str | None:
        """Where the web processes reach this host-bound consumer's daemon."""
        return self.worker_docker_url or self.docker_host

    @property
    def resolved_queue_path(self) -> Path:
        return self.queue_path or self.db_path.parent / "queue.db"

    @property
    def resolved_task_history_path(self) -> Path:
        """huey's task history (huey.contrib.stats): beside the queue, never in the data file."""
        return self.task_history_path or self.db_path.parent / "task-history.db"

    @property
    def resolved_backup_dir(self) -> Path:
        return self.backup_dir or self.resolved_data_dir / "backups"

    @property
    def resolved_metrics_dir(self) -> Path:
        """prometheus-client's multiprocess files, shared by every process of this service."""
        return self.resolved_data_dir / "prometheus"

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir or self.db_path.parent

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        host, port = reader.bind("VM_API_BIND", "0.0.0.0:3121")
        db_path = reader.path("VM_API_DB_PATH", "~/.vm/api/vm.db")
        queue_url = reader.optional("VM_API_QUEUE_URL")
        if queue_url is not None and not queue_url.startswith(("redis://", "rediss://")):
            raise ConfigError(f"VM_API_QUEUE_URL must be a redis:// URL, got {queue_url!r}")
        database_url = reader.optional("VM_API_DATABASE_URL")
        try:
            database = parse_database_url(database_url) if database_url else None
        except DatabaseURLError as exc:
            raise ConfigError(f"VM_API_DATABASE_URL {exc}") from None
        settings = cls(
            host=host,
            port=port,
            db_path=db_path,
            database=database,
            backup_dir=reader.optional_path("VM_API_BACKUP_DIR"),
            pg_backup=reader.flag("VM_API_PG_BACKUP", False),
            queue_path=reader.optional_path("VM_API_QUEUE_PATH"),
            queue_url=queue_url,
            data_dir=reader.optional_path("VM_API_DATA_DIR"),
            janitor_interval=reader.positive_int("VM_API_JANITOR_INTERVAL", 300),
            provisioner_interval=reader.positive_int("VM_API_PROVISIONER_INTERVAL", 10),
            default_provider=reader.choice("VM_API_DEFAULT_PROVIDER", "docker", PROVIDERS),
            templates_file=reader.optional_path("VM_API_TEMPLATES_FILE"),
            workers=reader.positive_int("VM_API_WORKERS", 4),
            web_workers=reader.positive_int("VM_API_WEB_WORKERS", 1),
            poll_max_delay=reader.positive_float("VM_API_POLL_MAX_DELAY", 0.05),
            requeue_after=reader.positive_int("VM_API_REQUEUE_AFTER", 30),
            heartbeat_timeout=reader.positive_int("VM_API_HEARTBEAT_TIMEOUT", 30),
            max_attempts=reader.positive_int("VM_API_MAX_ATTEMPTS", 3),
            backup_keep=reader.positive_int("VM_API_BACKUP_KEEP", 10),
            allow_file_repos=reader.flag("VM_API_ALLOW_FILE_REPOS", False),
            docker_clone_in_place=reader.flag("VM_API_DOCKER_CLONE_IN_PLACE", True),
            trusted_proxies=reader.networks("VM_API_TRUSTED_PROXIES", "127.0.0.0/8,::1/128"),
            allow_dev_user_header=reader.flag("VM_API_ALLOW_DEV_USER_HEADER", False),
            user_header=reader.header_name("VM_API_USER_HEADER", "X-VM-User"),
            dev_identity=reader.choice("VM_API_DEV_IDENTITY", "loopback", DEV_IDENTITIES),
            cors_origins=reader.origins(
                "VM_API_CORS_ORIGINS", "http://localhost:3120,http://127.0.0.1:3120"
            ),
            admins=frozenset(reader.names("VM_API_ADMINS")),
            max_workspaces_per_user=reader.non_negative_int("VM_API_MAX_WORKSPACES_PER_USER", 0),
            max_running_per_user=reader.non_negative_int("VM_API_MAX_RUNNING_PER_USER", 0),
            docker_host=reader.optional("DOCKER_HOST"),
            # the docker CLI's rule: set to anything but empty means verify
            docker_tls_verify=reader.optional("DOCKER_TLS_VERIFY") is not None,
            docker_cert_path=reader.optional("DOCKER_CERT_PATH"),
            instance=reader.label("VM_API_INSTANCE", "vm-api"),
            worker_host_name=reader.optional_label("VM_API_WORKER_HOST_NAME"),
            worker_docker_url=reader.optional("VM_API_WORKER_DOCKER_URL"),
            host_timeout=reader.positive_int("VM_API_HOST_TIMEOUT", 30),
            docker_network=reader.label("VM_API_DOCKER_NETWORK", "bridge"),
            allow_local_exec=reader.flag("VM_API_ALLOW_LOCAL_EXEC", False),
            max_upload_mb=reader.positive_int("VM_API_MAX_UPLOAD_MB", 100),
            max_terminals_per_workspace=reader.positive_int("VM_API_MAX_TERMINALS", 4),
            terminal_ticket_seconds=reader.positive_int("VM_API_TERMINAL_TICKET_SECONDS", 30),
            log_format=reader.choice("VM_API_LOG_FORMAT", "text", LOG_FORMATS),
            metrics_token=reader.optional("VM_API_METRICS_TOKEN"),
            task_history_path=reader.optional_path("VM_API_TASK_HISTORY_PATH"),
            task_history_retention=reader.positive_int("VM_API_TASK_HISTORY_RETENTION", 604800),
            webhook_url=reader.http_url("VM_API_WEBHOOK_URL"),
            webhook_secret=reader.optional("VM_API_WEBHOOK_SECRET"),
            webhook_retry_base=reader.positive_float("VM_API_WEBHOOK_RETRY_BASE", 10.0),
            expiry_warning=reader.non_negative_int("VM_API_EXPIRY_WARNING", 3600),
            idle_timeout=reader.non_negative_int("VM_API_IDLE_TIMEOUT", 0),
            trash_retention=reader.non_negative_int("VM_API_TRASH_RETENTION", 7 * 24 * 3600),
            task_history=reader.flag("VM_API_TASK_HISTORY", True),
            task_history_max_events=reader.positive_int("VM_API_TASK_HISTORY_MAX_EVENTS", 200000),
            metrics_enabled=reader.flag("VM_API_METRICS", True),
            queue_wakeup=reader.choice("VM_API_QUEUE_WAKEUP", "doorbell", QUEUE_WAKEUPS),
            queue_fallback_poll=reader.positive_float("VM_API_QUEUE_FALLBACK_POLL", 5.0),
        )
        if settings.resolved_queue_path.resolve() == settings.db_path.resolve():
            raise ConfigError("VM_API_QUEUE_PATH must not be the application database file")
        if settings.templates_file is not None and not settings.templates_file.is_file():
            raise ConfigError(f"VM_API_TEMPLATES_FILE: no such file {settings.templates_file}")
        missing = settings.missing_docker_certificates()
        if missing:
            raise ConfigError(
                "DOCKER_TLS_VERIFY / DOCKER_CERT_PATH: TLS to the Docker daemon needs "
                + ", ".join(missing)
            )
        return settings

    def missing_docker_certificates(self) -> list[str]:
        """The files the docker CLI's TLS rule needs that are not there: the client's cert.pem
        and key.pem, and ca.pem when verifying, in DOCKER_CERT_PATH (else ~/.docker)."""
        if not (self.docker_tls_verify or self.docker_cert_path):
            return []
        folder = Path(self.docker_cert_path or "~/.docker").expanduser()
        needed = ["cert.pem", "key.pem"] + (["ca.pem"] if self.docker_tls_verify else [])
        return [str(folder / name) for name in needed if not (folder / name).is_file()]

    def check_writable(self) -> None:
        """Create the folders the service writes to, or say which variable points nowhere."""
        checks = [
            ("VM_API_DB_PATH", self.db_path.parent),
            ("VM_API_DATA_DIR", self.resolved_data_dir),
        ]
        files = [("VM_API_DB_PATH", self.db_path)]
        if self.queue_url is None:
            checks.append(("VM_API_QUEUE_PATH", self.resolved_queue_path.parent))
            files.append(("VM_API_QUEUE_PATH", self.resolved_queue_path))
        for variable, path in files:
            if path.is_dir():
                raise ConfigError(f"{variable}: {path} is a folder, not a database file")
        for variable, folder in checks:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise ConfigError(
                    f"{variable}: cannot create {folder}: a file is in the way"
                ) from None
            except OSError as exc:
                raise ConfigError(f"{variable}: cannot create {folder}: {exc.strerror}") from None
            if not os.access(folder, os.W_OK | os.X_OK):
                raise ConfigError(f"{variable}: {folder} is not writable")


_HEADER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_ORIGIN_RE = re.compile(
    r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?"
)
_LABEL_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class _Reader:
    """Casts one variable at a time; every error names the variable it came from."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def optional(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def raw(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def bind(self, name: str, default: str) -> tuple[str, int]:
        value = self.raw(name, default)
        host, sep, port_text = value.rpartition(":")
        if not sep or not host:
            raise ConfigError(f"{name} must look like HOST:PORT, got {value!r}")
        host = host.strip("[]")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"{name}: port must be a number from 1 to 65535, got {port_text!r}")
        return host, int(port_text)

    def path(self, name: str, default: str) -> Path:
        return Path(self.raw(name, default)).expanduser().absolute()

    def optional_path(self, name: str) -> Path | None:
        value = self.optional(name)
        return Path(value).expanduser().absolute() if value else None

    def _number(self, name: str, default: float, cast: type) -> float:
        value = self.optional(name)
        if value is None:
            return default
        try:
            return cast(value)
        except ValueError:
            kind = "whole number" if cast is int else "number"
            raise ConfigError(f"{name} must be a {kind}, got {value!r}") from None

    def positive_int(self, name: str, default: int) -> int:
        number = int(self._number(name, default, int))
        if number <= 0:
            raise ConfigError(f"{name} must be greater than 0, got {number}")
        return number

    def non_negative_int(self, name: str, default: int) -> int:
        number = int(self._number(name, default, int))
        if number < 0:
            raise ConfigError(f"{name} must be 0 (no limit) or more, got {number}")
        return number

    def positive_float(self, name: str, default: float) -> float:
        number = float(self._number(name, default, float))
        if not number > 0:
            raise ConfigError(f"{name} must be greater than 0, got {number}")
        return number

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.raw(name, default)
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
        return value

    def http_url(self, name: str) -> str | None:
        value = self.optional(name)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{name} must be an http:// or https:// URL, got {value!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.optional(name)
        if value is None:
            return default
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {value!r}")

    def networks(
        self, name: str, default: str
    ) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        value = self.raw(name, default)
        try:
            return tuple(
                ipaddress.ip_network(part.strip(), strict=False)
                for part in value.split(",")
                if part.strip()
            )
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None

    def label(self, name: str, default: str) -> str:
        value = self.raw(name, default)
        if not _LABEL_RE.fullmatch(value):
            raise ConfigError(
                f"{name} must be 1-63 letters, digits, '_', '.' or '-', got {value!r}"
            )
        return value

    def optional_label(self, name: str) -> str | None:
        return self.label(name, "") if self.optional(name) else None

    def header_name(self, name: str, default: str) -> str:
        value = self.raw(name, default)
        if not _HEADER_RE.fullmatch(value):
            raise ConfigError(f"{name} must be a header name such as X-VM-User, got {value!r}")
        if value.lower() == "x-user":
            raise ConfigError(f"{name}: x-user is the development header, not a proxy's")
        return value

    def origins(self, name: str, default: str) -> tuple[str, ...]:
        """Origins as a browser sends them: scheme://host[:port], no path, no trailing slash."""
        value = self.optional(name)
        if value is not None and value.lower() == "none":
            return ()
        parts = [part.strip() for part in (default if value is None else value).split(",")]
        origins = [part for part in parts if part]
        for origin in origins:
            if origin == "*" or not _ORIGIN_RE.fullmatch(origin):
                raise ConfigError(
                    f"{name}: {origin!r} is not an origin such as https://dash.example.com"
                    " (scheme, host and port only; '*' is not allowed)"
                )
        return tuple(origin.lower() for origin in origins)

    def names(self, name: str) -> list[str]:
        value = self.optional(name) or ""
        names = [part.strip() for part in value.split(",") if part.strip()]
        for user in names:
            if not _NAME_RE.match(user):
                raise ConfigError(f"{name}: {user!r} is not a valid user name")
        return names
