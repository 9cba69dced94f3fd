"""Example handlers shipped with jobgate, served as the ``echo`` and ``echo-stream`` endpoints."""
from __future__ import annotations

import os
import signal
import time
from typing import Any, Iterator


def echo(job: dict[str, Any]) -> dict[str, Any]:
    """Return the input; ``sleep`` (s) waits first, ``fail`` (str) raises RuntimeError,
    ``crash`` (true) then kills this process outright, as an OOM kill or a segfault would."""
    data = job["input"]
    params = data if isinstance(data, dict) else {}
    if params.get("sleep"):
        time.sleep(float(params["sleep"]))
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
