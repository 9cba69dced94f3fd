"""batch = { max_size, wait_ms }: the handler takes a list of jobs and returns a list of outputs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.helpers import ROOT, service_env, wait_until

E = "batched"  # max_size 4, wait_ms 300, two calls at once


@pytest.fixture(autouse=True)
def _served(many_worker):
    """Every test here needs the concurrent worker."""


def test_jobs_arriving_together_share_one_call(api):
    ids = [api.run(E, {"n": k}) for k in range(4)]
    outputs = [api.wait(E, i)["output"] for i in ids]
    assert [o["job"] for o in outputs] == ids
    assert len({o["call"] for o in outputs}) == 1 and {o["size"] for o in outputs} == {4}


def test_a_lone_job_leaves_alone_once_wait_ms_has_passed(api):
    body = api.post(f"/v2/{E}/runsync", json={"input": {}}).get_json()
    assert body["status"] == "COMPLETED" and body["output"]["size"] == 1


def test_more_jobs_than_max_size_go_in_several_calls_of_at_most_max_size(api):
    ids = [api.run(E, {"n": k}) for k in range(10)]
    outputs = [api.wait(E, i)["output"] for i in ids]
    sizes = {o["call"]: o["size"] for o in outputs}
    assert sum(sizes.values()) == 10 and max(sizes.values()) <= 4


def test_an_error_item_fails_that_job_alone(api):
    ids = [api.run(E, {"fail": "bad item"} if k == 1 else {}) for k in range(3)]
    bodies = [api.wait(E, i) for i in ids]
    assert [b["status"] for b in bodies] == ["COMPLETED", "FAILED", "COMPLETED"]
    assert bodies[1]["error"] == "bad item"


def test_an_exception_fails_every_job_of_the_call(api):
    ids = [api.run(E, {"raise": True} if k == 0 else {}) for k in range(3)]
    bodies = [api.wait(E, i) for i in ids]
    assert {b["status"] for b in bodies} == {"FAILED"}
    assert all("the whole batch failed" in b["error"] for b in bodies)


def test_a_list_of_the_wrong_length_fails_each_job_naming_both_lengths(api):
    ids = [api.run(E, {"short": True} if k == 0 else {}) for k in range(3)]
    bodies = [api.wait(E, i) for i in ids]
    assert {b["status"] for b in bodies} == {"FAILED"}
    assert all("returned 2 outputs for a batch of 3 jobs" in b["error"] for b in bodies)


def test_cancel_drops_a_job_from_its_batch_and_the_others_complete(api):
    ids = [api.run(E, {"sleep": 3}) for _ in range(3)]
    assert wait_until(lambda: api.get(f"/v2/{E}/status/{ids[0]}").get_json()["status"] == "IN_PROGRESS", 15)
    assert api.post(f"/v2/{E}/cancel/{ids[0]}").get_json()["status"] == "CANCELLED"
    assert [api.wait(E, i)["status"] for i in ids[1:]] == ["COMPLETED"] * 2
    assert api.get(f"/v2/{E}/status/{ids[0]}").get_json()["status"] == "CANCELLED"


def test_execution_timeout_times_out_one_batched_job_and_not_its_batch(api):
    late = api.run(E, {"sleep": 7}, policy={"executionTimeout": 5000})
    other = api.run(E, {})
    assert api.wait(E, late)["status"] == "TIMED_OUT"
    assert api.wait(E, other)["status"] == "COMPLETED"


def test_a_generator_batch_handler_is_a_start_up_error_naming_file_endpoint_and_key(settings, tmp_path):
    path = tmp_path / "endpoints.toml"
    path.write_text(
        textwrap.dedent(f"""
        [endpoints.gen]
        handler = "{ROOT / "tests" / "handlers.py"}:batched_generator"
        batch = {{ max_size = 4 }}
        """)
    )
    env = service_env(settings, JOBGATE_ENDPOINTS_FILE=str(path))
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker", "-n", "gen@%h"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert str(path) in done.stderr and "[endpoints.gen]" in done.stderr and "batch" in done.stderr
    assert "generator" in done.stderr


def test_each_batched_job_shows_in_progress_with_its_worker_and_then_its_times(api):
    ids = [api.run(E, {"sleep": 1.5}) for _ in range(3)]
    assert wait_until(
        lambda: all(api.get(f"/v2/{E}/status/{i}").get_json()["status"] == "IN_PROGRESS" for i in ids), 15
    )
    for job_id in ids:
        body = api.get(f"/v2/{E}/status/{job_id}").get_json()
        assert body["workerId"].startswith("many-worker@") and body["delayTime"] >= 0
    for job_id in ids:
        body = api.wait(E, job_id)
        assert body["status"] == "COMPLETED" and body["executionTime"] >= 1000


def test_progress_from_a_batch_handler_shows_on_each_job_its_own(api):
    ids = [api.run(E, {"sleep": 2, "progress": True}) for _ in range(3)]

    def shown():
        return all(api.get(f"/v2/{E}/status/{i}").get_json().get("output") == {"job": i} for i in ids)

    assert wait_until(shown, 15)


def test_ttl_removes_one_batched_job_and_not_its_batch(api):
    short_lived = api.run(E, {"sleep": 12}, policy={"ttl": 10_000})
    other = api.run(E, {})
    assert wait_until(lambda: api.get(f"/v2/{E}/status/{short_lived}").status_code == 404, 20)
    assert api.wait(E, other)["status"] == "COMPLETED"


def test_a_failed_batched_job_can_be_retried_and_calls_its_webhook(api):
    from tests.integration.test_webhooks import Receiver

    receiver = Receiver()
    try:
        failing = api.run(E, {"fail": "bad item"}, webhook=receiver.url)
        assert api.wait(E, failing)["status"] == "FAILED"
        assert wait_until(lambda: receiver.calls, 20)
        assert api.post(f"/v2/{E}/retry/{failing}").get_json()["status"] == "IN_QUEUE"
        body = api.wait(E, failing)
        assert body["status"] == "FAILED" and body["retries"] == 1
    finally:
        receiver.close()
