"""API keys: ``Authorization: Bearer <key>`` (or the raw key), compared in constant time."""
from __future__ import annotations

import hmac
from typing import Iterable

from .errors import Unauthorized


def presented_key(header: str | None) -> str | None:
    """The key in an Authorization header, with or without the ``Bearer`` scheme."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    key = rest.strip() if scheme.lower() == "bearer" else header.strip()
    return key or None


def check_key(header: str | None, keys: Iterable[str]) -> str:
    """The matching key, or Unauthorized."""
    key = presented_key(header)
    if key is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    found = None
    for candidate in keys:
        # Compare against every key so timing does not reveal which one matched.
        if hmac.compare_digest(candidate.encode(), key.encode()):
            found = candidate
    if found is None:
        raise Unauthorized("invalid API key")
    return found
