"""API keys kept in Redis: stored as SHA-256 digests, each with its scopes.

A key reads ``jgk_<key id>_<secret>``. The id is not secret (``jobgate keys list``
shows it); the secret is 256 random bits, so one SHA-256 is enough to store it
(a slow password hash protects guessable secrets, which these are not). The plain
key is printed once by ``jobgate keys create`` and never stored or logged.

Keys are the one kind of Redis key jobgate writes without an expiry, unless they
were created with one: they are configuration, not traffic.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from redis import Redis

from ..core.clock import now_ms
from ..core.limits import READ_ONLY, Operation
from .keys import Keys

KEY_PREFIX = "jgk_"


def digest(key: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a bootstrap key (may do everything) or a stored key with scopes."""

    key_id: str
    endpoints: frozenset[str] | None = None  # None: every endpoint
    read_only: bool = False

    def may(self, endpoint_id: str, operation: Operation) -> bool:
        """Whether this caller may call ``operation`` on ``endpoint_id``."""
        if self.endpoints is not None and endpoint_id not in self.endpoints:
            return False
        return not self.read_only or operation in READ_ONLY


BOOTSTRAP = Principal("bootstrap")


@dataclass(frozen=True)
class StoredKey:
    """A stored key's record, without its secret."""

    id: str
    endpoints: tuple[str, ...]
    read_only: bool
    name: str
    created_ms: int
    expires_ms: int | None

    @property
    def principal(self) -> Principal:
        return Principal(self.id, frozenset(self.endpoints) if self.endpoints else None, self.read_only)


class KeyStore:
    """Creates, finds, lists and revokes stored keys."""

    def __init__(self, redis: Redis, keys: Keys):
        if redis is None:
            raise ValueError("KeyStore needs a Redis connection")
        self.redis = redis
        self.keys = keys

    def create(
        self, endpoints: Iterable[str] = (), *, read_only: bool = False, name: str = "", expires_s: int | None = None
    ) -> tuple[StoredKey, str]:
        """A new key's record and its plain text (shown to the caller once, never kept)."""
        key_id = secrets.token_hex(8)
        plain = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        now = now_ms()
        record = StoredKey(
            key_id, tuple(dict.fromkeys(endpoints)), read_only, name, now, now + expires_s * 1000 if expires_s else None
        )
        mapping = {
            "sha256": digest(plain),
            "endpoints": ",".join(record.endpoints),
            "read_only": int(read_only),
            "name": name,
            "created": now,
        }
        if record.expires_ms:
            mapping["expires"] = record.expires_ms
        pipe = self.redis.pipeline()
        pipe.hset(self.keys.api_key(key_id), mapping=mapping)
        if expires_s:
            pipe.expire(self.keys.api_key(key_id), expires_s)
        pipe.execute()
        return record, plain

    def find(self, presented: str) -> Principal | None:
        """The principal of a stored key, or None when the key is unknown, revoked or expired."""
        if not presented.startswith(KEY_PREFIX):
            return None
        key_id, sep, _ = presented[len(KEY_PREFIX) :].partition("_")
        if not sep or not key_id.isalnum():
            return None
        h = cast(dict[str, str], self.redis.hgetall(self.keys.api_key(key_id)))
        if not h or not hmac.compare_digest(h.get("sha256", ""), digest(presented)):
            return None
        return self._record(key_id, h).principal

    def get(self, key_id: str) -> StoredKey | None:
        h = cast(dict[str, str], self.redis.hgetall(self.keys.api_key(key_id)))
        return self._record(key_id, h) if h else None

    def list(self) -> list[StoredKey]:
        """Every stored key, oldest first."""
        prefix = self.keys.api_key("")
        found = []
        for redis_key in self.redis.scan_iter(match=prefix + "*", count=1000):
            record = self.get(redis_key[len(prefix) :])
            if record is not None:
                found.append(record)
        return sorted(found, key=lambda r: r.created_ms)

    def revoke(self, key_id: str) -> bool:
        """Delete a key; False when there was none with that id."""
        return bool(self.redis.delete(self.keys.api_key(key_id)))

    @staticmethod
    def _record(key_id: str, h: dict[str, str]) -> StoredKey:
        return StoredKey(
            id=key_id,
            endpoints=tuple(e for e in h.get("endpoints", "").split(",") if e),
            read_only=h.get("read_only") == "1",
            name=h.get("name", ""),
            created_ms=int(h.get("created") or 0),
            expires_ms=int(h["expires"]) if h.get("expires") else None,
        )
