"""structlog setup: JSON lines in production, readable lines in a terminal; ids bound, never personal data."""

from __future__ import annotations

import logging
import sys

import structlog
from temporalio import activity


def configure(log_format: str = "console", level: int = logging.INFO) -> None:
    renderer = structlog.processors.JSONRenderer() if log_format == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def activity_logger() -> structlog.stdlib.BoundLogger:
    """A logger bound to the account, workflow and run the current activity works for."""
    info = activity.info()
    return structlog.get_logger().bind(
        account_id=info.workflow_id.removeprefix("account-"),
        workflow_id=info.workflow_id,
        run_id=info.workflow_run_id,
        activity=info.activity_type,
        attempt=info.attempt,
    )
