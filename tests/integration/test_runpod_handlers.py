"""RunPod handler files (``import runpod`` ... ``runpod.serverless.start``) served unchanged by jobgate
workers (loading one without a worker: tests/unit/test_runpod_handler_loading.py)."""

import json
import os

from tests.helpers import wait_until


def runsync(api, endpoint, job_input):
    r = api.post(f"/v2/{endpoint}/runsync", json={"input": job_input})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_shipped_runpod_example_gives_the_same_output_as_echo(api):
    body = runsync(api, "rp-echo", {"x": 1})
    assert body["status"] == "COMPLETED"
    assert body["output"] == runsync(api, "echo", {"x": 1})["output"] == {"echo": {"x": 1}}


def test_exception_in_a_runpod_handler_fails_the_job_naming_type_and_message(api):
    body = runsync(api, "rp-echo", {"fail": "boom"})
    assert body["status"] == "FAILED"
    error = json.loads(body["error"])
    assert error["error_type"] == "RuntimeError" and error["error_message"] == "boom"


def test_runpod_progress_update_shows_on_status_while_running(api):
    job_id = api.run("rp-echo", {"progress": 2, "sleep": 1.5})

    def progress_seen():
        body = api.get(f"/v2/rp-echo/status/{job_id}").get_json()
        return body if body["status"] == "IN_PROGRESS" and body.get("output") else None

    body = wait_until(progress_seen, 15)
    assert body and body["output"]["of"] == 2 and body["output"]["step"] in (1, 2)
    final = api.wait("rp-echo", job_id)
    assert final["status"] == "COMPLETED" and final["output"] == {"echo": {"progress": 2, "sleep": 1.5}}


def test_rp_validator_validates_inside_a_handler(api):
    body = runsync(api, "rp-greet", {"name": "ada", "times": 2})
    assert body["status"] == "COMPLETED" and body["output"] == {"greeting": "hi ada hi ada"}


def test_rp_validator_errors_returned_as_error_fail_the_job(api):
    body = runsync(api, "rp-greet", {"times": 2})
    assert body["status"] == "FAILED"
    assert json.loads(body["error"]) == ["name is a required input."]


def test_returned_error_fails_the_job_and_keeps_the_rest_as_output(api):
    body = runsync(api, "rp-error", 7)
    assert body["status"] == "FAILED"
    assert body["error"] == "bad input" and body["output"] == {"detail": 7}


def test_async_runpod_handler_runs(api):
    body = runsync(api, "rp-async", {"x": 1})
    assert body["status"] == "COMPLETED" and body["output"] == {"echo": {"x": 1}}


def test_generator_with_return_aggregate_stream_outputs_its_chunks(api):
    body = runsync(api, "rp-chunks", {"chunks": 4})
    assert body["status"] == "COMPLETED" and body["output"] == [{"chunk": k} for k in range(4)]


def test_async_generator_with_return_aggregate_stream_outputs_its_chunks(api):
    body = runsync(api, "rp-async-chunks", {"chunks": 2})
    assert body["status"] == "COMPLETED" and body["output"] == [{"chunk": 0}, {"chunk": 1}]


def test_generator_without_return_aggregate_stream_outputs_an_empty_list(api):
    body = runsync(api, "rp-plain-stream", {})
    assert body["status"] == "COMPLETED" and body["output"] == []


def test_returned_refresh_worker_recycles_that_process_after_the_job(api):
    body = runsync(api, "rp-refresh-on-request", {})
    assert body["status"] == "COMPLETED"
    assert body["output"].keys() == {"pid"}  # refresh_worker is not part of the output
    assert wait_until(lambda: not pid_alive(body["output"]["pid"]), 20)
    assert api.get(f"/v2/rp-refresh-on-request/status/{body['id']}").get_json()["status"] == "COMPLETED"
    assert runsync(api, "rp-echo", 1)["status"] == "COMPLETED"


def test_refresh_worker_config_recycles_the_process_after_every_job(api):
    first = runsync(api, "rp-refresh", {})
    assert first["status"] == "COMPLETED"
    assert wait_until(lambda: not pid_alive(first["output"]["pid"]), 20)
    second = runsync(api, "rp-refresh", {})
    assert second["status"] == "COMPLETED" and second["output"]["pid"] != first["output"]["pid"]
    assert wait_until(lambda: not pid_alive(second["output"]["pid"]), 20)


def test_generator_without_return_aggregate_stream_still_streams_every_chunk(api):
    job_id = api.run("rp-plain-stream", {})
    assert api.wait("rp-plain-stream", job_id)["output"] == []
    body = api.get(f"/v2/rp-plain-stream/stream/{job_id}").get_json()
    assert body["stream"] == [{"output": {"chunk": k}} for k in range(3)]
