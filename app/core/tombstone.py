"""Tombstones: what a job id says once its record is gone, so that expired is not unknown.

The store keeps one integer per job that outlives the record by JOBGATE_TOMBSTONE_TTL_S: the
digits of ``at_ms * 10 + kind`` followed by five digits tagging the job's endpoint (an integer
is Redis's cheapest value: about 90 bytes a tombstone in all). This module reads it and words
the 404 a client gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any
from zlib import crc32

from .settings import Settings

TAG_MODULUS = 100_000
# A tombstone whose moment is this far ahead while the record is already gone was written for a
# record removed by other means (by hand, by a test): its id reads as unknown.
CLOCK_SLACK_MS = 1000


class GoneKind(IntEnum):
    """Why a job's record went."""

    EXPIRED = 1  # its result was kept for the retention of its mode, then expired
    EXPIRED_RETAINED = 2  # the same, with the retention a /status ?ttl asked for
    TTL = 3  # its policy.ttl (or JOBGATE_JOB_TTL_MS) passed before it ended
    PURGED = 4  # removed from its queue by /purge-queue


@dataclass(frozen=True)
class Tombstone:
    """Why and when a job's record went."""

    kind: GoneKind
    at_ms: int

    @classmethod
    def decode(cls, raw: str | bytes | None, endpoint: str, now_ms: int) -> Tombstone | None:
        """The tombstone stored as ``raw`` for a job of ``endpoint`` (None when there is none, it
        is another endpoint's job, or it is not due yet)."""
        if raw is None:
            return None
        try:
            value, tag = divmod(int(raw), TAG_MODULUS)
            kind = GoneKind(value % 10)
        except ValueError:
            return None
        if tag != endpoint_tag(endpoint):
            return None
        at_ms = value // 10
        return None if at_ms > now_ms + CLOCK_SLACK_MS else cls(kind, at_ms)

    @property
    def at_iso(self) -> str:
        return datetime.fromtimestamp(self.at_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def message(self, job_id: str, settings: Settings) -> str:
        """The 404's ``error`` text."""
        if self.kind is GoneKind.PURGED:
            return f"job {job_id} was purged from the queue at {self.at_iso}"
        if self.kind is GoneKind.TTL:
            return f"job {job_id} expired at {self.at_iso} (its policy.ttl passed before it finished)"
        if self.kind is GoneKind.EXPIRED_RETAINED:
            return f"job {job_id} expired at {self.at_iso} (its result was kept as long as ?ttl asked)"
        sync = job_id.startswith("sync-")
        kept_s = settings.result_ttl_sync_s if sync else settings.result_ttl_async_s
        return (
            f"job {job_id} expired at {self.at_iso} (results are kept {_duration(kept_s)} "
            f"after a {'/runsync' if sync else '/run'} job ends)"
        )

    def fields(self) -> dict[str, Any]:
        """What the 404's body carries besides ``error`` and ``code``."""
        return {"purgedAt" if self.kind is GoneKind.PURGED else "expiredAt": self.at_iso}


def endpoint_tag(endpoint: str) -> int:
    """The five-digit tag of an endpoint in its jobs' tombstones (a check, not a secret)."""
    return crc32(endpoint.encode()) % TAG_MODULUS


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
