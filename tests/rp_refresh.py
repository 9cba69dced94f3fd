"""A RunPod handler file whose config asks for a fresh worker after every job."""

import os

import runpod


def handler(job):
    return {"pid": os.getpid()}


runpod.serverless.start({"handler": handler, "refresh_worker": True, "concurrency_modifier": lambda current: 4})
