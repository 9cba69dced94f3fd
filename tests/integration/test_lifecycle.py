"""A job's life through gateway, Celery and Redis: submit, run, read."""

import json
import time


def test_run_answers_in_queue_with_an_id(api):
    r = api.post("/v2/unserved/run", json={"input": {"x": 1}})
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "IN_QUEUE" and body["id"]


def test_submitted_job_is_recorded_in_queue_before_any_worker_sees_it(api):
    job_id = api.run("unserved", {"x": 1})
    body = api.get(f"/v2/unserved/status/{job_id}").get_json()
    assert (body["id"], body["status"], body["queue"]["reason"]) == (job_id, "IN_QUEUE", "no_worker")


def test_run_job_completes_with_output_timings_and_worker(api):
    job_id = api.run("echo", {"x": 1})
    body = api.wait("echo", job_id)
    assert body["status"] == "COMPLETED"
    assert body["output"] == {"echo": {"x": 1}}
    assert body["delayTime"] >= 0 and body["executionTime"] >= 0
    assert body["workerId"].startswith("test-worker@")


def test_runsync_answers_the_finished_job(api):
    r = api.post("/v2/echo/runsync", json={"input": {"x": 1}})
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"] == "COMPLETED" and body["output"] == {"echo": {"x": 1}}
    assert body["id"].startswith("sync-")
    assert {"delayTime", "executionTime", "workerId"} <= body.keys()


def test_runsync_past_its_wait_answers_the_id_and_a_pending_status(api):
    started = time.monotonic()
    r = api.post("/v2/echo/runsync?wait=1000", json={"input": {"sleep": 3}})
    assert time.monotonic() - started < 2.5
    body = r.get_json()
    assert r.status_code == 200
    assert body["status"] in ("IN_QUEUE", "IN_PROGRESS") and body["id"]
    assert api.wait("echo", body["id"])["status"] == "COMPLETED"


def test_runsync_wakes_as_soon_as_the_job_ends(api):
    started = time.monotonic()
    body = api.post("/v2/echo/runsync?wait=20000", json={"input": {"sleep": 0.5}}).get_json()
    assert body["status"] == "COMPLETED"
    assert time.monotonic() - started < 5  # woken by the completion, not the 20 s wait


def test_status_sync_holds_until_the_job_ends(api):
    job_id = api.run("echo", {"sleep": 1})
    body = api.get(f"/v2/echo/status-sync/{job_id}?wait=10000").get_json()
    assert body["status"] == "COMPLETED"


def test_status_sync_past_its_wait_answers_the_current_status(api):
    job_id = api.run("unserved", {"x": 1})
    r = api.post(f"/v2/unserved/status-sync/{job_id}?wait=1000")
    assert r.status_code == 200 and r.get_json()["status"] == "IN_QUEUE"


def test_a_raised_exception_fails_the_job_naming_type_and_message(api):
    body = api.post("/v2/echo/runsync", json={"input": {"fail": "boom"}}).get_json()
    assert body["status"] == "FAILED"
    error = json.loads(body["error"])
    assert error["error_type"] == "RuntimeError" and error["error_message"] == "boom"
    assert "output" not in body


def test_generator_handler_completes_with_its_chunks_aggregated(api):
    body = api.post("/v2/echo-stream/runsync", json={"input": {"chunks": 4}}).get_json()
    assert body["status"] == "COMPLETED"
    assert body["output"] == [{"chunk": k} for k in range(4)]


def test_handler_named_by_file_path_runs(api):
    body = api.post("/v2/by-path/runsync", json={"input": "hello"}).get_json()
    assert body == {**body, "status": "COMPLETED", "output": "HELLO"}


def test_handler_that_cannot_load_fails_its_jobs_with_the_reason(api):
    body = api.post("/v2/broken/runsync", json={"input": 1}).get_json()
    assert body["status"] == "FAILED"
    error = json.loads(body["error"])  # the shape of a handler exception's error
    assert error["error_type"] == "HandlerLoadError" and "does_not_exist" in error["error_message"]


def test_job_past_its_execution_timeout_is_timed_out(api):
    job_id = api.run("echo", {"sleep": 30}, policy={"executionTimeout": 5000})
    body = api.wait("echo", job_id)
    assert body["status"] == "TIMED_OUT"
    error = json.loads(body["error"])
    assert error["error_type"] == "ExecutionTimeout" and "5000 ms" in error["error_message"]


def test_handler_ignoring_the_soft_limit_is_killed_at_the_hard_limit(api):
    job_id = api.run("stubborn", {})
    body = api.wait("stubborn", job_id, wait_ms=60000)
    assert body["status"] == "TIMED_OUT"


def test_worker_still_serves_after_a_hard_time_limit_kill(api):
    job_id = api.run("stubborn", {})
    assert api.wait("stubborn", job_id, wait_ms=60000)["status"] == "TIMED_OUT"
    assert api.post("/v2/echo/runsync", json={"input": 2}).get_json()["status"] == "COMPLETED"
