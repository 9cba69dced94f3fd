"""What the ``jobgate`` client command shows: the health table and the live progress line."""

from __future__ import annotations

import io
import time

from app.client.cli import health_table
from app.client.display import ProgressLine


def test_health_table_lines_up_names_and_counts():
    table = health_table("e", {"jobs": {"completed": 12, "failed": 0}, "workers": {"idle": 1, "running": 0}})
    assert table.splitlines() == [
        "endpoint e",
        "jobs     completed  failed",
        "         12         0",
        "workers  idle  running",
        "         1     0",
    ]


def test_progress_line_on_a_terminal_redraws_a_spinner_in_place():
    out = io.StringIO()
    line = ProgressLine("job-1", out=out, live=True)
    line.update("IN_PROGRESS", {"step": 1})
    time.sleep(0.35)
    line.close("job-1  COMPLETED in 0.4s")
    text = out.getvalue()
    assert "\r\x1b[2K" in text and "IN_PROGRESS" in text and '{"step":1}' in text
    assert text.endswith("job-1  COMPLETED in 0.4s\n")
