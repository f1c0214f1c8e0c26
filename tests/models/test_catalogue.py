"""The template catalogue: the built-in default, loading a file, malformed files, resource caps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.catalogue import Catalogue, Template, load_catalogue, resolve_resources
from models.settings import ConfigError

GOOD = """
default = "base"

[templates.python]
image = "python:3.12-slim"
description = "Python"
cpus = 2
memory_mb = 2048

[templates.base]
image = "vm-api/test-base:latest"
command = ["sleep", "2147483647"]
description = "busybox shell"
cpus = 1.0
memory_mb = 512
max_cpus = 2.5
max_memory_mb = 1024
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "templates.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_builtin_catalogue() -> None:
    catalogue = load_catalogue(None)

    assert catalogue.names() == ["debian", "python", "node", "rust", "go"]
    assert catalogue.default_name == "debian"
    images = {name: catalogue.templates[name].image for name in catalogue.names()}
    assert images == {
        "debian": "debian:bookworm-slim",
        "python": "python:3.12-slim",
        "node": "node:20-slim",
        "rust": "rust:1-slim-bookworm",
        "go": "golang:1-bookworm",
    }
    # the names the original's clients send
    for alias, name in (("nodejs", "node"), ("py", "python"), ("golang", "go")):
        assert catalogue.get(alias) is catalogue.templates[name]
    for template in catalogue.templates.values():
        assert template.command == ("sleep", "infinity")
        assert (template.cpus, template.memory_mb) == (2.0, 2048)
        assert template.description
    assert catalogue.get("nope") is None
    load_catalogue(None).templates.clear()  # each call gets its own catalogue
    assert load_catalogue(None).names() == ["debian", "python", "node", "rust", "go"]


def test_loading_a_file(tmp_path: Path) -> None:
    catalogue = load_catalogue(_write(tmp_path, GOOD))

    assert isinstance(catalogue, Catalogue)
    assert catalogue.names() == ["python", "base"]  # file order
    assert catalogue.default_name == "base"
    assert catalogue.get("base") == Template(
        name="base",
        image="vm-api/test-base:latest",
        command=("sleep", "2147483647"),
        description="busybox shell",
        cpus=1.0,
        memory_mb=512,
        max_cpus=2.5,
        max_memory_mb=1024,
    )
    python = catalogue.get("python")
    assert python is not None
    assert python.command is None  # the image's own command
    assert python.cpus == 2.0 and isinstance(python.cpus, float)
    assert python.max_cpus is None


def test_default_is_the_first_template_when_not_given(tmp_path: Path) -> None:
    text = '[templates.zeta]\nimage = "z:1"\n[templates.alpha]\nimage = "a:1"\n'
    catalogue = load_catalogue(_write(tmp_path, text))

    assert catalogue.default_name == "zeta"
    alpha = catalogue.get("alpha")
    assert alpha == Template("alpha", "a:1", None, "", None, None, None, None)


def test_to_json_lists_every_field(tmp_path: Path) -> None:
    items = load_catalogue(_write(tmp_path, GOOD)).to_json()

    assert items[1] == {
        "name": "base",
        "image": "vm-api/test-base:latest",
        "command": ["sleep", "2147483647"],
        "description": "busybox shell",
        "cpus": 1.0,
        "memory_mb": 512,
        "max_cpus": 2.5,
        "max_memory_mb": 1024,
        "aliases": [],
        "workdir": "/workspace",
        "shell": "/bin/sh",
        "network": None,
        "idle_timeout_seconds": None,
    }
    assert items[0]["command"] is None
    assert [item["name"] for item in items] == ["python", "base"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("[templates.base\nimage = 1", "not valid TOML", id="bad-toml"),
        pytest.param("default = 'base'\n", "no templates", id="no-templates"),
        pytest.param("templates = 3\n", "no templates", id="templates-not-a-table"),
        pytest.param(
            "colour = 'red'\n[templates.base]\nimage = 'x'\n", "unknown key 'colour'", id="top-key"
        ),
        pytest.param("[templates.base]\ncommand = ['sh']\n", "'base': key 'image'", id="no-image"),
        pytest.param("[templates.base]\nimage = 5\n", "'base': key 'image'", id="image-type"),
        pytest.param("[templates.base]\nimage = ''\n", "'base': key 'image'", id="image-empty"),
        pytest.param(
            "[templates.base]\nimage = 'x'\ncommand = 'sleep 1'\n",
            "'base': key 'command' must be a non-empty list of strings",
            id="command-string",
        ),
        pytest.param(
            "[templates.base]\nimage = 'x'\ncommand = ['sleep', 1]\n",
            "'base': key 'command'",
            id="command-items",
        ),
        pytest.param(
            "[templates.base]\nimage = 'x'\ncommand = []\n", "'base': key 'command'", id="cmd-empty"
        ),
        pytest.param(
            "[templates.base]\nimage = 'x'\ndescription = 3\n",
            "'base': key 'description'",
            id="description-type",
        ),
        pytest.param(
            "[templates.base]\nimage = 'x'\ncpus = 'two'\n", "'base': key 'cpus'", id="cpus-type"
        ),
        pytest.param(
            "[templates.base]\nimage = 'x'\ncpus = 0\n", "'base': key 'cpus'", id="cpus-zero"
        ),
        pytest.param(
            "[templates.base]\nimage = 'x'\ncpus = true\n", "'base': key 'cpus'", id="cpus-bool"
        ),
        pytest.param(
            "[templates.base]\nimage = 'x'\nmemory_mb = 1.5\n",
            "'base': key 'memory_mb' must be a whole number greater than 0",
            id="memory-float",
        ),
        pytest.param(
            "[templates.base]\nimage = 'x'\nmax_memory_mb = -1\n",
            "'base': key 'max_memory_mb'",
            id="max-memory-negative",
        ),
        pytest.param(
            "[templates.base]\nimage = 'x'\ncpus = 4\nmax_cpus = 2\n",
            "'base': key 'cpus' must be at most max_cpus (2)",
            id="default-above-cap",
        ),
        pytest.param(
            "[templates.base]\nimage = 'x'\nram = 5\n",
            "'base': unknown key 'ram'",
            id="unknown-key",
        ),
        pytest.param("[templates]\nbase = 'x'\n", "'base' must be a table", id="not-a-table"),
        pytest.param(
            "[templates.Base]\nimage = 'x'\n", "template name 'Base' must match", id="upper-case"
        ),
        pytest.param(
            "[templates.'my template']\nimage = 'x'\n",
            "template name 'my template'",
            id="space-in-name",
        ),
        pytest.param("[templates.-x]\nimage = 'x'\n", "template name '-x'", id="leading-dash"),
        pytest.param(
            f"[templates.{'a' * 64}]\nimage = 'x'\n", "template name 'aaaa", id="name-too-long"
        ),
        pytest.param(
            "default = 'nope'\n[templates.base]\nimage = 'x'\n",
            "'default' must name one of the templates, got 'nope'",
            id="unknown-default",
        ),
        pytest.param(
            "default = 3\n[templates.base]\nimage = 'x'\n", "'default'", id="default-type"
        ),
    ],
)
def test_a_malformed_file_is_one_clear_config_error(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = _write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_catalogue(path)

    message = str(caught.value)
    assert message.startswith(f"VM_API_TEMPLATES_FILE ({path}): ")
    assert expected in message
    assert "\n" not in message


def test_an_unreadable_or_binary_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"VM_API_TEMPLATES_FILE .*cannot read the file"):
        load_catalogue(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"VM_API_TEMPLATES_FILE .*not UTF-8"):
        load_catalogue(binary)


