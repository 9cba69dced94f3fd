"""A RunPod handler file as people write them for RunPod (the test endpoints ``rp-*``)."""

import asyncio
import os

import runpod
from runpod.serverless.utils.rp_validator import validate

SCHEMA = {
    "name": {"type": str, "required": True},
    "times": {"type": int, "required": False, "default": 1, "constraints": lambda n: 0 < n < 10},
}


def greet(job):
    checked = validate(job["input"], SCHEMA)
    if "errors" in checked:
        return {"error": checked["errors"]}
    args = checked["validated_input"]
    return {"greeting": " ".join(["hi " + args["name"]] * args["times"])}


def error_with_detail(job):
    return {"error": "bad input", "detail": job["input"]}


async def async_echo(job):
    await asyncio.sleep(0.01)
    return {"echo": job["input"]}


def chunks(job):
    for k in range(int(job["input"].get("chunks", 3))):
        yield {"chunk": k}


async def async_chunks(job):
    for k in range(int(job["input"].get("chunks", 3))):
        await asyncio.sleep(0.01)
        yield {"chunk": k}


def refresh_on_request(job):
    return {"pid": os.getpid(), "refresh_worker": True}


runpod.serverless.start({"handler": greet, "return_aggregate_stream": True})
