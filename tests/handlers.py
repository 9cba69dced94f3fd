"""Tiny handlers, one per behaviour under test (loaded by file path from endpoints.toml)."""
import json
import time

from celery.exceptions import SoftTimeLimitExceeded


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
        yield {"id": "chatcmpl-v", "object": "chat.completion", "created": 0, "model": "echo",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "one two"},
                            "finish_reason": "stop"}]}
