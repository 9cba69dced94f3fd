"""Run one handler call: plain, async, generator or async generator, with RunPod's result rules."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.core.job import MISSING
from app.core.strictjson import encode

# Runs ``emit(chunk)`` elsewhere (a thread) and awaits it.
Offload = Callable[[Callable[[Any], None], Any], Awaitable[Any]]


@dataclass
class Outcome:
    """What a handler call produced: output and/or an error, and whether to recycle the process."""

    output: Any = MISSING
    error: str | None = None
    refresh_worker: bool = False


def from_return(value: Any) -> Outcome:
    """A returned value as an Outcome (RunPod's rules for 'error' and 'refresh_worker')."""
    # RunPod: a returned dict may carry 'error' (job fails) and 'refresh_worker';
    # what remains is the output, dropped when nothing remains.
    if isinstance(value, dict) and ("error" in value or "refresh_worker" in value):
        rest = dict(value)
        error = rest.pop("error", None)
        refresh = bool(rest.pop("refresh_worker", False))
        output = rest if rest or error is None else MISSING
        return Outcome(output=output, error=None if error is None else _text(error), refresh_worker=refresh)
    return Outcome(output=value)


def _text(error: Any) -> str:
    if isinstance(error, str):
        return error
    # JSONRefused for an error object that is not JSON: the job fails saying so.
    encode(error, root="error")
    return json.dumps(error)  # as RunPod writes it (json's default separators)


def _chunk_error(chunk: Any) -> str | None:
    if isinstance(chunk, dict) and chunk.get("error"):
        return _text(chunk["error"])
    return None


def execute(
    handler: Callable[[dict[str, Any]], Any], job: dict[str, Any], emit: Callable[[Any], None], aggregate: bool = True
) -> Outcome:
    """Call ``handler(job)``; each streamed chunk goes to ``emit`` as it is produced.

    A generator's output is the list of its chunks when ``aggregate`` is true.
    Exceptions from the handler propagate to the caller.
    """
    result = handler(job)
    if inspect.isawaitable(result):
        result = asyncio.run(_await(result))
    if inspect.isgenerator(result):
        return _drain(result, emit, aggregate)
    if inspect.isasyncgen(result):
        return asyncio.run(_drain_async(result, emit, aggregate))
    return from_return(result)


async def execute_async(
    handler: Callable[[dict[str, Any]], Any],
    job: dict[str, Any],
    emit: Callable[[Any], None],
    aggregate: bool = True,
    offload: Offload | None = None,
) -> Outcome:
    """``execute`` for an async handler, on the caller's event loop (shared by concurrent jobs).

    ``offload(emit, chunk)``, when given, writes an async generator's chunks off the loop (the
    generator waits for its own chunk, so the order holds), so other jobs go on meanwhile.
    """
    result = handler(job)
    if inspect.isawaitable(result):
        result = await result
    if inspect.isgenerator(result):
        return _drain(result, emit, aggregate)
    if inspect.isasyncgen(result):
        return await _drain_async(result, emit, aggregate, offload)
    return from_return(result)


async def _await(awaitable: Any) -> Any:
    return await awaitable


class _Chunks:
    """What the sync and async drains share: stop at an error chunk, else emit and collect."""

    def __init__(self, emit: Callable[[Any], None], aggregate: bool):
        self.emit = emit
        self.aggregate = aggregate
        self.collected: list[Any] = []

    def take(self, chunk: Any) -> Outcome | None:
        """None to go on; an Outcome when the stream must end here."""
        if (end := self.check(chunk)) is not None:
            return end
        self.emit(chunk)
        self.collected.append(chunk)
        return None

    def check(self, chunk: Any) -> Outcome | None:
        """An Outcome when this chunk ends the stream (an error chunk), else None."""
        error = _chunk_error(chunk)
        return None if error is None else Outcome(error=error)

    def outcome(self) -> Outcome:
        return Outcome(output=self.collected if self.aggregate else [])


def _drain(chunks: Any, emit: Callable[[Any], None], aggregate: bool) -> Outcome:
    taken = _Chunks(emit, aggregate)
    try:
        for chunk in chunks:
            if (end := taken.take(chunk)) is not None:
                return end
    finally:
        # Stopped, refused or failed: the generator's own finally blocks run now.
        chunks.close()
    return taken.outcome()


async def _drain_async(
    chunks: Any, emit: Callable[[Any], None], aggregate: bool, offload: Offload | None = None
) -> Outcome:
    taken = _Chunks(emit, aggregate)
    try:
        async for chunk in chunks:
            if offload is None:
                if (end := taken.take(chunk)) is not None:
                    return end
                continue
            if (end := taken.check(chunk)) is not None:
                return end
            await offload(emit, chunk)
            taken.collected.append(chunk)
    finally:
        await chunks.aclose()
    return taken.outcome()
