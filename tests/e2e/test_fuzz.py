"""Fuzz the whole API from its own OpenAPI document with schemathesis, against the real
service on loopback, bounded in time.

Every check runs except `positive_data_acceptance`: the API refuses some schema-valid input
on purpose, for reasons a schema cannot state (an opaque cursor that was not issued, a CPU
request over a template's own cap). No 5xx, no undocumented status, no response that breaks
the document, and negative data rejected.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import RunningService

pytestmark = pytest.mark.slow

FUZZ_SECONDS = 45


def schemathesis_command() -> str:
    beside = Path(sys.executable).with_name("st")
    found = str(beside) if beside.is_file() else shutil.which("st")
    if found is None:
        pytest.fail("schemathesis (`st`) is not installed: it is in the [test] extra")
    return found


def test_the_api_honours_its_openapi_document_under_fuzzing(
    service_factory: Callable[..., RunningService], tmp_path: Path
) -> None:
    running = service_factory()
    result = subprocess.run(
        [
            schemathesis_command(),
            "run",
            f"{running.config.url}/openapi.json",
            "--header",
            "x-user: fuzzer",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-time",
            str(FUZZ_SECONDS),
            "--max-examples",
            "25",
            "--workers",
            "2",
            "--seed",
            "20261126",
            "--generation-database",
            ":memory:",
            "--report-dir",
            str(tmp_path / "report"),
        ],
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS * 4,
        cwd=tmp_path,
        check=False,
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary
    assert "generated" in summary  # it did run test cases
    assert "unhandled error" not in running.process.log_text()
