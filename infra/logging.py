"""structlog setup: JSON lines in production, readable lines in a terminal; ids bound, never personal data."""

from __future__ import annotations

import logging
import sys

import structlog
from temporalio import activity

OUR_LOGGERS = ("__main__", "activities", "workflows", "infra", "client", "inbound", "cli", "worker", "starter")


def configure(log_format: str = "console", level: int = logging.INFO) -> None:
    """Our logs and the libraries' (Temporal's SDK among them) go out through one renderer, so production gets
    JSON lines only."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if log_format == "json" else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    # Libraries speak up only for warnings (Twilio's client, for one, logs full URLs with phone numbers at INFO).
    root.setLevel(max(level, logging.WARNING))
    for ours in OUR_LOGGERS:
        logging.getLogger(ours).setLevel(level)


def activity_logger() -> structlog.stdlib.BoundLogger:
    """A logger bound to the account (for an account's activity), workflow and run the current activity works for."""
    info = activity.info()
    account = (
        {"account_id": info.workflow_id.removeprefix("account-")} if info.workflow_id.startswith("account-") else {}
    )
    return structlog.get_logger().bind(
        **account,
        workflow_id=info.workflow_id,
        run_id=info.workflow_run_id,
        activity=info.activity_type,
        attempt=info.attempt,
    )
