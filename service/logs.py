"""One log format for every process."""

from __future__ import annotations

import logging
import os


def setup_logging(process: str) -> None:
    level = os.environ.get("VM_API_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format=f"%(asctime)s {process} %(levelname)s %(name)s: %(message)s",
    )
