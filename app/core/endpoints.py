"""Endpoint registry: the endpoints TOML file, read once into typed records."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .contract import VISIBILITY_MARGIN_S, queue_name, time_limits
from .limits import DEFAULT_LIMITS, UNLISTED, Operation, OperationLimit, parse_limits
from .settings import DEFAULT_EXECUTION_TIMEOUT_MS, MAX_EXECUTION_TIMEOUT_MS, ConfigError, Settings

ENDPOINT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class EndpointConfigError(ConfigError):
    """The endpoints file is missing, malformed or inconsistent."""


# Jobs at once in one worker process; jobs per batch call; how long a batch gathers.
MAX_CONCURRENCY_RANGE = (1, 1000)
BATCH_SIZE_RANGE = (1, 1000)
BATCH_WAIT_MS_RANGE = (0, 60_000)


@dataclass(frozen=True)
class Batch:
    """Dynamic batching: the handler takes up to ``max_size`` jobs, gathered for ``wait_ms``."""

    max_size: int
    wait_ms: int


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
    limits: Mapping[Operation, OperationLimit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    # The longest policy.executionTimeout a job may ask for here.
    max_execution_timeout_ms: int = MAX_EXECUTION_TIMEOUT_MS
    # Pool process recycling (Celery's limits), against handlers that leak memory:
    # a process is replaced after this many jobs, or after a job leaves it above this RSS (KiB).
    max_tasks_per_child: int | None = None
    max_memory_per_child: int | None = None
    # Jobs one worker process runs at once (sharing its loaded handler), and dynamic batching.
    max_concurrency: int = 1
    batch: Batch | None = None

    @property
    def is_concurrent(self) -> bool:
        """Whether a worker process takes more than one job of this endpoint at once."""
        return self.max_concurrency > 1 or self.batch is not None

    @property
    def queue(self) -> str:
        """The Celery queue of this endpoint's jobs."""
        return queue_name(self.id)

    @property
    def queue_limit(self) -> int:
        """Queue depth past which submissions are refused (RunPod's rule)."""
        return self.max_queue if self.max_queue is not None else max(50, self.workers_max * 500)

    def limit(self, operation: Operation) -> OperationLimit:
        """Rate, concurrency and body limits of one operation on this endpoint."""
        return self.limits.get(operation, UNLISTED)


_INTS = (
    "execution_timeout_ms",
    "workers_max",
    "concurrency",
    "max_queue",
    "max_execution_timeout_ms",
    "max_tasks_per_child",
    "max_memory_per_child",
)
_KNOWN = {"handler", "limits", "max_concurrency", "batch", *_INTS}
_BATCH_KEYS = ("max_size", "wait_ms")


def _ranged(value: Any, bounds: tuple[int, int], where: str, key: str) -> int:
    low, high = bounds
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise EndpointConfigError(f"{where} {key} must be an integer from {low} to {high}, not {value!r}")
    return value


def _batch(value: Any, where: str) -> Batch:
    if not isinstance(value, Mapping):
        raise EndpointConfigError(f"{where} batch must be a table such as {{ max_size = 32, wait_ms = 10 }}")
    unknown = sorted(set(value) - set(_BATCH_KEYS))
    if unknown:
        raise EndpointConfigError(
            f"{where} has unknown key 'batch.{unknown[0]}'; known keys: batch.max_size, batch.wait_ms"
        )
    if "max_size" not in value:
        raise EndpointConfigError(f"{where} batch.max_size is required")
    return Batch(
        max_size=_ranged(value["max_size"], BATCH_SIZE_RANGE, where, "batch.max_size"),
        wait_ms=_ranged(value.get("wait_ms", 0), BATCH_WAIT_MS_RANGE, where, "batch.wait_ms"),
    )


