"""Why a job waits: its place in its endpoint's waiting order, and the reason, in words.

The store keeps each endpoint's queued jobs in one sorted set in the order workers take them:
kombu pops the normal lane first, each lane first in first out, so the score is the time the job
was queued, plus LOW_LANE_SCORE in the low-priority lane (a job the reaper put back goes to
the head of its lane, like its message). A job's position is its rank there: O(log n).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Added to the score of a low-priority job: above any time in ms for the next 300 years.
LOW_LANE_SCORE = 10**13


def waiting_score(queued_ms: int, low_priority: bool) -> int:
    """A queued job's score in the waiting order."""
    return queued_ms + (LOW_LANE_SCORE if low_priority else 0)


@dataclass(frozen=True)
class QueuePlace:
    """A job's place in the waiting order: position (1: next; None when not indexed), how many
    jobs wait in the normal lane, and in all."""

    position: int | None
    normal: int
    waiting: int


def why_waiting(endpoint: str, place: QueuePlace, low_priority: bool, states: Iterable[str]) -> dict[str, Any]:
    """The ``queue`` object of a queued job's /status, from its place and the states (one of
    the fleet's worker states, for this endpoint) of the live workers serving its endpoint."""
    states = list(states)
    total = len(states)
    healthy = [s for s in states if s != "unhealthy"]
    here = sum(s == "running" for s in healthy)
    elsewhere = sum(s == "throttled" for s in healthy)
    free = len(healthy) - here - elsewhere
    ahead_normal = place.normal if low_priority else 0
    if total == 0:
        reason, detail = "no_worker", f"no worker serves endpoint {endpoint!r}"
    elif not healthy:
        reason, detail = "handler_failed", f"its handler failed to load on every worker serving it ({total})"
    elif low_priority and ahead_normal:
        reason, detail = "low_priority", f"it is in the low-priority lane behind {ahead_normal} normal job(s)"
    elif free:
        reason, detail = "starting", f"{free} of {len(healthy)} worker(s) are free: it is about to start"
    elif here == len(healthy):
        reason, detail = "workers_busy", f"every worker serving it is busy ({here} of {len(healthy)})"
    elif here == 0:
        reason, detail = (
            "workers_busy_elsewhere",
            f"its workers are busy with other endpoints' jobs ({elsewhere} of {len(healthy)})",
        )
    else:
        reason, detail = (
            "workers_busy",
            f"every worker serving it is busy ({len(healthy)} of {len(healthy)}: {here} with this endpoint, "
            f"{elsewhere} with others)",
        )
    return {"position": place.position, "reason": reason, "detail": detail}
