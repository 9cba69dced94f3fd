"""The one clock: milliseconds since the epoch, as every job timing and Redis score is kept."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Wall-clock time in milliseconds since the epoch."""
    return int(time.time() * 1000)
