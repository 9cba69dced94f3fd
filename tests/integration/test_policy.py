"""Per-job policy: executionTimeout, ttl (the job's whole lifetime) and the low-priority lane."""

import time

from tests.helpers import wait_until
from tests.occupy import PROCESSES, busy_worker, status


def test_execution_timeout_policy_times_the_job_out(api):
    job_id = api.run("echo", {"sleep": 30}, policy={"executionTimeout": 5000})
    body = api.wait("echo", job_id)
    assert body["status"] == "TIMED_OUT" and "5000 ms" in body["error"]


def test_running_job_past_its_ttl_is_removed_and_its_worker_freed(api, redis):
    job_id = api.run("echo", {"sleep": 60}, policy={"ttl": 10_000})
    assert wait_until(lambda: status(api, "echo", job_id) == "IN_PROGRESS", 30, 0.1)
    worker_id = api.get(f"/v2/echo/status/{job_id}").get_json()["workerId"]
    pid = redis.hget(f"jg:worker:{worker_id}", "pid")
    assert wait_until(lambda: api.get(f"/v2/echo/status/{job_id}").status_code == 404, 20, 0.2)
    assert wait_until(lambda: redis.hget(f"jg:worker:{worker_id}", "state") == "idle", 10)
    assert redis.hget(f"jg:worker:{worker_id}", "pid") == pid
    assert api.get("/v2/echo/health").get_json()["jobs"]["inProgress"] == 0
    # Nothing of it is left but its tombstone, which says why it went.
    assert list(redis.scan_iter(f"jg:*{job_id}*")) == [f"jg:gone:{job_id}"]
    assert "policy.ttl passed" in api.get(f"/v2/echo/status/{job_id}").get_json()["error"]


def test_queued_job_past_its_ttl_never_runs(api, redis, tmp_path):
    marker = tmp_path / "ran"
    with busy_worker(api):
        job_id = api.run("touch", {"path": str(marker)}, policy={"ttl": 10_000})
        assert wait_until(lambda: api.get(f"/v2/touch/status/{job_id}").status_code == 404, 20, 0.2)
        assert redis.llen("jobgate.touch") == 1
    # The worker is free now and has taken the expired job's message.
    assert wait_until(lambda: redis.llen("jobgate.touch") == 0, 30)
    time.sleep(1)
    assert not marker.exists()


def started_ms(redis, job_id):
    return int(redis.hget(f"jg:job:{job_id}", "started"))


def test_low_priority_jobs_run_only_when_the_normal_lane_is_empty(api, redis):
    with busy_worker(api, seconds=2) as running:
        # Each takes a while, so a process that finished one cannot overtake another's start.
        low = [api.run("echo", {"sleep": 0.5, "k": k}, policy={"lowPriority": True}) for k in range(PROCESSES)]
        normal = [api.run("echo", {"sleep": 0.5, "k": k}) for k in range(PROCESSES)]
        for job_id in running + normal + low:
            assert api.wait("echo", job_id)["status"] == "COMPLETED"
    assert max(started_ms(redis, j) for j in normal) <= min(started_ms(redis, j) for j in low)


def test_low_priority_job_runs_when_nothing_else_waits(api):
    body = api.post("/v2/echo/runsync", json={"input": 1, "policy": {"lowPriority": True}}).get_json()
    assert body["status"] == "COMPLETED"


def test_ttl_policy_is_the_jobs_lifetime_in_redis(api, redis):
    job_id = api.run("unserved", 1, policy={"ttl": 30_000})
    time.sleep(0.1)
    assert 25_000 < redis.pttl(f"jg:job:{job_id}") <= 30_000
