"""Log line formats: the human one tags a line with its job's fields; an unknown format is refused."""

from __future__ import annotations

import logging

import pytest

from app.core import logs


def record(message: str = "hello", **extra) -> logging.LogRecord:
    rec = logging.LogRecord("jobgate.test", logging.INFO, __file__, 1, message, (), None)
    rec.__dict__.update(extra)
    return rec


def test_human_format_tags_a_line_with_its_job():
    token = logs.bind(endpoint="echo", job_id="j-1", worker_id="w@h-0")
    try:
        rec = record(event="job.finished")
        logs.ContextFilter().filter(rec)
        line = logs.HumanFormatter().format(rec)
    finally:
        logs.unbind(token)
    assert line.endswith("jobgate.test: hello [endpoint=echo job_id=j-1 worker_id=w@h-0 event=job.finished]")


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="JOBGATE_LOG_FORMAT"):
        logs.dict_config("xml")
