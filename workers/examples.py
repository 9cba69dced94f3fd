"""Example handlers shipped with jobgate, served as the ``echo``, ``echo-stream`` and ``echo-batch`` endpoints."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

from .progress import progress_update


def echo(job: dict[str, Any]) -> dict[str, Any]:
    """Return the input; ``sleep`` (s) waits first, ``fail`` (str) raises RuntimeError,
    ``crash`` (true) then kills this process outright, as an OOM kill or a segfault would.

    With ``progress`` (int n) it reports ``{"step": k, "of": n}`` for k = 1..n, sleeping
    ``sleep`` seconds after each, before returning.
    """
    data = job["input"]
    params = data if isinstance(data, dict) else {}
    pause = float(params.get("sleep") or 0)
    steps = int(params.get("progress") or 0)
    for k in range(1, steps + 1):
        progress_update(job, {"step": k, "of": steps})
        if pause:
            time.sleep(pause)
    if pause and not steps:
        time.sleep(pause)
    if params.get("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    if params.get("fail"):
        raise RuntimeError(str(params["fail"]))
    return {"echo": data}


def echo_stream(job: dict[str, Any]) -> Iterator[dict[str, int]]:
    """Yield ``chunks`` (default 3) values ``{"chunk": k}``, ``sleep`` seconds apart."""
    data = job["input"]
    params = data if isinstance(data, dict) else {}
    chunks = int(params.get("chunks", 3))
    pause = float(params.get("sleep", 0) or 0)
    for k in range(chunks):
        if k and pause:
            time.sleep(pause)
        yield {"chunk": k}


def echo_batch(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A batch handler (``batch = { max_size, wait_ms }``) standing in for one GPU step per call.

    The step costs the same whatever the batch size: it sleeps ``step_s`` once (the largest
    any job of the call asks for; default 0.05 s), then returns each job's input, in order.
    A job whose input has ``fail`` (str) fails alone.
    """
    params = [job["input"] if isinstance(job["input"], dict) else {} for job in jobs]
    time.sleep(max((float(p.get("step_s") or 0.05) for p in params), default=0.05))
    return [{"error": str(p["fail"])} if p.get("fail") else {"echo": job["input"]} for job, p in zip(jobs, params)]
