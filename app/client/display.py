"""The CLI's live progress line: a spinner with the job's state, elapsed time and latest progress.

On a terminal the line redraws itself ten times a second; elsewhere (a pipe, a CI log)
each change of state or progress is printed once, as a plain line.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from typing import Any, TextIO

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
REDRAW_S = 0.1
_NONE: Any = object()
NO_PROGRESS = _NONE


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class ProgressLine:
    """Shows one job's progress on ``out`` (stderr) until ``close``."""

    def __init__(self, job_id: str, out: TextIO | None = None, live: bool | None = None):
        self.job_id = job_id
        self.out = out or sys.stderr
        self.live = self.out.isatty() if live is None else live
        self.started = time.monotonic()
        self.state = "SUBMITTING"
        self.progress: Any = _NONE
        self._shown: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.live:
            self._thread = threading.Thread(target=self._spin, name="jobgate-progress", daemon=True)
            self._thread.start()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def update(self, state: str, progress: Any = _NONE) -> None:
        """Record the job's state and, while it runs, its latest progress value."""
        with self._lock:
            self.state = state
            if progress is not _NONE:
                self.progress = progress
            if not self.live:
                shown = (state, "" if self.progress is _NONE else compact(self.progress))
                if shown != self._shown:
                    self._shown = shown
                    self.out.write(f"[{self.elapsed():6.1f}s] {self._text()}\n")
                    self.out.flush()

    def note(self, line: str, to: TextIO | None = None) -> None:
        """Print a line above the progress line (to ``to``, e.g. stdout for a streamed chunk)."""
        target = to or self.out
        with self._lock:
            if self.live:
                self.out.write("\r\x1b[2K")
                self.out.flush()
            target.write(line + "\n")
            target.flush()

    def close(self, final: str | None = None) -> None:
        """Stop redrawing; leave ``final`` (e.g. "COMPLETED in 3.1s") as the last line."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        with self._lock:
            if self.live:
                self.out.write("\r\x1b[2K")
            if final:
                self.out.write(final + "\n")
            self.out.flush()

    def _text(self) -> str:
        text = f"{self.job_id}  {self.state}"
        if self.progress is not _NONE and self.state == "IN_PROGRESS":
            text += f"  {compact(self.progress)}"
        return text

    def _spin(self) -> None:
        frame = 0
        while not self._stop.wait(REDRAW_S):
            width = shutil.get_terminal_size((80, 20)).columns
            with self._lock:
                line = f"{SPINNER[frame % len(SPINNER)]} {self.elapsed():5.1f}s  {self._text()}"
                self.out.write("\r\x1b[2K" + line[: width - 1])
                self.out.flush()
            frame += 1
