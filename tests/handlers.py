"""Tiny handlers, one per behaviour under test (loaded by file path from endpoints.toml)."""

import json
import math
import os
import threading
import time
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded

from workers import progress_update


def shout(job):
    return str(job["input"]).upper()


def stubborn(job):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            time.sleep(0.1)
        except SoftTimeLimitExceeded:
            pass
    return "never"


def unstoppable(job):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            time.sleep(0.1)
        except BaseException:  # noqa: B036 - swallowing the stop is the point
            pass
    return "never"


def late_progress(job):
    # An update that arrives after the job has ended must be ignored.
    threading.Timer(0.5, progress_update, (job, "late")).start()
    return "done"


def big_chunk(job):
    yield {"small": 1}
    yield "x" * (1024 * 1024 + 10)
    yield {"never": 1}


def touch(job):
    Path(job["input"]["path"]).touch()
    return "touched"


def flaky(job):
    # Fails the first time (leaving input.path behind), then returns its input after a pause.
    marker = Path(job["input"]["path"])
    if not marker.exists():
        marker.touch()
        raise RuntimeError("first attempt fails")
    time.sleep(float(job["input"].get("sleep", 0)))
    return job["input"]


async def async_sleeper(job):
    # Records that a stop reached it as asyncio.CancelledError, then lets it through.
    import asyncio

    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        Path(job["input"]["path"]).touch()
        raise
    return "slept"


