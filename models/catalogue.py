"""The operator's template catalogue: which images a workspace may be built from, with default
and maximum resources. Read once from the TOML file named by VM_API_TEMPLATES_FILE."""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from models.settings import ConfigError, Settings

VARIABLE = "VM_API_TEMPLATES_FILE"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
TEMPLATE_KEYS = (
    "image",
    "command",
    "description",
    "cpus",
    "memory_mb",
    "max_cpus",
    "max_memory_mb",
    "aliases",
    "workdir",
    "shell",
    "network",
    "idle_timeout_seconds",
)
DEFAULT_WORKDIR = "/workspace"
DEFAULT_SHELL = "/bin/sh"
NETWORK_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Template:
    name: str
    image: str
    command: tuple[str, ...] | None = None
    description: str = ""
    cpus: float | None = None  # what a workspace gets when it asks for nothing
    memory_mb: int | None = None
    max_cpus: float | None = None  # what it may ask for; unset: the default is also the cap
    max_memory_mb: int | None = None
    # Other names a create may use (the original's clients send `nodejs`, `py`, ...).
    aliases: tuple[str, ...] = ()
    # Where the workspace's own volume is mounted (the person's files live there).
    workdir: str = DEFAULT_WORKDIR
    # What the terminal runs.
    shell: str = DEFAULT_SHELL
    # none, bridge or the name of a Docker network; None: the operator's VM_API_DOCKER_NETWORK.
    network: str | None = None
    # Seconds a running workspace may go without activity; None: the operator's default.
    idle_timeout_seconds: int | None = None

    @property
    def cpus_cap(self) -> float | None:
        return self.max_cpus if self.max_cpus is not None else self.cpus

    @property
    def memory_mb_cap(self) -> int | None:
        return self.max_memory_mb if self.max_memory_mb is not None else self.memory_mb


@dataclass(frozen=True)
class Catalogue:
    templates: dict[str, Template]
    default_name: str
    source: Path | None = field(default=None, compare=False)

    def get(self, name: str) -> Template | None:
        """A template by its name or one of its aliases."""
        found = self.templates.get(name)
        if found is not None:
            return found
        return next((t for t in self.templates.values() if name in t.aliases), None)

    def names(self) -> list[str]:
        return list(self.templates)

    def to_json(self) -> list[dict[str, Any]]:
        """The body of GET /api/v1/templates."""
        items = []
        for template in self.templates.values():
            item = asdict(template)
            item["command"] = list(template.command) if template.command is not None else None
            item["aliases"] = list(template.aliases)
            items.append(item)
        return items


def _builtin(name: str, image: str, description: str, *aliases: str) -> Template:
    return Template(name, image, ("sleep", "infinity"), description, 2.0, 2048, aliases=aliases)


def default_catalogue() -> Catalogue:
    """Used when VM_API_TEMPLATES_FILE is not set."""
    templates = [
        _builtin("debian", "debian:bookworm-slim", "Debian 12 (bookworm), minimal"),
        _builtin("python", "python:3.12-slim", "Python 3.12 on Debian, minimal", "py"),
        _builtin("node", "node:20-slim", "Node.js 20 LTS on Debian, minimal", "nodejs"),
        _builtin("rust", "rust:1-slim-bookworm", "Rust (stable) on Debian, minimal"),
        _builtin("go", "golang:1-bookworm", "Go on Debian", "golang"),
    ]
    return Catalogue(templates={t.name: t for t in templates}, default_name="debian")


def load_catalogue(path: Path | None) -> Catalogue:
    """The catalogue in `path`, or the built-in one; a malformed file raises ConfigError."""
    if path is None:
        return default_catalogue()
    where = f"{VARIABLE} ({path})"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: the file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    return _parse(data, where, path)


