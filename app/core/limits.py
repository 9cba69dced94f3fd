"""Per-endpoint limits of each API operation: rate, concurrency and body size.

The defaults are the contract's table (section 5). An operation is named explicitly by the
view that serves it (``Operation``), never derived from a function name, so renaming a view
cannot silently change its limits or the scopes a key needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any


class Operation(str, Enum):
    """Every operation the gateway serves under ``/v2/<endpoint_id>/``."""

    RUN = "run"
    RUNSYNC = "runsync"
    STATUS = "status"
    STATUS_SYNC = "status_sync"
    STREAM = "stream"
    CANCEL = "cancel"
    RETRY = "retry"
    PURGE_QUEUE = "purge_queue"
    HEALTH = "health"
    OPENAI = "openai"
    REQUESTS = "requests"
    JOB = "job"
    TIMELINE = "timeline"
    WORKERS = "workers"

    def __str__(self) -> str:
        return self.value


# Operations that put a job on the endpoint's queue.
SUBMITTING = frozenset({Operation.RUN, Operation.RUNSYNC})
# Operations a read-only key may call: reading state, never changing it.
READ_ONLY = frozenset(
    {
        Operation.STATUS,
        Operation.STATUS_SYNC,
        Operation.STREAM,
        Operation.HEALTH,
        Operation.REQUESTS,
        Operation.JOB,
        Operation.TIMELINE,
    }
)

MIB = 1024 * 1024
WINDOW_S = 10
# Bodies of operations that read no body (status, cancel, ...) are refused past this.
DEFAULT_MAX_BODY_BYTES = 1 * MIB
# Longer than any request may last (runsync waits up to 300 s; gunicorn's timeout is 330 s).
SLOT_LEASE_S = 360
# How long a caller refused for a full concurrency slot set should wait before trying again.
SLOT_RETRY_AFTER_S = 1


@dataclass(frozen=True)
class OperationLimit:
    """The limits of one operation on one endpoint; 0 means no limit."""

    rate: int = 0
    window_s: int = WINDOW_S
    concurrent: int = 0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES


def _op(rate: int, concurrent: int = 0, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> OperationLimit:
    return OperationLimit(rate=rate, concurrent=concurrent, max_body_bytes=max_body_bytes)


# The contract's table (section 5). retry and health are not in it:
# retry gets cancel's limits, health only a rate.
DEFAULT_LIMITS: Mapping[Operation, OperationLimit] = {
    Operation.RUN: _op(1000, 200, 10 * MIB),
    Operation.RUNSYNC: _op(2000, 400, 20 * MIB),
    Operation.STATUS: _op(2000, 400),
    Operation.STATUS_SYNC: _op(2000, 400),
    Operation.STREAM: _op(2000, 400),
    Operation.CANCEL: _op(100, 20),
    Operation.RETRY: _op(100, 20),
    Operation.PURGE_QUEUE: _op(2),
    Operation.HEALTH: _op(2000),
    Operation.OPENAI: _op(2000, 400, 20 * MIB),
    Operation.REQUESTS: _op(10, 2),
    # The console's reads: one job with its input (as status), and the plots' minutes (as health).
    Operation.JOB: _op(2000, 400),
    Operation.TIMELINE: _op(2000),
}
# An operation missing from the table (a view added later) still gets the body cap.
UNLISTED = OperationLimit()


def parse_limits(table: Any, where: str) -> dict[Operation, OperationLimit]:
    """The defaults, with the overrides of an endpoint's ``limits`` table applied.

    ``table`` maps an operation (``run``, ``purge-queue``...) to some of ``rate``,
    ``window_s``, ``concurrent`` and ``max_body_bytes``; omitted fields keep their default.
    Raises ValueError naming the bad entry.
    """
    limits = dict(DEFAULT_LIMITS)
    if table is None:
        return limits
    if not isinstance(table, Mapping):
        raise ValueError(f"{where} must be a table of operations")
    names = {f.name for f in fields(OperationLimit)}
    for raw_op, values in table.items():
        op = _operation(raw_op)
        if op is None or op not in DEFAULT_LIMITS:
            raise ValueError(
                f"{where}: unknown operation {raw_op!r}; known: "
                f"{', '.join(o.value.replace('_', '-') for o in DEFAULT_LIMITS)}"
            )
        if not isinstance(values, Mapping):
            raise ValueError(f"{where}.{raw_op} must be a table such as {{ rate = 100, concurrent = 10 }}")
        for name, value in values.items():
            if name not in names:
                raise ValueError(f"{where}.{raw_op}: unknown field {name!r}; known: {', '.join(sorted(names))}")
            least = 1 if name in ("window_s", "max_body_bytes") else 0
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"{where}.{raw_op}.{name} must be an integer >= {least}")
        limits[op] = replace(limits[op], **values)
    return limits


def _operation(name: str) -> Operation | None:
    try:
        return Operation(name.replace("-", "_"))
    except ValueError:
        return None