def slow_openai(job):
    """A chat completion stream whose second chunk comes 3 s after the first."""
    head = {"id": "chatcmpl-slow", "object": "chat.completion.chunk", "created": 0, "model": "echo"}
    for k, word in enumerate(["first", " second"]):
        if k:
            time.sleep(3)
        yield {**head, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
    yield {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


def vllm_style(job):
    """Shaped like RunPod's vLLM worker: always a generator; ready-made SSE text when streaming."""
    body = job["input"]["openai_input"] or {}
    head = {"id": "chatcmpl-v", "object": "chat.completion.chunk", "created": 0, "model": "echo"}

    def event(delta, finish=None):
        chunk = {**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return "data: " + json.dumps(chunk) + "\n\n"

    if body.get("model") == "fail-midway":
        yield {**head, "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}]}
        yield {"error": "the engine died"}
    elif body.get("stream"):
        yield event({"role": "assistant", "content": "one"}) + event({"content": " two"})
        yield event({}, "stop") + "data: [DONE]\n\n"
    else:
        yield {
            "id": "chatcmpl-v",
            "object": "chat.completion",
            "created": 0,
            "model": "echo",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "one two"}, "finish_reason": "stop"}],
        }


# What this pool process saw when it imported this module, before any handler ran.
IMPORTED_WITH_GPUS = os.environ.get("CUDA_VISIBLE_DEVICES")


def visible_gpus(job):
    """The GPUs this process may use: at import and now, and which process it is."""
    params = job["input"] if isinstance(job["input"], dict) else {}
    time.sleep(float(params.get("sleep", 0)))
    return {
        "imported_with": IMPORTED_WITH_GPUS,
        "now": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "order": os.environ.get("CUDA_DEVICE_ORDER"),
        "pid": os.getpid(),
    }


def cuda_devices(job):
    """The GPUs CUDA itself shows this process (driver API through ctypes: no framework needed)."""
    import ctypes

    cuda = ctypes.CDLL("libcuda.so.1")
    assert cuda.cuInit(0) == 0
    count = ctypes.c_int()
    assert cuda.cuDeviceGetCount(ctypes.byref(count)) == 0
    uuids = []
    for ordinal in range(count.value):
        device, raw = ctypes.c_int(), (ctypes.c_ubyte * 16)()
        assert cuda.cuDeviceGet(ctypes.byref(device), ordinal) == 0
        assert cuda.cuDeviceGetUuid(raw, device) == 0
        h = bytes(raw).hex()
        uuids.append(f"GPU-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return {"uuids": uuids, "visible": os.environ.get("CUDA_VISIBLE_DEVICES")}


_hoard = []
_counter = None
# Test-only keys written by `counted`; they expire like everything else.
COUNTER_TTL_S = 3600


def _redis():
    global _counter
    if _counter is None:
        from redis import Redis

        _counter = Redis.from_url(os.environ["REDIS_URL"])
    return _counter


def counted(job):
    """Counts each run of a job, and each run that got to the end, in Redis; sleeps in between."""
    r, params = _redis(), job["input"]
    runs, finished = f"test:runs:{job['id']}", f"test:finished:{job['id']}"
    r.pipeline().incr(runs).expire(runs, COUNTER_TTL_S).execute()
    time.sleep(float(params.get("sleep", 0)))
    r.pipeline().incr(finished).expire(finished, COUNTER_TTL_S).execute()
    return {"n": params.get("n")}


def leaky(job):
    """Keeps ``input.mb`` megabytes alive in this process for good; returns the process id."""
    _hoard.append(bytearray(b"\x01") * (int(job["input"]["mb"]) << 20))
    return os.getpid()


def _count_call(job):
    # The test reads how many times the handler ran for this job from this file.
    calls = job["input"].get("calls")
    if calls:
        with open(calls, "a") as out:
            out.write(f"{job['id']} {os.getpid()}\n")


def _deep(levels):
    value = []
    for _ in range(levels):
        value = [value]
    return value


HOSTILE_OUTPUTS = {
    "bytes": lambda job: {"x": b"abc"},
    "set": lambda job: {"x": {1, 2}},
    "object": lambda job: object(),
    "nan": lambda job: {"loss": math.nan},
    "infinity": lambda job: [math.inf],
    "huge-int": lambda job: {"n": 10**5000},
    "deep": lambda job: _deep(5000),
    "circular": lambda job: _circular(),
    "big": lambda job: "x" * job["input"]["size"],
    "error-object": lambda job: {"error": {"detail": b"not json"}},
    "fine": lambda job: {"ok": True},
}


def _circular():
    loop = {"a": []}
    loop["a"].append(loop)
    return loop


def hostile(job):
    """Returns what input.kind names; ``progress-*`` kinds first report a NaN as progress."""
    _count_call(job)
    kind = job["input"]["kind"]
    if kind == "progress-nan":
        progress_update(job, {"p": math.nan})
        return "reached after a refused progress value"
    if kind == "progress-nan-thread":
        reporter = threading.Thread(target=progress_update, args=(job, {"p": math.nan}))
        reporter.start()
        reporter.join()
        time.sleep(10)  # the stop the refusal sends interrupts this
        return "reached after a refused progress value"
    return HOSTILE_OUTPUTS[kind](job)


def hostile_stream(job):
    """Streams one good chunk, then what input.kind names."""
    _count_call(job)
    yield {"n": 1}
    yield HOSTILE_OUTPUTS[job["input"]["kind"]](job)
    yield {"n": 3}


# -- many jobs per process (max_concurrency, batch): each says which job and which call it is ------


def _params(job):
    return job["input"] if isinstance(job["input"], dict) else {}


async def many_async(job):
    """An async handler: awaits ``sleep`` s; ``progress`` shows its own id first; ``fail`` raises;
    ``stubborn`` swallows cancellation (until ``sleep`` has passed)."""
    import asyncio

    params = _params(job)
    if params.get("progress"):
        progress_update(job, {"job": job["id"]})
    pause = float(params.get("sleep") or 0)
    if params.get("stubborn"):
        loop = asyncio.get_running_loop()
        end = loop.time() + pause
        while loop.time() < end:
            try:
                await asyncio.sleep(end - loop.time())
            except asyncio.CancelledError:
                pass
    else:
        await asyncio.sleep(pause)
    if params.get("fail"):
        raise RuntimeError(str(params["fail"]))
    return {"job": job["id"], "pid": os.getpid()}


def many_sync(job):
    """A plain handler run in a thread: sleeps ``sleep`` s in short steps, the rest as many_async."""
    params = _params(job)
    if params.get("progress"):
        progress_update(job, {"job": job["id"]})
    end = time.monotonic() + float(params.get("sleep") or 0)
    while time.monotonic() < end:
        time.sleep(0.01)
    if params.get("fail"):
        raise RuntimeError(str(params["fail"]))
    return {"job": job["id"], "pid": os.getpid()}


async def many_stream(job):
    """An async generator: ``chunks`` chunks naming their job, ``sleep`` s apart."""
    import asyncio

    params = _params(job)
    for k in range(int(params.get("chunks", 3))):
        await asyncio.sleep(float(params.get("sleep") or 0))
        yield {"job": job["id"], "k": k}


def batched(jobs):
    """A batch handler: each output names the call and its size. ``fail`` fails that job alone;
    ``raise`` (any job) raises for the whole call; ``short`` returns one output too few; ``sleep``;
    ``progress`` shows the job's own id on its /status first."""
    import uuid

    params = [_params(j) for j in jobs]
    for job, p in zip(jobs, params):
        if p.get("progress"):
            progress_update(job, {"job": job["id"]})
    time.sleep(max((float(p.get("sleep") or 0) for p in params), default=0))
    if any(p.get("raise") for p in params):
        raise RuntimeError("the whole batch failed")
    call = uuid.uuid4().hex
    outputs = [
        {"error": str(p["fail"])} if p.get("fail") else {"job": j["id"], "call": call, "size": len(jobs)}
        for j, p in zip(jobs, params)
    ]
    return outputs[:-1] if any(p.get("short") for p in params) else outputs


def batched_generator(jobs):
    """Not a valid batch handler: a generator."""
    yield from ()
