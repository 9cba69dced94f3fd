"""A webhook's signature: what a receiver recomputes to trust the body."""

from __future__ import annotations

import hashlib
import hmac

from workers.webhooks import signature


def test_signature_is_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(b"s", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert signature("s", "1700000000", b"{}") == f"sha256={expected}"
