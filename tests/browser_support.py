"""Debian's chromium driven by Playwright, for the browser tests.

Never `playwright install`: it downloads a browser of its own, which this machine cannot reach.
Without chromium (or the playwright package) the tests skip, with the reason; with
VM_API_REQUIRE_BROWSER=1, or VM_API_REQUIRE_DOCKER=1 as CI sets it (and CI installs chromium),
they fail instead, so a missing browser cannot turn the suite silently green.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STRICT_FLAGS = ("VM_API_REQUIRE_BROWSER", "VM_API_REQUIRE_DOCKER")


def browser_unavailable_reason() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not CHROMIUM.is_file():
        return f"no browser at {CHROMIUM} (Debian: apt-get install chromium)"
    return None


def require_chromium() -> str:
    """The path of Debian's chromium; skips (or, when strict, fails) the test without it."""
    reason = browser_unavailable_reason()
    if reason is not None:
        strict = [flag for flag in STRICT_FLAGS if os.environ.get(flag) == "1"]
        if strict:
            pytest.fail(f"{strict[0]}=1 but {reason}")
        pytest.skip(f"{reason}; VM_API_REQUIRE_BROWSER=1 makes this a failure")
    return str(CHROMIUM)
