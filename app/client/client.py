"""jobgate's own Python client: typed, synchronous, one method per API operation.

from app.client import Client
client = Client("http://127.0.0.1:8000", key="dev")
job = client.run("echo", {"x": 1})
job = client.wait("echo", job.id)        # follows it to the end
print(job.status, job.output)
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from ..core.states import TERMINAL

DEFAULT_URL = "http://127.0.0.1:8000"
TERMINAL_STATES = frozenset(s.value for s in TERMINAL)
# How long one status-sync or stream call holds while following a job (the API's minimum).
FOLLOW_POLL_MS = 1000
CONNECT_TIMEOUT_S = 5.0
# Read timeout beyond a held call's own wait.
READ_MARGIN_S = 30.0
_UNSET: Any = object()
# The gateway's longest silence on an event stream (app/api/waiting.py IDLE_S): a keepalive follows.
EVENTS_IDLE_S = 15.0


class _NotEvents(Exception):
    """The gateway answered /status with JSON: it has no status events."""


class ClientError(Exception):
    """Base of the client's errors."""


class ApiError(ClientError):
    """The gateway answered with an error status; ``message`` is its ``error`` text."""

    def __init__(self, status: int, message: str, body: Any = None):
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.body = body


class GatewayUnreachable(ClientError):
    """No answer from the gateway (refused, unresolvable, or timed out)."""


class WaitTimeout(ClientError):
    """The job did not end within the time the caller was ready to wait."""

    def __init__(self, job: Job, waited_s: float):
        super().__init__(f"job {job.id} still {job.status} after {waited_s:.0f} s")
        self.job = job


@dataclass(frozen=True)
class Job:
    """A job as the gateway reports it (``raw`` is the reply as sent)."""

    id: str
    status: str
    output: Any = None
    error: str | None = None
    delay_time_ms: int | None = None
    execution_time_ms: int | None = None
    worker_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_reply(cls, body: Mapping[str, Any]) -> Job:
        return cls(
            id=body["id"],
            status=body["status"],
            output=body.get("output"),
            error=body.get("error"),
            delay_time_ms=body.get("delayTime"),
            execution_time_ms=body.get("executionTime"),
            worker_id=body.get("workerId"),
            raw=dict(body),
        )

    @property
    def has_output(self) -> bool:
        return "output" in self.raw

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATES

    @property
    def succeeded(self) -> bool:
        return self.status == "COMPLETED"


@dataclass(frozen=True)
class StreamBatch:
    """One /stream reply: the job's status and the chunks not handed out before."""

    id: str
    status: str
    chunks: list[Any]

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATES


