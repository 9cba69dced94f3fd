"""A handler whose output is not strict JSON fails its job at once, runs once, and is never run again.

Before, such an output escaped the outcome recording: the job stayed IN_PROGRESS, the reaper
sent its message again and the handler ran a second and a third time.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.helpers import wait_until

# What a reaper pass needs to see a job as lost (3 missed beats of 1 s) and requeue it.
REAPER_WOULD_HAVE_ACTED_S = 5


def run_hostile(api, kind: str, calls=None, endpoint: str = "hostile", **extra) -> dict:
    job_input = {"kind": kind, **extra}
    if calls is not None:
        job_input["calls"] = str(calls)
    r = api.post(f"/v2/{endpoint}/runsync", json={"input": job_input})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["status"] == "FAILED", body
    return body


def error_of(body: dict) -> dict:
    return json.loads(body["error"])


def runs(calls) -> int:
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def held_by_broker(redis, job_id: str) -> bool:
    """Whether the job's message is still unacknowledged or queued again."""
    messages = list(redis.hvals("unacked"))
    for queue in redis.scan_iter("jobgate.hostile*"):
        messages += redis.lrange(queue, 0, -1)
    return any(job_id in m for m in messages)


def test_a_handler_returning_bytes_fails_at_once_naming_the_path(api, tmp_path):
    body = run_hostile(api, "bytes", tmp_path / "calls")
    error = error_of(body)
    assert error["error_type"] == "OutputNotJSON"
    assert error["error_message"] == "output is not JSON: Object of type bytes is not JSON serializable at output['x']"
    assert {"hostname", "worker_id"} <= error.keys()
    assert "output" not in body
    # Recorded by the worker itself: from the handler's start to FAILED.
    assert body["executionTime"] < 1000


def test_a_handler_returning_bytes_runs_once_and_its_message_is_acknowledged(api, redis, tmp_path):
    calls = tmp_path / "calls"
    body = run_hostile(api, "bytes", calls)
    assert wait_until(lambda: not held_by_broker(redis, body["id"]), 10)
    time.sleep(REAPER_WOULD_HAVE_ACTED_S)
    assert runs(calls) == 1
    assert api.get(f"/v2/hostile/status/{body['id']}").get_json()["status"] == "FAILED"
    assert not held_by_broker(redis, body["id"])


@pytest.mark.parametrize(
    "kind, message",
    [
        ("set", "Object of type set is not JSON serializable at output['x']"),
        ("object", "Object of type object is not JSON serializable at output"),
        ("nan", "the float nan is not JSON (RFC 8259 has no NaN or Infinity) at output['loss']"),
        ("infinity", "the float inf is not JSON (RFC 8259 has no NaN or Infinity) at output[0]"),
        ("huge-int", "an integer of 5001 digits is over the limit of 4300 digits at output['n']"),
        ("deep", "nested deeper than 1000 levels at output[0][0][0][0][0][0]...(988 more)...[0][0][0][0][0][0]"),
        ("circular", "circular reference at output['a'][0]"),
    ],
)
def test_an_output_that_is_not_strict_json_fails_the_job_naming_the_problem(api, tmp_path, kind, message):
    calls = tmp_path / "calls"
    error = error_of(run_hostile(api, kind, calls))
    assert error["error_type"] == "OutputNotJSON"
    assert error["error_message"] == f"output is not JSON: {message}"
    assert runs(calls) == 1


def test_an_output_over_the_cap_fails_naming_its_size_and_the_cap(api):
    size = 20 * 1024 * 1024 + 1  # a string: its JSON has two quotes more
    error = error_of(run_hostile(api, "big", size=size))
    assert error["error_type"] == "OutputTooLarge"
    assert error["error_message"].startswith(
        f"output is {size + 2} bytes as JSON, over the cap of {20 * 1024 * 1024} bytes (JOBGATE_MAX_OUTPUT_BYTES)"
    )


def test_an_output_under_the_cap_is_kept(api):
    r = api.post("/v2/hostile/runsync", json={"input": {"kind": "big", "size": 1024}})
    assert r.get_json()["status"] == "COMPLETED" and r.get_json()["output"] == "x" * 1024


def test_a_stream_chunk_that_is_not_json_fails_the_job_keeping_the_chunks_before(api, tmp_path):
    calls = tmp_path / "calls"
    body = run_hostile(api, "bytes", calls, endpoint="hostile-stream")
    error = error_of(body)
    assert error["error_type"] == "OutputNotJSON"
    assert error["error_message"] == (
        "stream chunk is not JSON: Object of type bytes is not JSON serializable at chunk[1]['x']"
    )
    stream = api.get(f"/v2/hostile-stream/stream/{body['id']}").get_json()["stream"]
    assert [c["output"] for c in stream] == [{"n": 1}]
    assert runs(calls) == 1


@pytest.mark.parametrize("kind", ["progress-nan", "progress-nan-thread"])
def test_a_progress_value_that_is_not_json_fails_the_job(api, tmp_path, kind):
    calls = tmp_path / "calls"
    error = error_of(run_hostile(api, kind, calls))
    assert error["error_type"] == "OutputNotJSON"
    assert error["error_message"] == (
        "progress value is not JSON: the float nan is not JSON (RFC 8259 has no NaN or Infinity) at progress['p']"
    )
    assert runs(calls) == 1


def test_an_error_object_that_is_not_json_fails_the_job_saying_so(api):
    error = error_of(run_hostile(api, "error-object"))
    assert error["error_type"] == "OutputNotJSON"
    assert error["error_message"] == (
        "error is not JSON: Object of type bytes is not JSON serializable at error['detail']"
    )


def test_the_worker_goes_on_with_the_next_job(api):
    r = api.post("/v2/hostile/runsync", json={"input": {"kind": "fine"}})
    assert r.get_json()["status"] == "COMPLETED" and r.get_json()["output"] == {"ok": True}
