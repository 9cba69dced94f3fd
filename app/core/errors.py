"""One error family, rendered as one JSON shape: ``{"error": message, "code": status, ...}``."""

from __future__ import annotations

from typing import Any


class JobgateError(Exception):
    """Base of every error the gateway answers with."""

    status = 500

    def __init__(self, message: str, *, errors: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.message, "code": self.status}
        if self.errors:
            body["errors"] = self.errors
        return body


class BadRequest(JobgateError):
    """The request is malformed or a field is invalid."""

    status = 400


class Unauthorized(JobgateError):
    """No key, or a key that is not known."""

    status = 401


class Forbidden(JobgateError):
    """The key is known but may not do this."""

    status = 403


class NotFound(JobgateError):
    """Unknown endpoint, or a job that is unknown, purged or expired."""

    status = 404


class JobNotFound(NotFound):
    """A job id that is unknown, or whose record is gone (the message then says when and why)."""

    def __init__(self, job_id: str, message: str | None = None, fields: dict[str, Any] | None = None):
        super().__init__(message or f"job {job_id} not found")
        self.job_id = job_id
        self.fields = fields or {}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), **self.fields}


class Conflict(JobgateError):
    """The request contradicts an earlier one (an Idempotency-Key sent with another body)."""

    status = 409


class PayloadTooLarge(JobgateError):
    """The request body is over the operation's cap."""

    status = 413


class TooManyRequests(JobgateError):
    """A rate, concurrency or queue-depth limit was hit."""

    status = 429


class ServiceUnavailable(JobgateError):
    """Redis (or the broker) cannot be reached; try again later."""

    status = 503