class Client:
    """Talks to one jobgate gateway with one API key."""

    def __init__(self, url: str = DEFAULT_URL, key: str | None = None, session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.session = session or requests.Session()
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    @classmethod
    def from_env(cls, url: str | None = None, key: str | None = None) -> Client:
        """A client for ``url`` or ``JOBGATE_URL``, with ``key`` or ``JOBGATE_API_KEY``."""
        return cls(
            url or os.environ.get("JOBGATE_URL") or DEFAULT_URL, key or os.environ.get("JOBGATE_API_KEY") or None
        )

    # -- transport --------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = _UNSET,
        params: Mapping[str, Any] | None = None,
        hold_ms: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        url = f"{self.url}/v2/{path}"
        try:
            r = self.session.request(
                method,
                url,
                params=params,
                headers=headers,
                json=None if body is _UNSET else body,
                timeout=(CONNECT_TIMEOUT_S, hold_ms / 1000 + READ_MARGIN_S),
            )
        except requests.RequestException as exc:
            raise GatewayUnreachable(f"cannot reach the gateway at {self.url}: {_reason(exc)}") from exc
        try:
            data = r.json()
        except ValueError:
            data = None
        if r.status_code >= 400:
            message = data.get("error") if isinstance(data, dict) else None
            raise ApiError(r.status_code, message or r.reason or "error", data)
        if data is None:
            raise ApiError(r.status_code, "the gateway answered with something other than JSON")
        return data

    # -- operations ---------------------------------------------------------------
    def run(
        self,
        endpoint: str,
        job_input: Any,
        *,
        webhook: str | None = None,
        policy: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Submit a job; returns at once with its id (status IN_QUEUE). With ``idempotency_key``,
        sending the same submission again answers the same job (safe to retry)."""
        return Job.from_reply(
            self._call(
                "POST",
                f"{endpoint}/run",
                body=_submission(job_input, webhook, policy),
                headers=_idempotency(idempotency_key),
            )
        )

    def runsync(
        self,
        endpoint: str,
        job_input: Any,
        *,
        wait_ms: int | None = None,
        webhook: str | None = None,
        policy: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Submit and hold until the job ends or ``wait_ms`` (gateway default 90 s) passes. With
        ``idempotency_key``, a call sent again after a lost connection waits for the same job."""
        params = {"wait": wait_ms} if wait_ms else None
        return Job.from_reply(
            self._call(
                "POST",
                f"{endpoint}/runsync",
                params=params,
                body=_submission(job_input, webhook, policy),
                hold_ms=wait_ms or 300_000,
                headers=_idempotency(idempotency_key),
            )
        )

    def status(self, endpoint: str, job_id: str) -> Job:
        """The job's state, timings and output or error."""
        return Job.from_reply(self._call("GET", f"{endpoint}/status/{job_id}"))

    def status_sync(self, endpoint: str, job_id: str, wait_ms: int = FOLLOW_POLL_MS) -> Job:
        """Like ``status``, but held until the job ends or ``wait_ms`` passes."""
        return Job.from_reply(
            self._call("GET", f"{endpoint}/status-sync/{job_id}", params={"wait": wait_ms}, hold_ms=wait_ms)
        )

    def stream(self, endpoint: str, job_id: str, wait_ms: int | None = None) -> StreamBatch:
        """The chunks streamed since the last call (each is handed out once)."""
        params = {"wait": wait_ms} if wait_ms else None
        body = self._call("GET", f"{endpoint}/stream/{job_id}", params=params, hold_ms=wait_ms or 0)
        return StreamBatch(
            id=body.get("id", job_id), status=body["status"], chunks=[c.get("output") for c in body.get("stream", [])]
        )

    def cancel(self, endpoint: str, job_id: str) -> Job:
        """Cancel a queued or running job; a finished job is reported as it is."""
        return Job.from_reply(self._call("POST", f"{endpoint}/cancel/{job_id}"))

    def retry(self, endpoint: str, job_id: str) -> Job:
        """Queue a FAILED or TIMED_OUT job again (same id, same input)."""
        return Job.from_reply(self._call("POST", f"{endpoint}/retry/{job_id}"))

    def purge(self, endpoint: str) -> int:
        """Drop the endpoint's queued jobs; returns how many were removed."""
        return int(self._call("POST", f"{endpoint}/purge-queue")["removed"])

    def health(self, endpoint: str) -> dict[str, dict[str, int]]:
        """Job counts and workers by state: ``{"jobs": {...}, "workers": {...}}``."""
        return self._call("GET", f"{endpoint}/health")

    # -- following a job -------------------------------------------------------------
    def wait(
        self,
        endpoint: str,
        job_id: str,
        *,
        timeout_s: float | None = None,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        """Follow a job until it ends; ``on_update`` sees each change (state, every progress value).

        Follows /status as Server-Sent Events (one event per change); a gateway that answers JSON
        instead is polled with status-sync. Raises WaitTimeout when ``timeout_s`` passes first.
        """
        started = time.monotonic()
        latest: Job | None = None
        while True:
            remaining = None if timeout_s is None else timeout_s - (time.monotonic() - started)
            if remaining is not None and remaining <= 0:
                raise WaitTimeout(latest or self.status(endpoint, job_id), time.monotonic() - started)
            try:
                for job in self._status_events(endpoint, job_id, remaining):
                    latest = job
                    if on_update:
                        on_update(job)
                    if job.terminal:
                        return job
                    if timeout_s is not None and time.monotonic() - started >= timeout_s:
                        raise WaitTimeout(job, time.monotonic() - started)
            except _NotEvents:
                return self._poll(endpoint, job_id, started, timeout_s, on_update)
            except (requests.ConnectionError, requests.Timeout):
                continue  # a dropped or quiet connection: follow again (the timeout is checked first)

    def _status_events(self, endpoint: str, job_id: str, remaining_s: float | None) -> Iterator[Job]:
        """The job now and at each change, as /status's Server-Sent Events."""
        url = f"{self.url}/v2/{endpoint}/status/{job_id}"
        # The gateway sends a keepalive at least every IDLE_S: a longer silence is a lost connection.
        read_s = EVENTS_IDLE_S + 5 if remaining_s is None else min(EVENTS_IDLE_S + 5, remaining_s + 0.5)
        try:
            r = self.session.get(
                url, headers={"Accept": "text/event-stream"}, stream=True, timeout=(CONNECT_TIMEOUT_S, read_s)
            )
        except requests.RequestException as exc:
            if isinstance(exc, requests.Timeout):
                raise
            raise GatewayUnreachable(f"cannot reach the gateway at {self.url}: {_reason(exc)}") from exc
        with r:
            if r.status_code >= 400 or not r.headers.get("Content-Type", "").startswith("text/event-stream"):
                if r.status_code >= 400:
                    data = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else None
                    message = data.get("error") if isinstance(data, dict) else None
                    raise ApiError(r.status_code, message or r.reason or "error", data)
                raise _NotEvents
            name, data_lines = "message", list[str]()
            for raw in r.iter_lines():
                line = raw.decode() if isinstance(raw, bytes) else raw
                if line == "":
                    if data_lines:
                        body = json.loads("\n".join(data_lines))
                        if name == "error":
                            raise ApiError(int(body.get("code", 404)), body.get("error", "error"), body)
                        if name == "status":
                            yield Job.from_reply(body)
                    name, data_lines = "message", []
                elif line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    data_lines.append(line[5:].lstrip())

    def _poll(
        self,
        endpoint: str,
        job_id: str,
        started: float,
        timeout_s: float | None,
        on_update: Callable[[Job], None] | None,
    ) -> Job:
        """Follow a job with status-sync calls (a gateway without status events)."""
        while True:
            job = self.status_sync(endpoint, job_id, FOLLOW_POLL_MS)
            if on_update:
                on_update(job)
            if job.terminal:
                return job
            if timeout_s is not None and time.monotonic() - started >= timeout_s:
                raise WaitTimeout(job, time.monotonic() - started)

    def requests(
        self, endpoint: str, *, status: list[str] | None = None, limit: int = 50, cursor: str | None = None
    ) -> dict[str, Any]:
        """A page of the endpoint's jobs, newest first: ``{"requests": [...], "nextCursor": ...}``."""
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = ",".join(status)
        if cursor:
            params["cursor"] = cursor
        return self._call("GET", f"{endpoint}/requests", params=params)

    def workers(self, endpoint: str) -> list[dict[str, Any]]:
        """The endpoint's live workers (id, host, GPU, state, current job, last heartbeat)."""
        return list(self._call("GET", f"{endpoint}/workers")["workers"])

    def iter_stream(
        self,
        endpoint: str,
        job_id: str,
        *,
        timeout_s: float | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> Iterator[Any]:
        """Yield the job's chunks as they arrive, until it has ended and nothing is left."""
        started = time.monotonic()
        while True:
            batch = self.stream(endpoint, job_id, wait_ms=FOLLOW_POLL_MS)
            if on_status:
                on_status(batch.status)
            yield from batch.chunks
            if batch.terminal and not batch.chunks:
                return
            if timeout_s is not None and time.monotonic() - started >= timeout_s:
                raise WaitTimeout(self.status(endpoint, job_id), time.monotonic() - started)


def _reason(exc: requests.RequestException) -> str:
    """A short cause for a failed request ("connection refused", "timed out")."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    return found.group(1).strip().lower() if found else type(exc).__name__


def _idempotency(key: str | None) -> dict[str, str] | None:
    return {"Idempotency-Key": key} if key is not None else None


def _submission(job_input: Any, webhook: str | None, policy: Mapping[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"input": job_input}
    if webhook:
        body["webhook"] = webhook
    if policy:
        body["policy"] = dict(policy)
    return body
