"""API keys: ``Authorization: Bearer <key>`` (or the raw key), compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from ..core.errors import Unauthorized
from ..store.apikeys import BOOTSTRAP, KeyStore, Principal


def presented_key(header: str | None) -> str | None:
    """The key in an Authorization header, with or without the ``Bearer`` scheme."""
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    key = rest.strip() if scheme.lower() == "bearer" else header.strip()
    return key or None


def is_bootstrap_key(key: str, keys: Iterable[str]) -> bool:
    """Whether ``key`` is one of the configured keys (``JOBGATE_API_KEYS``)."""
    found = False
    for candidate in keys:
        # Compare against every key so timing does not reveal which one matched.
        found |= hmac.compare_digest(candidate.encode(), key.encode())
    return found


def authenticate(header: str | None, bootstrap_keys: Iterable[str], store: KeyStore) -> Principal:
    """Who sent this Authorization header: a bootstrap key, a stored key, or Unauthorized."""
    key = presented_key(header)
    if key is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    if is_bootstrap_key(key, bootstrap_keys):
        return BOOTSTRAP
    principal = store.find(key)
    if principal is None:
        raise Unauthorized("invalid API key")
    return principal