def test_a_name_of_63_characters_is_fine(tmp_path: Path) -> None:
    name = "a" + "b-._9" * 12 + "x"
    assert len(name) == 62
    catalogue = load_catalogue(_write(tmp_path, f"[templates.'{name}z']\nimage = 'x'\n"))
    assert catalogue.names() == [name + "z"]


def _template(**caps: float | int | None) -> Template:
    fields: dict = {"cpus": 1.0, "memory_mb": 512, "max_cpus": None, "max_memory_mb": None}
    fields.update(caps)
    return Template(name="python", image="python:3.12-slim", command=None, description="", **fields)


def test_resolve_resources_applies_the_defaults() -> None:
    assert resolve_resources(_template(), None, None) == (1.0, 512)
    assert resolve_resources(_template(max_cpus=4.0), 3.5, None) == (3.5, 512)
    assert resolve_resources(_template(max_memory_mb=2048), None, 1024) == (1.0, 1024)
    assert resolve_resources(_template(), 0.5, 256) == (0.5, 256)  # below the default is fine


def test_resolve_resources_the_cap_is_the_max_or_else_the_default() -> None:
    with pytest.raises(ValueError) as caught:
        resolve_resources(_template(max_memory_mb=2048), None, 4096)
    assert str(caught.value) == "memory_mb 4096 exceeds the maximum of 2048 for template 'python'"

    with pytest.raises(ValueError, match="memory_mb 513 exceeds the maximum of 512 for template"):
        resolve_resources(_template(), None, 513)
    with pytest.raises(ValueError, match=r"cpus 1.5 exceeds the maximum of 1 for template"):
        resolve_resources(_template(), 1.5, None)
    with pytest.raises(ValueError, match=r"cpus 8 exceeds the maximum of 4 for template"):
        resolve_resources(_template(max_cpus=4.0), 8, None)


def test_resolve_resources_without_any_cap() -> None:
    template = _template(cpus=None, memory_mb=None)
    assert resolve_resources(template, None, None) == (None, None)
    assert resolve_resources(template, 64.0, 1 << 20) == (64.0, 1 << 20)


def test_resolve_resources_rejects_nonpositive_requests() -> None:
    with pytest.raises(ValueError, match="cpus must be greater than 0"):
        resolve_resources(_template(), 0, None)
    with pytest.raises(ValueError, match="memory_mb must be greater than 0"):
        resolve_resources(_template(), None, -5)


def test_aliases_name_their_template(tmp_path: Path) -> None:
    text = '[templates.node]\nimage = "node:20-slim"\naliases = ["nodejs", "js", "js"]\n'
    catalogue = load_catalogue(_write(tmp_path, text))

    assert catalogue.get("nodejs") is catalogue.get("js") is catalogue.templates["node"]
    assert catalogue.templates["node"].aliases == ("nodejs", "js")
    assert catalogue.get("nope") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[templates.a]\nimage = "x"\naliases = "b"\n', "'aliases' must be a list"),
        ('[templates.a]\nimage = "x"\naliases = ["B C"]\n', "'aliases' must be a list"),
        ('[templates.a]\nimage = "x"\naliases = ["a"]\n', "'aliases' must be a list"),
        (
            '[templates.a]\nimage = "x"\naliases = ["b"]\n[templates.b]\nimage = "y"\n',
            "alias 'b' is a template's name",
        ),
        (
            '[templates.a]\nimage = "x"\naliases = ["c"]\n'
            '[templates.b]\nimage = "y"\naliases = ["c"]\n',
            "alias 'c' is already an alias of 'a'",
        ),
    ],
)
def test_bad_aliases_are_start_up_errors(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_catalogue(_write(tmp_path, text))
