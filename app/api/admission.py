"""Admission control: the one hook every ``/v2`` request passes before its view runs.

In order: the key (401), the endpoint (404), the key's scopes (403), the body cap (413),
the rate limit, the queue depth and the concurrency limit (429). Views know nothing of
it beyond naming their operation (``Blueprint.operation``); its limits come from the endpoint.
A concurrency slot is given back in ``teardown_request``, which Flask runs on every
way out of a request: a response, an error, a timeout, or a greenlet killed while waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app, g, request

from ..core.errors import Forbidden, PayloadTooLarge, TooManyRequests, Unauthorized
from ..core.limits import SUBMITTING, Operation, OperationLimit
from ..store.apikeys import Principal
from . import metrics
from .auth import authenticate, presented_key
from .gateway import Gateway, current_gateway

log = logging.getLogger(__name__)

# How long a caller refused for a full queue should wait before trying again.
QUEUE_FULL_RETRY_AFTER_S = 10


def install(app: Flask) -> None:
    """Register the admission hook and the slot release on ``app``."""
    unnamed = [
        name for name, view in app.view_functions.items() if _takes_endpoint(app, name) and operation_of(view) is None
    ]
    if unnamed:
        raise RuntimeError(f"views without an operation (Blueprint.operation): {', '.join(sorted(unnamed))}")
    app.before_request(admit)
    app.teardown_request(release)


def _takes_endpoint(app: Flask, view_name: str) -> bool:
    rules: Iterator[Any] = app.url_map.iter_rules(view_name)
    return any("endpoint_id" in rule.arguments for rule in rules)


def operation_of(view: Any) -> Operation | None:
    """The operation a view serves, as it declared it."""
    return getattr(view, "operation", None)


def admit() -> None:
    """Admit or refuse the request about to run (Flask's before_request)."""
    if not request.path.startswith("/v2/"):
        return
    gw = current_gateway()
    g.principal = _authenticate(gw)
    # No view (Flask answers 404/405 itself), or a CORS preflight: nothing to count.
    view_args = request.view_args or {}
    if request.endpoint is None or request.method == "OPTIONS" or "endpoint_id" not in view_args:
        return
    operation = operation_of(current_app.view_functions[request.endpoint])
    assert operation is not None  # checked for every view in install()
    endpoint = gw.endpoint(view_args["endpoint_id"])
    if not g.principal.may(endpoint.id, operation):
        raise Forbidden(f"this key may not call {operation} on endpoint {endpoint.id!r}")
    limit = endpoint.limit(operation)
    cap_body(limit)
    try:
        if gw.settings.rate_limits:
            gw.limiter.hit(endpoint.id, operation, limit)
        if operation in SUBMITTING and gw.store.queue_depth(endpoint.id) >= endpoint.queue_limit:
            raise TooManyRequests(
                f"endpoint {endpoint.id!r} has {endpoint.queue_limit} jobs queued, its limit; retry later",
                headers={"Retry-After": str(QUEUE_FULL_RETRY_AFTER_S)},
            )
        if gw.settings.rate_limits:
            g.slot = gw.limiter.acquire(endpoint.id, operation, limit)
    except TooManyRequests:
        metrics.rate_limited(endpoint.id, operation)
        raise


def _authenticate(gw: Gateway) -> Principal:
    """The request's principal; a wrong key counts against its address (429 past the limit).

    Only a presented key that is wrong counts: a missing one is no guess, and a right one is
    never counted nor slowed, even from an address that is being refused.
    """
    header = request.headers.get("Authorization")
    try:
        return authenticate(header, gw.settings.api_keys, gw.apikeys)
    except Unauthorized:
        if presented_key(header) is not None:
            settings = gw.settings
            gw.limiter.count_auth_failure(
                request.remote_addr or "unknown", settings.auth_failures, settings.auth_failure_window_s
            )
        raise


def cap_body(limit: OperationLimit) -> None:
    """Refuse a body over the operation's cap before any of it is read."""
    cap = limit.max_body_bytes
    length = request.content_length
    if length is not None:
        if length > cap:
            raise PayloadTooLarge(f"body: {length} bytes is over this operation's cap of {cap} bytes")
    elif request.environ.get("wsgi.input_terminated"):
        # A chunked body has no length up front: count it as it is read.
        request.environ["wsgi.input"] = CappedInput(request.environ["wsgi.input"], cap)


class CappedInput:
    """A WSGI input stream that raises PayloadTooLarge once more than ``cap`` bytes were read.

    (werkzeug's own limit silently truncates a chunked body at the cap, which would
    turn an oversized body into a 400 for malformed JSON.)
    """

    CHUNK = 64 * 1024

    def __init__(self, stream: Any, cap: int):
        self._stream = stream
        self._cap = cap
        self._read = 0

    def _count(self, data: bytes) -> bytes:
        self._read += len(data)
        if self._read > self._cap:
            raise PayloadTooLarge(f"body: over this operation's cap of {self._cap} bytes")
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size >= 0:
            return self._count(self._stream.read(min(size, self._cap + 1 - self._read)))
        parts = []  # read(): in bounded chunks, never the whole stream at once
        while chunk := self._stream.read(min(self.CHUNK, self._cap + 1 - self._read) or 1):
            parts.append(self._count(chunk))
        return b"".join(parts)

    def readline(self, size: int | None = -1) -> bytes:
        room = self._cap + 1 - self._read
        return self._count(self._stream.readline(room if size is None or size < 0 else min(size, room)))

    def __iter__(self):
        return iter(self.readline, b"")


def release(_exc: BaseException | None = None) -> None:
    """Give the request's concurrency slot back (Flask's teardown_request)."""
    slot = g.pop("slot", None)
    if slot is None:
        return
    try:
        current_gateway().limiter.release(slot)
    except Exception as exc:  # the slot lapses by itself (SLOT_LEASE_S); never fail the response
        log.warning("could not release a concurrency slot (%s); it lapses by itself", exc)
