"""Create-request checks that need settings: repo URLs, providers, templates and resources."""

from __future__ import annotations

import pytest

from models.catalogue import Catalogue, Template
from models.settings import Settings
from service.errors import APIError
from service.validation import check_provider, check_repo_url, check_resources, check_template

STRICT = Settings(allow_file_repos=False)
LENIENT = Settings(allow_file_repos=True)
SMALL = Template("small", "busybox", cpus=1.0, memory_mb=256, max_cpus=2.0, max_memory_mb=1024)
FIXED = Template("fixed", "busybox", cpus=1.0, memory_mb=512)  # no max: the default is the cap
OPEN = Template("open", "busybox")  # no resources at all: no cap
CATALOGUE = Catalogue(
    templates={"small": SMALL, "fixed": FIXED, "open": OPEN}, default_name="fixed"
)


def refused(call: object, *args: object) -> APIError:
    with pytest.raises(APIError) as raised:
        call(*args)  # type: ignore[operator]
    assert raised.value.status == 400
    return raised.value


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/octo/repo.git",
        "http://example.com/repo",
        "ssh://git@example.com:2222/repo.git",
        "git://example.com/repo.git",
        "git@github.com:octo/repo.git",
        "deploy.bot@git.example.com:team/repo",
        "https://example.com/a::b",  # "::" after the host is only a path
    ],
)
def test_remote_urls_are_accepted(url: str) -> None:
    check_repo_url(url, STRICT)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ext::sh -c touch% /tmp/pwned", "spaces"),
        ("ext::sh", "remote helper"),
        ("fd::3", "remote helper"),
        ("transport::https://example.com/r", "remote helper"),
        ("-uupload-pack=touch /tmp/x", "spaces"),
        ("-uupload-pack=touch", "start with '-'"),
        ("--config=core.sshCommand=touch", "start with '-'"),
        ("https://example.com/a b", "spaces"),
        ("https://example.com/a\tb", "spaces"),
        ("https://example.com/r\n", "control"),
        ("https://example.com/r\r", "control"),
        ("https://example.com/\x00", "control"),
        ("https://example.com/\x1b[31m", "control"),
        ("https://example.com/\x7f", "control"),
        ("https://example.com/\u2028", "spaces"),
        ("ftp://example.com/repo", "remote"),
        ("repo.git", "remote"),
        ("", "remote"),
    ],
)
def test_dangerous_or_malformed_urls_are_refused(url: str, why: str) -> None:
    error = refused(check_repo_url, url, LENIENT)

    assert error.code == "INVALID_REPO_URL"
    assert why in error.message


@pytest.mark.parametrize("url", ["file:///etc", "/etc", "file:///srv/repo.git", "/srv/repo.git"])
def test_local_paths_need_the_operators_permission(url: str) -> None:
    check_repo_url(url, LENIENT)

    error = refused(check_repo_url, url, STRICT)

    assert error.code == "INVALID_REPO_URL"
    assert "local path" in error.message


def test_known_providers() -> None:
    assert check_provider("local") == "local"
    assert check_provider("docker") == "docker"


@pytest.mark.parametrize("provider", ["aws", "", "Local", "local "])
def test_an_unknown_provider_names_the_available_ones(provider: str) -> None:
    error = refused(check_provider, provider)

    assert error.code == "UNKNOWN_PROVIDER"
    assert repr(provider) in error.message
    assert "available: local, docker" in error.message


def test_a_template_by_name_or_the_default() -> None:
    assert check_template("small", CATALOGUE) is SMALL
    assert check_template(None, CATALOGUE) is FIXED


@pytest.mark.parametrize("name", ["ubuntu", "", "SMALL"])
def test_an_unknown_template_lists_the_known_ones(name: str) -> None:
    error = refused(check_template, name, CATALOGUE)

    assert error.code == "UNKNOWN_TEMPLATE"
    assert "known: small, fixed, open" in error.message


@pytest.mark.parametrize(
    ("template", "asked", "given"),
    [
        (SMALL, (None, None), (1.0, 256)),
        (SMALL, (2.0, 1024), (2.0, 1024)),
        (SMALL, (0.5, 6), (0.5, 6)),
        (FIXED, (1.0, 512), (1.0, 512)),
        (OPEN, (64.0, 65536), (64.0, 65536)),
        (OPEN, (None, None), (None, None)),
    ],
)
def test_resources_within_the_template(
    template: Template,
    asked: tuple[float | None, int | None],
    given: tuple[float | None, int | None],
) -> None:
    assert check_resources(template, *asked) == given


@pytest.mark.parametrize(
    ("template", "asked", "named"),
    [
        (SMALL, (2.5, None), "cpus"),
        (SMALL, (None, 1025), "memory_mb"),
        (FIXED, (1.5, None), "cpus"),
        (FIXED, (None, 513), "memory_mb"),
    ],
)
def test_resources_over_the_template_maximum(
    template: Template, asked: tuple[float | None, int | None], named: str
) -> None:
    error = refused(check_resources, template, *asked)

    assert error.code == "RESOURCE_LIMIT"
    assert named in error.message
    assert repr(template.name) in error.message
