"""Handlers of the concurrency benchmark."""

from __future__ import annotations

import asyncio
from typing import Any

from workers.examples import echo_batch


async def await_sleep(job: dict[str, Any]) -> Any:
    """Awaits ``sleep`` seconds (default 0.1), as a handler waiting on a model would."""
    await asyncio.sleep(float(job["input"].get("sleep", 0.1)))
    return job["input"]


def echo_step(job: dict[str, Any]) -> Any:
    """echo-batch's GPU step for one job: the same cost per call as a whole batch."""
    return echo_batch([job])[0]