def _endpoint(eid: str, table: Mapping[str, Any], base_dir: Path, source: str = "the endpoints file") -> Endpoint:
    if not ENDPOINT_ID.match(eid):
        raise EndpointConfigError(f"{source}: endpoint id {eid!r} must match {ENDPOINT_ID.pattern}")
    if not isinstance(table, Mapping) or not isinstance(table.get("handler"), str):
        raise EndpointConfigError(f'{source}: [endpoints.{eid}] needs handler = "module:function"')
    unknown = sorted(set(table) - _KNOWN)
    if unknown:
        raise EndpointConfigError(
            f"{source}: [endpoints.{eid}] has unknown key {unknown[0]!r}; known keys: {', '.join(sorted(_KNOWN))}"
        )
    ints = {}
    for name in _INTS:
        if name in table:
            value = table[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise EndpointConfigError(f"{source}: [endpoints.{eid}] {name} must be a positive integer")
            ints[name] = value
    for name, default in (
        ("execution_timeout_ms", DEFAULT_EXECUTION_TIMEOUT_MS),
        ("max_execution_timeout_ms", MAX_EXECUTION_TIMEOUT_MS),
    ):
        if not 5_000 <= ints.get(name, default) <= MAX_EXECUTION_TIMEOUT_MS:
            raise EndpointConfigError(f"{source}: [endpoints.{eid}] {name} must be 5 s to 7 days")
    cap = ints.get("max_execution_timeout_ms", MAX_EXECUTION_TIMEOUT_MS)
    if "execution_timeout_ms" not in ints:
        ints["execution_timeout_ms"] = min(DEFAULT_EXECUTION_TIMEOUT_MS, cap)
    elif ints["execution_timeout_ms"] > cap:
        raise EndpointConfigError(f"{source}: [endpoints.{eid}] execution_timeout_ms is above max_execution_timeout_ms")
    try:
        limits = parse_limits(table.get("limits"), f"{source}: [endpoints.{eid}.limits]")
    except ValueError as exc:
        raise EndpointConfigError(str(exc)) from exc
    where = f"{source}: [endpoints.{eid}]"
    max_concurrency = _ranged(table.get("max_concurrency", 1), MAX_CONCURRENCY_RANGE, where, "max_concurrency")
    batch = _batch(table["batch"], where) if "batch" in table else None
    return Endpoint(
        id=eid,
        handler=table["handler"],
        base_dir=base_dir,
        limits=limits,
        max_concurrency=max_concurrency,
        batch=batch,
        **ints,
    )


class Registry:
    """The endpoints of one endpoints file, by id."""

    def __init__(self, endpoints: Mapping[str, Endpoint], path: Path | None = None):
        self._endpoints = dict(endpoints)
        self.path = path

    @classmethod
    def load(cls, path: str | Path) -> Registry:
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
        return cls({eid: _endpoint(eid, t, path.parent, str(path)) for eid, t in tables.items()}, path)

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
        """The longest execution timeout any job of these endpoints may get."""
        return max(e.max_execution_timeout_ms for e in self)


def required_visibility_s(registry: Registry) -> int:
    """The least visibility timeout under which no job of these endpoints can be redelivered
    while it may still run: the longest allowed execution timeout, its hard limit, a margin."""
    _, hard_s = time_limits(registry.max_execution_timeout_ms)
    return math.ceil(hard_s) + VISIBILITY_MARGIN_S


def visibility_timeout_s(registry: Registry, settings: Settings) -> int:
    """How long an unacknowledged message stays with its worker before the broker redelivers it.

    Refuses a configured value under ``required_visibility_s``: a long job would then be
    handed to a second worker while the first still runs it.
    """
    required = required_visibility_s(registry)
    chosen = settings.visibility_timeout_s or required
    if chosen < required:
        raise ConfigError(
            f"JOBGATE_VISIBILITY_TIMEOUT_S={chosen} is too short: jobs of these endpoints may run "
            f"{registry.max_execution_timeout_ms} ms, so it must be at least {required} s"
        )
    return chosen
