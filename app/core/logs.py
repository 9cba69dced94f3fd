"""Log lines: one JSON object per line for machines, or a human format for ``make run``.

Lines about a job carry ``endpoint``, ``job_id`` and ``worker_id`` (as far as the process
knows them) and its milestones an ``event`` (``job.submitted``, ``job.received``,
``job.finished``, ...), so one filter on ``job_id`` follows a job from the gateway to the
worker. The gateway binds them from each request's URL; a worker binds them around each job.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
from typing import Any

CONTEXT_FIELDS = ("endpoint", "job_id", "worker_id")
FORMATS = ("json", "human")

# Never mutated: bind() sets a new dict.
_context: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("jobgate_log_context", default={})  # noqa: B039


def bind(**fields: str | None) -> contextvars.Token:
    """Add fields to every line logged from here on in this context; undo with ``unbind``."""
    return _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})


def unbind(token: contextvars.Token) -> None:
    _context.reset(token)


class ContextFilter(logging.Filter):
    """Puts the bound fields on each record (the gateway binds each request's endpoint and job id)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = _context.get()
        for name, value in fields.items():
            if value and getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class HumanFormatter(logging.Formatter):
    """``time LEVEL logger: message [endpoint=.. job_id=.. worker_id=.. event=..]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = " ".join(
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS + ("event",) if getattr(record, name, None)
        )
        if not tags:
            return line
        head, newline, rest = line.partition("\n")  # keep a traceback below the tags
        return f"{head} [{tags}]{newline}{rest}"


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        timestamp="time",
        rename_fields={"levelname": "level", "name": "logger"},
    )


def dict_config(fmt: str = "json", level: str = "INFO", access_log: bool = False) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document: every line to stdout in ``fmt``.

    gunicorn's loggers go to the same handler; its access lines only with ``access_log``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"JOBGATE_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"main": {"()": json_formatter if fmt == "json" else HumanFormatter}},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": "main",
                "filters": ["context"],
            }
        },
        "root": {"level": level, "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO" if access_log else "WARNING", "handlers": [], "propagate": True},
        },
    }


def configure(fmt: str = "json", level: str = "INFO", access_log: bool = False) -> None:
    """Send this process's log lines to stdout in ``fmt`` (``json`` or ``human``)."""
    logging.config.dictConfig(dict_config(fmt, level, access_log))
