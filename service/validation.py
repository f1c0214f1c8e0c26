"""Checks on create requests that need settings: provider, template and resources, repo URL."""

from __future__ import annotations

import re

from models.catalogue import Catalogue, Template, resolve_resources
from models.settings import PROVIDERS, Settings
from service.errors import APIError

# user@host:path (scp-like ssh) or a URL with one of these schemes
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$")
_REMOTE_SCHEMES = ("https://", "http://", "ssh://", "git://")


def check_repo_url(url: str, settings: Settings) -> None:
    """git would treat some "URLs" as commands or options: accept only plain remotes."""

    def refuse(why: str) -> APIError:
        return APIError(400, "INVALID_REPO_URL", f"repo_url {why}")

    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise refuse("must not contain spaces or control characters")
    if url.startswith("-"):
        raise refuse("must not start with '-'")
    if "::" in url.split("/", 1)[0]:
        raise refuse("must not use a git remote helper (<transport>::)")
    if url.startswith(_REMOTE_SCHEMES) or _SCP_LIKE.match(url):
        return
    if url.startswith("file://") or url.startswith("/"):
        if settings.allow_file_repos:
            return
        raise refuse("may not name a local path (the operator has not allowed file repositories)")
    raise refuse("must be an https://, http://, ssh://, git:// or user@host:path remote")


# What `git check-ref-format` refuses in a ref name, plus option-like and over-long names; a
# commit id (7-40 hex digits) passes these rules as it is.
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def check_repo_ref(ref: str, repo_url: str | None) -> None:
    def refuse(why: str) -> APIError:
        return APIError(400, "INVALID_REPO_REF", f"repo_ref {why}")

    if repo_url is None:
        raise refuse("needs a repo_url")
    if not ref or ref.startswith("-"):
        raise refuse("must not be empty nor start with '-'")
    if _REF_FORBIDDEN.search(ref) or ref == "@":
        raise refuse(
            "is not a valid git ref: no spaces, control characters, '~^:?*[\\', '..', '@{' or '//'"
        )
    parts = ref.split("/")
    if any(not p or p.startswith(".") or p.endswith(".lock") for p in parts) or ref.endswith("."):
        raise refuse(
            "is not a valid git ref: no empty component, none starting with '.' or ending with"
            " '.lock', and no trailing '.' or '/'"
        )


def check_provider(provider: str) -> str:
    if provider not in PROVIDERS:
        raise APIError(
            400,
            "UNKNOWN_PROVIDER",
            f"unknown provider {provider!r}; available: {', '.join(PROVIDERS)}",
        )
    return provider


def check_template(name: str | None, catalogue: Catalogue) -> Template:
    # only an absent template means the default; "" is a name, and an unknown one
    chosen = catalogue.get(catalogue.default_name if name is None else name)
    if chosen is None:
        raise APIError(
            400,
            "UNKNOWN_TEMPLATE",
            f"unknown template {name!r}; known: {', '.join(catalogue.names())}",
        )
    return chosen


def check_resources(
    template: Template, cpus: float | None, memory_mb: int | None
) -> tuple[float | None, int | None]:
    try:
        return resolve_resources(template, cpus, memory_mb)
    except ValueError as exc:
        raise APIError(400, "RESOURCE_LIMIT", str(exc)) from None
