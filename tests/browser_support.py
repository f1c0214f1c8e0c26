"""Debian's chromium driven by Playwright, for the browser tests.

Never `playwright install`: it downloads a browser of its own, which this machine cannot reach.
Without chromium the tests skip, with the reason; with VM_API_REQUIRE_DOCKER=1 (CI, which
installs it) they fail instead.
"""

from __future__ import annotations

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


def require_chromium() -> str:
    if not CHROMIUM.is_file():
        message = f"no browser at {CHROMIUM} (Debian: apt-get install chromium)"
        if os.environ.get("VM_API_REQUIRE_DOCKER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return str(CHROMIUM)
