"""Taking a delivered job: never while its worker still runs it, never past the delivery bound."""

import json

import pytest

from app.core.clock import now_ms
from app.core.states import JobStatus
from app.store.jobstore import NotStarted
from workers import deliveries

HARD_MS = 60_000


@pytest.fixture
def gw(app, redis):
    gateway = app.extensions["jobgate"]
    # Hold the reaper's pass lock: these jobs run on made-up workers it would take back.
    redis.set(gateway.store.keys.reaper_lock(), "test", px=60_000)
    return gateway


def test_each_start_counts_a_delivery(api, gw):
    job_id = api.run("unserved", 1)
    gw.store.start(job_id, "unserved", "w1", HARD_MS)
    previous, job = gw.store.start(job_id, "unserved", "w2", HARD_MS)  # w1 is gone: a redelivery
    assert previous is JobStatus.IN_PROGRESS and job.deliveries == 2 and job.worker_id == "w2"


def test_a_job_is_not_started_again_while_its_worker_says_it_runs_it(api, gw):
    job_id = api.run("unserved", 1)
    gw.store.start(job_id, "unserved", "w1", HARD_MS)
    gw.fleet.beat("w1", ["unserved"], now_ms(), state="running", job=job_id)
    try:
        with pytest.raises(NotStarted) as refused:
            gw.store.start(job_id, "unserved", "w2", HARD_MS)
        assert refused.value.reason == "RUNNING"
        assert gw.store.get(job_id).deliveries == 1 and gw.store.get(job_id).worker_id == "w1"
    finally:
        gw.fleet.gone("w1", ["unserved"])
    assert gw.store.start(job_id, "unserved", "w2", HARD_MS)[1].deliveries == 2


def exhausted(api, gw) -> tuple[str, NotStarted]:
    """A job started 3 times (its bound), and the refusal of a 4th start."""
    job_id = api.run("unserved", 1)
    for n in range(3):
        gw.store.start(job_id, "unserved", f"w{n}", HARD_MS, max_deliveries=3)
    with pytest.raises(NotStarted) as refused:
        gw.store.start(job_id, "unserved", "w9", HARD_MS, max_deliveries=3)
    return job_id, refused.value


def test_a_job_that_had_its_bound_of_runs_is_not_started_again(api, gw):
    job_id, refused = exhausted(api, gw)
    assert refused.reason == "EXHAUSTED" and refused.job.deliveries == 3


def test_a_job_given_up_is_failed_saying_the_worker_was_lost_that_many_times(api, gw):
    job_id, refused = exhausted(api, gw)
    assert deliveries.refused(gw.store, refused).status == "FAILED"
    body = api.get(f"/v2/unserved/status/{job_id}").get_json()
    assert body["status"] == "FAILED" and "worker lost 3 times" in body["error"]
    # The shape of a handler exception's error: a JSON string, with the delivery count.
    error = json.loads(body["error"])
    assert error["error_type"] == "WorkerLost" and error["deliveries"] == 3 and "worker lost" in error["error_message"]


def test_retry_of_a_given_up_job_starts_its_delivery_count_again(api, gw):
    job_id, refused = exhausted(api, gw)
    deliveries.refused(gw.store, refused)
    assert api.post(f"/v2/unserved/retry/{job_id}").status_code == 200
    assert gw.store.start(job_id, "unserved", "w9", HARD_MS, max_deliveries=3)[1].deliveries == 1
