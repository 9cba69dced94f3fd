"""Endpoint registry: the endpoints TOML file, read once into typed records."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from .ratelimit import DEFAULT_LIMITS, UNLISTED, OperationLimit, parse_limits
from .settings import DEFAULT_EXECUTION_TIMEOUT_MS

ENDPOINT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
QUEUE_PREFIX = "jobgate."


class EndpointConfigError(ValueError):
    """The endpoints file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Endpoint:
    """One endpoint: a handler, its Celery queue and its limits."""

    id: str
    handler: str
    base_dir: Path
    execution_timeout_ms: int = DEFAULT_EXECUTION_TIMEOUT_MS
    workers_max: int = 1
    concurrency: int = 1
    max_queue: int | None = None
    limits: Mapping[str, OperationLimit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def queue(self) -> str:
        return QUEUE_PREFIX + self.id

    @property
    def queue_limit(self) -> int:
        """Queue depth past which submissions are refused (RunPod's rule)."""
        return self.max_queue if self.max_queue is not None else max(50, self.workers_max * 500)

    def limit(self, operation: str) -> OperationLimit:
        """Rate, concurrency and body limits of one operation (view name) on this endpoint."""
        return self.limits.get(operation, UNLISTED)


_KNOWN = {"handler", "execution_timeout_ms", "workers_max", "concurrency", "max_queue", "limits"}


def _endpoint(eid: str, table: Mapping[str, Any], base_dir: Path) -> Endpoint:
    if not ENDPOINT_ID.match(eid):
        raise EndpointConfigError(f"endpoint id {eid!r} must match {ENDPOINT_ID.pattern}")
    if not isinstance(table, Mapping) or not isinstance(table.get("handler"), str):
        raise EndpointConfigError(f"[endpoints.{eid}] needs handler = \"module:function\"")
    ints = {}
    for name in ("execution_timeout_ms", "workers_max", "concurrency", "max_queue"):
        if name in table:
            value = table[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise EndpointConfigError(f"[endpoints.{eid}] {name} must be a positive integer")
            ints[name] = value
    if not 5_000 <= ints.get("execution_timeout_ms", DEFAULT_EXECUTION_TIMEOUT_MS) <= 7 * 86_400_000:
        raise EndpointConfigError(f"[endpoints.{eid}] execution_timeout_ms must be 5 s to 7 days")
    try:
        limits = parse_limits(table.get("limits"), f"[endpoints.{eid}.limits]")
    except ValueError as exc:
        raise EndpointConfigError(str(exc)) from exc
    options = {k: v for k, v in table.items() if k not in _KNOWN}
    return Endpoint(id=eid, handler=table["handler"], base_dir=base_dir, limits=limits, options=options,
                    **ints)


class Registry:
    """The endpoints of one endpoints file, by id."""

    def __init__(self, endpoints: Mapping[str, Endpoint], path: Path | None = None):
        self._endpoints = dict(endpoints)
        self.path = path

    @classmethod
    def load(cls, path: str | Path) -> "Registry":
        """Read and check an endpoints file."""
        path = Path(path).resolve()
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError as exc:
            raise EndpointConfigError(f"endpoints file {path} not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise EndpointConfigError(f"endpoints file {path}: {exc}") from exc
        tables = data.get("endpoints")
        if not isinstance(tables, Mapping) or not tables:
            raise EndpointConfigError(f"endpoints file {path} defines no [endpoints.<id>] table")
        return cls({eid: _endpoint(eid, t, path.parent) for eid, t in tables.items()}, path)

    def get(self, eid: str) -> Endpoint | None:
        return self._endpoints.get(eid)

    def __getitem__(self, eid: str) -> Endpoint:
        return self._endpoints[eid]

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self._endpoints.values())

    def __contains__(self, eid: object) -> bool:
        return eid in self._endpoints

    def ids(self) -> list[str]:
        return list(self._endpoints)

    @property
    def max_execution_timeout_ms(self) -> int:
        return max(e.execution_timeout_ms for e in self)
