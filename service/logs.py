"""One log format for every process: text (the default) or JSON lines (VM_API_LOG_FORMAT=json).

Every record carries the request id of the work in hand (`models.request_context`), and the
periodic slots' routine lines (huey's "Executing ..."/"... executed" for the sweep, the janitor
and their planner) are DEBUG: an idle service writes nothing at INFO. A slot that did work says
so itself, at INFO or WARNING.
"""

from __future__ import annotations

import logging
import os
import sys

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from models.request_context import current_request_id

# Task names huey logs for the periodic slots (the task's repr names it).
QUIET_TASKS = ("sweep_slot", "janitor_slot", "plan_periodic_work")
QUIET_LOGGERS = ("huey", "huey.consumer.Scheduler")


class RequestContext(logging.Filter):
    """Adds `request_id` to every record (None outside a request or an operation's task)."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process_role = process

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        record.request_id_text = f" [{record.request_id}]" if record.request_id else ""
        record.role = self.process_role
        return True


class QuietPeriodicSlots(logging.Filter):
    """huey's INFO lines about the periodic slots become DEBUG (dropped above DEBUG), and so do
    its "Added task ... to schedule" lines (the planner's every minute; a retry's scheduling is
    still told at INFO by huey's "Requeueing ..." line)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.name not in QUIET_LOGGERS:
            return True
        message = record.getMessage()
        # the planner's "Added task <id> to schedule" lines name no task: all of them go
        routine = message.startswith("Added task ") and " to schedule" in message
        if not routine and not any(name in message for name in QUIET_TASKS):
            return True
        if self.level > logging.DEBUG:
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(role)s %(process)d %(name)s %(message)s %(request_id)s",
        rename_fields={
            "asctime": "time",
            "levelname": "level",
            "role": "process",
            "process": "pid",
            "name": "logger",
        },
        # the text format's helper field is no context of its own
        reserved_attrs=[*RESERVED_ATTRS, "request_id_text"],
    )


def setup_logging(process: str) -> None:
    level_name = os.environ.get("VM_API_LOG_LEVEL", "INFO").upper()
    level = getattr(logging, level_name, logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    # An unknown value is reported by Settings.from_env (exit 2); until then, text.
    if os.environ.get("VM_API_LOG_FORMAT", "text").strip() == "json":
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(
            logging.Formatter(
                f"%(asctime)s {process} %(levelname)s %(name)s%(request_id_text)s: %(message)s"
            )
        )
    handler.addFilter(RequestContext(process))
    handler.addFilter(QuietPeriodicSlots(level))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
