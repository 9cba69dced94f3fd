"""Settings: one object, read from ``JOBGATE_*`` environment variables.

Every default is a named constant here so the README table and the code agree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .redisurl import RedisUrlError, is_sentinel, parse_sentinel

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_PORT = 8000
# Loopback unless JOBGATE_HOST says otherwise: a development stack on a host with a public
# address must not take work from anyone (the deploy files bind 0.0.0.0 explicitly).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_ENDPOINTS_FILE = "endpoints.toml"
DEFAULT_RESULT_TTL_ASYNC_S = 30 * 60
DEFAULT_RESULT_TTL_SYNC_S = 60
DEFAULT_HEALTH_WINDOW_S = 30 * 60
DEFAULT_JOB_TTL_MS = 24 * 3600 * 1000
DEFAULT_EXECUTION_TIMEOUT_MS = 600_000
# The longest execution timeout anything may ask for (RunPod's policy.executionTimeout cap).
MAX_EXECUTION_TIMEOUT_MS = 7 * 86_400_000
DEFAULT_RUNSYNC_WAIT_MS = 90_000
DEFAULT_HEARTBEAT_S = 5
# How long an /openai/* call waits for its job to answer (or, streaming, to start) before a 504;
# the official openai client's own timeout is 600 s.
DEFAULT_OPENAI_WAIT_MS = 600_000
DEFAULT_KEY_PREFIX = "jg"
# Seconds between webhook attempts grow from this: 10 s, then 20 s (3 attempts in all).
DEFAULT_WEBHOOK_BACKOFF_S = 10
# Seconds a stopped handler (cancel, ttl) has to return before its pool process is killed.
DEFAULT_STOP_GRACE_S = 10
# Handler runs a job may get when its worker keeps dying under it.
DEFAULT_MAX_DELIVERIES = 3
# How long SIGTERM lets a worker's running jobs go on before they are requeued.
DEFAULT_WORKER_GRACE_S = 30
# How often the gateway looks for running jobs whose worker is gone (0: never).
DEFAULT_REAPER_INTERVAL_S = 10
# Redis connections one process may open (the gateway blocks for a free one past that).
DEFAULT_REDIS_MAX_CONNECTIONS = 128
# Nesting levels a request body or a handler's output may have (see app/core/strictjson.py).
DEFAULT_JSON_MAX_DEPTH = 1000
# A job's output as JSON: RunPod's SDK sends users to S3 past 20 MiB.
DEFAULT_MAX_OUTPUT_BYTES = 20 * 1024 * 1024
# Failed authentications one client address may make per window before it is answered 429.
DEFAULT_AUTH_FAILURES = 20
DEFAULT_AUTH_FAILURE_WINDOW_S = 10
# Replicas that must hold a new job before /run and /runsync answer (Redis WAIT); 0: no wait.
DEFAULT_REDIS_MIN_REPLICAS = 0
# How long an expired or purged job's id still answers "expired"/"purged" rather than "not found".
DEFAULT_TOMBSTONE_TTL_S = 24 * 3600
# Log lines: "json" (one JSON object per line) or "human" (what `make run` shows).
DEFAULT_LOG_FORMAT = "json"


class ConfigError(ValueError):
    """The settings or the endpoints file cannot work together; the process refuses to start."""


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything the gateway and the workers are configured by."""

    redis_url: str = DEFAULT_REDIS_URL
    api_keys: tuple[str, ...] = ()
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    endpoints_file: str = DEFAULT_ENDPOINTS_FILE
    result_ttl_async_s: int = DEFAULT_RESULT_TTL_ASYNC_S
    result_ttl_sync_s: int = DEFAULT_RESULT_TTL_SYNC_S
    health_window_s: int = DEFAULT_HEALTH_WINDOW_S
    job_ttl_ms: int = DEFAULT_JOB_TTL_MS
    runsync_wait_ms: int = DEFAULT_RUNSYNC_WAIT_MS
    heartbeat_s: int = DEFAULT_HEARTBEAT_S
    openai_wait_ms: int = DEFAULT_OPENAI_WAIT_MS
    key_prefix: str = DEFAULT_KEY_PREFIX
    redis_max_connections: int = DEFAULT_REDIS_MAX_CONNECTIONS
    log_level: str = "INFO"
    # Per-endpoint rate and concurrency limits (off only to measure their cost, see bench/).
    rate_limits: bool = True
    webhook_secret: str = field(default="", repr=False)
    webhook_backoff_s: int = DEFAULT_WEBHOOK_BACKOFF_S
    stop_grace_s: int = DEFAULT_STOP_GRACE_S
    log_format: str = DEFAULT_LOG_FORMAT
    # Default of `jobgate worker --gpus` ("all", "0,1", or empty for no pinning).
    gpus: str = ""
    # The GPU `--gpus slot` takes (0, 1, ...); under honcho, worker.N takes N-1 when unset.
    worker_slot: str = ""
    # A JSON list of this host's GPUs, used instead of asking NVML (tests, hosts without NVML).
    gpu_inventory: str = ""
    # Port of a worker's own Prometheus metrics; 0 leaves them off.
    worker_metrics_port: int = 0
    max_deliveries: int = DEFAULT_MAX_DELIVERIES
    worker_grace_s: int = DEFAULT_WORKER_GRACE_S
    reaper_interval_s: int = DEFAULT_REAPER_INTERVAL_S
    # 0: derived from the endpoints (the least that keeps a running job from being run twice).
    visibility_timeout_s: int = 0
    json_max_depth: int = DEFAULT_JSON_MAX_DEPTH
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    # CIDRs webhooks may go to besides public addresses, e.g. "127.0.0.0/8,10.1.0.0/16".
    webhook_allow_nets: str = ""
    # 0 turns the failed-authentication limit off.
    auth_failures: int = DEFAULT_AUTH_FAILURES
    auth_failure_window_s: int = DEFAULT_AUTH_FAILURE_WINDOW_S
    redis_min_replicas: int = DEFAULT_REDIS_MIN_REPLICAS
    tombstone_ttl_s: int = DEFAULT_TOMBSTONE_TTL_S

    def __post_init__(self) -> None:
        # A malformed Sentinel URL is a start-up error naming REDIS_URL, not a failure on first use.
        if is_sentinel(self.redis_url):
            try:
                parse_sentinel(self.redis_url)
            except RedisUrlError as exc:
                raise ConfigError(str(exc)) from None
        if self.redis_min_replicas < 0:
            raise ConfigError(f"JOBGATE_REDIS_MIN_REPLICAS={self.redis_min_replicas} must be 0 or more")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``REDIS_URL`` and ``JOBGATE_*`` variables, then apply overrides."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("REDIS_URL"):
            values["redis_url"] = env["REDIS_URL"]
        for f in fields(cls):
            if f.name == "redis_url":
                continue
            raw = env.get("JOBGATE_" + f.name.upper())
            if raw is None or raw == "":
                continue
            if f.name == "api_keys":
                values[f.name] = _split(raw)
            elif f.type == "int":
                values[f.name] = int(raw)
            elif f.type == "bool":
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            else:
                values[f.name] = raw
        settings = cls(**values)
        return settings.replace(**overrides) if overrides else settings

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed (``api_keys`` may be given as a string)."""
        if isinstance(changes.get("api_keys"), str):
            changes["api_keys"] = _split(changes["api_keys"])
        return replace(self, **changes)
