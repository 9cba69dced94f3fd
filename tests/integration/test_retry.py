"""/retry: a FAILED or TIMED_OUT job runs again with the same id and input."""

import json

from tests.helpers import wait_until
from tests.occupy import status


def failed_flaky_job(api, tmp_path, sleep=0):
    body = api.post("/v2/flaky/runsync", json={"input": {"path": str(tmp_path / "m"), "sleep": sleep}}).get_json()
    assert body["status"] == "FAILED"
    return body["id"]


def test_retry_requeues_the_same_id_and_it_runs_the_same_input(api, tmp_path):
    job_id = failed_flaky_job(api, tmp_path)
    r = api.post(f"/v2/flaky/retry/{job_id}")
    assert r.status_code == 200 and r.get_json() == {"id": job_id, "status": "IN_QUEUE"}
    body = api.wait("flaky", job_id)
    assert body["status"] == "COMPLETED"
    assert body["output"] == {"path": str(tmp_path / "m"), "sleep": 0}
    assert body["retries"] == 1


def test_retried_job_has_its_old_error_cleared(api, tmp_path):
    job_id = failed_flaky_job(api, tmp_path, sleep=2)
    api.post(f"/v2/flaky/retry/{job_id}")
    body = api.get(f"/v2/flaky/status/{job_id}").get_json()
    assert body["status"] in ("IN_QUEUE", "IN_PROGRESS")
    assert "error" not in body and "output" not in body
    assert api.wait("flaky", job_id)["status"] == "COMPLETED"


def test_retried_jobs_count_under_jobs_retried(api, tmp_path):
    job_id = failed_flaky_job(api, tmp_path)
    api.post(f"/v2/flaky/retry/{job_id}")
    assert api.get("/v2/flaky/health").get_json()["jobs"]["retried"] == 1
    api.wait("flaky", job_id)


def test_timed_out_job_can_be_retried(api):
    job_id = api.run("echo", {"sleep": 30}, policy={"executionTimeout": 5000})
    assert api.wait("echo", job_id)["status"] == "TIMED_OUT"
    assert api.post(f"/v2/echo/retry/{job_id}").get_json() == {"id": job_id, "status": "IN_QUEUE"}
    assert wait_until(lambda: status(api, "echo", job_id) == "IN_PROGRESS", 30)
    api.post(f"/v2/echo/cancel/{job_id}")


def test_retry_of_a_completed_job_is_400_naming_its_state(api):
    job_id = api.post("/v2/echo/runsync", json={"input": 1}).get_json()["id"]
    r = api.post(f"/v2/echo/retry/{job_id}")
    assert r.status_code == 400 and "COMPLETED" in r.get_json()["error"]


def test_retry_of_a_queued_job_is_400_naming_its_state(api):
    job_id = api.run("unserved", 1)
    r = api.post(f"/v2/unserved/retry/{job_id}")
    assert r.status_code == 400 and "IN_QUEUE" in r.get_json()["error"]


def test_retry_of_a_cancelled_job_is_400_naming_its_state(api):
    job_id = api.run("unserved", 1)
    api.post(f"/v2/unserved/cancel/{job_id}")
    r = api.post(f"/v2/unserved/retry/{job_id}")
    assert r.status_code == 400 and "CANCELLED" in r.get_json()["error"]


def test_retry_of_an_expired_job_is_404(api, tmp_path):
    job_id = failed_flaky_job(api, tmp_path)
    api.get(f"/v2/flaky/status/{job_id}?ttl=200")
    assert wait_until(lambda: api.get(f"/v2/flaky/status/{job_id}").status_code == 404, 5)
    r = api.post(f"/v2/flaky/retry/{job_id}")
    assert r.status_code == 404 and r.is_json


def test_failed_jobs_error_names_the_exception(api, tmp_path):
    job_id = failed_flaky_job(api, tmp_path)
    error = json.loads(api.get(f"/v2/flaky/status/{job_id}").get_json()["error"])
    assert error["error_message"] == "first attempt fails"