def _parse(data: dict[str, Any], where: str, path: Path) -> Catalogue:
    unknown = sorted(set(data) - {"default", "templates"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (expected 'default', 'templates')")
    tables = data.get("templates")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{where}: no templates; add at least one [templates.NAME] table")
    templates = {name: _template(name, body, where) for name, body in tables.items()}
    _check_aliases(templates, where)
    default = data.get("default", next(iter(templates)))
    if not isinstance(default, str) or default not in templates:
        raise ConfigError(f"{where}: 'default' must name one of the templates, got {default!r}")
    return Catalogue(templates=templates, default_name=default, source=path)


def _check_aliases(templates: dict[str, Template], where: str) -> None:
    """An alias names exactly one template, and never shadows a template's own name."""
    owners: dict[str, str] = {}
    for template in templates.values():
        for alias in template.aliases:
            if alias in templates:
                raise ConfigError(
                    f"{where}: template {template.name!r}: alias {alias!r} is a template's name"
                )
            if alias in owners:
                raise ConfigError(
                    f"{where}: template {template.name!r}: alias {alias!r} is already an alias"
                    f" of {owners[alias]!r}"
                )
            owners[alias] = template.name


def _template(name: str, body: Any, where: str) -> Template:
    if not NAME_RE.match(name):
        raise ConfigError(
            f"{where}: template name {name!r} must match {NAME_RE.pattern} "
            "(lower case letters, digits, '_', '.', '-')"
        )
    here = f"{where}: template {name!r}"
    if not isinstance(body, dict):
        raise ConfigError(f"{here} must be a table ([templates.{name}])")
    unknown = sorted(set(body) - set(TEMPLATE_KEYS))
    if unknown:
        raise ConfigError(f"{here}: unknown key {unknown[0]!r} (known: {', '.join(TEMPLATE_KEYS)})")

    def fail(key: str, expected: str) -> ConfigError:
        return ConfigError(f"{here}: key {key!r} must be {expected}, got {body[key]!r}")

    if "image" not in body:
        raise ConfigError(f"{here}: key 'image' is missing")
    image = body["image"]
    if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
        raise fail("image", "an image reference such as 'debian:bookworm-slim'")
    command = body.get("command")
    if command is not None and not (
        isinstance(command, list) and command and all(isinstance(a, str) for a in command)
    ):
        raise fail("command", "a non-empty list of strings")
    description = body.get("description", "")
    if not isinstance(description, str):
        raise fail("description", "a string")
    aliases = body.get("aliases", [])
    if not (
        isinstance(aliases, list)
        and all(isinstance(a, str) and NAME_RE.match(a) and a != name for a in aliases)
    ):
        raise fail("aliases", f"a list of other names matching {NAME_RE.pattern}")
    paths: dict[str, Any] = {}
    for key in ("workdir", "shell"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value.startswith("/") or ".." in value.split("/"):
            raise fail(key, "an absolute path without '..'")
        paths[key] = value.rstrip("/") or "/"
    network = body.get("network")
    if network is not None and not (isinstance(network, str) and NETWORK_RE.match(network)):
        raise fail("network", "'none', 'bridge' or the name of a Docker network")
    idle = body.get("idle_timeout_seconds")
    if idle is not None and (isinstance(idle, bool) or not isinstance(idle, int) or idle < 0):
        raise fail("idle_timeout_seconds", "a whole number of seconds, 0 for never")
    numbers: dict[str, Any] = {}
    for key in ("cpus", "max_cpus", "memory_mb", "max_memory_mb"):
        value = body.get(key)
        whole = key.endswith("_mb")
        kinds = (int,) if whole else (int, float)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, kinds) or not value > 0
        ):
            raise fail(key, "a whole number greater than 0" if whole else "a number greater than 0")
        numbers[key] = value if value is None or whole else float(value)
    for key in ("cpus", "memory_mb"):
        cap = numbers[f"max_{key}"]
        if cap is not None and numbers[key] is not None and numbers[key] > cap:
            raise fail(key, f"at most max_{key} ({cap:g})")
    return Template(
        name=name,
        image=image.strip(),
        command=tuple(command) if command is not None else None,
        description=description,
        aliases=tuple(dict.fromkeys(aliases)),
        network=network,
        idle_timeout_seconds=idle,
        **paths,
        **numbers,
    )


def resolve_resources(
    template: Template, cpus: float | None, memory_mb: int | None
) -> tuple[float | None, int | None]:
    """The resources a workspace gets: the request, else the template's default; a request above
    the template's cap raises ValueError with a message for the caller."""
    for key, value in (("cpus", cpus), ("memory_mb", memory_mb)):
        if value is not None and not value > 0:
            raise ValueError(f"{key} must be greater than 0, got {value:g}")
    if cpus is not None and template.cpus_cap is not None and cpus > template.cpus_cap:
        raise ValueError(
            f"cpus {cpus:g} exceeds the maximum of {template.cpus_cap:g} "
            f"for template {template.name!r}"
        )
    if (
        memory_mb is not None
        and template.memory_mb_cap is not None
        and memory_mb > template.memory_mb_cap
    ):
        raise ValueError(
            f"memory_mb {memory_mb} exceeds the maximum of {template.memory_mb_cap} "
            f"for template {template.name!r}"
        )
    return (
        cpus if cpus is not None else template.cpus,
        memory_mb if memory_mb is not None else template.memory_mb,
    )


@functools.lru_cache(maxsize=4)
def _cached(path: Path | None) -> Catalogue:
    return load_catalogue(path)


def catalogue_for(settings: Settings) -> Catalogue:
    """The catalogue the settings name, read once per process (a bad file raises ConfigError)."""
    return _cached(settings.templates_file)
