"""prometheus-client's multiprocess mode, set up before any process imports prometheus_client.

Every process of the service (the Hypercorn workers, the consumer) writes its metrics into
files in one folder (VM_API_DATA_DIR/prometheus); the API's /metrics adds them up, so one scrape
shows the whole service on this host. The variable must be in the environment before
prometheus_client is first imported (it picks its value class then), and children inherit it.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from models.settings import Settings

ENV = "PROMETHEUS_MULTIPROC_DIR"
# counter_1234.db, gauge_livesum_1234.db, histogram_1234.db ...
_PID = re.compile(r"_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_metrics_dir(settings: Settings) -> Path | None:
    """Points PROMETHEUS_MULTIPROC_DIR at the service's folder and removes the files of
    processes that are gone (a previous run's: their counters start again from zero, which
    Prometheus reads as a counter reset). Files of live processes stay, so `vm-api web` and
    `vm-api worker` started separately (supervisord) do not wipe each other."""
    if not settings.metrics_enabled:
        os.environ.pop(ENV, None)
        return None
    folder = settings.resolved_metrics_dir
    folder.mkdir(parents=True, exist_ok=True)
    for path in folder.glob("*.db"):
        match = _PID.search(path.name)
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    os.environ[ENV] = str(folder)
    return folder


def mark_dead(pid: int) -> None:
    """For a process that exited: its live gauges stop counting (prometheus-client's rule)."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
