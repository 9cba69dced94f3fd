"""Idempotency keys: one job per key, per API key and endpoint, for 24 hours."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, cast

from redis import Redis

from ..core.clock import now_ms
from .keys import Keys
from .scripts import Scripts

# How long a key names its job (ms).
IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class Claim:
    """Who holds an idempotency key: the job it names, the body it was sent with, since when."""

    body_hash: str
    job_id: str
    claimed_ms: int

    @classmethod
    def decode(cls, raw: str) -> Claim:
        body_hash, job_id, claimed = raw.split("|", 2)
        return cls(body_hash, job_id, int(claimed))


def body_hash(body: Any) -> str:
    """A request body's fingerprint: the same JSON, whatever its key order or spacing."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class IdempotencyKeys:
    """Claims and releases idempotency keys in Redis, each in one script."""

    def __init__(self, redis: Redis, keys: Keys):
        if redis is None:
            raise ValueError("IdempotencyKeys needs a Redis connection")
        self.keys = keys
        self.scripts = Scripts(redis)

    def claim(
        self, scope: str, endpoint: str, key: str, fingerprint: str, job_id: str, replace_job_id: str = ""
    ) -> Claim | None:
        """Claim ``key`` for ``job_id``; None when claimed now, else the claim that holds it."""
        held = self.scripts["idempotency_claim"](
            keys=[self.keys.idempotency(scope, endpoint, key)],
            args=[fingerprint, job_id, now_ms(), IDEMPOTENCY_TTL_MS, replace_job_id],
        )
        return Claim.decode(cast(str, held)) if held else None

    def release(self, scope: str, endpoint: str, key: str, job_id: str) -> bool:
        """Give ``key`` back if it still names ``job_id`` (its submission failed)."""
        return bool(
            self.scripts["idempotency_release"](keys=[self.keys.idempotency(scope, endpoint, key)], args=[job_id])
        )
