"""A RunPod handler file with a concurrency_modifier, as worker-vllm has one.

The modifier answers the number written in the file named by RP_MODIFIER_FILE, so a test
can change it while jobs run; the word ``raise`` there makes it raise.
"""

import asyncio
import os

import runpod


async def handler(job):
    await asyncio.sleep(float(job["input"].get("sleep", 0)))
    return {"job": job["id"]}


def modifier(current):
    text = open(os.environ["RP_MODIFIER_FILE"]).read().strip()
    if text == "raise":
        raise RuntimeError("modifier broken")
    return int(text)


runpod.serverless.start({"handler": handler, "concurrency_modifier": modifier})
