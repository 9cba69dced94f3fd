"""/health: RunPod's shape, answered from counters and heartbeats in Redis."""

from tests.helpers import wait_until

WORKER_KEYS = {"idle", "initializing", "ready", "running", "throttled", "unhealthy"}


def health(api, endpoint="echo"):
    r = api.get(f"/v2/{endpoint}/health")
    assert r.status_code == 200
    return r.get_json()


def test_health_has_exactly_runpods_keys(api):
    body = health(api)
    assert set(body) == {"jobs", "workers"}
    assert set(body["jobs"]) == {"completed", "failed", "inProgress", "inQueue", "retried"}
    assert set(body["workers"]) == WORKER_KEYS


def test_queued_jobs_count_in_queue(api):
    for _ in range(3):
        api.run("unserved", 1)
    assert health(api, "unserved")["jobs"]["inQueue"] == 3


def test_running_job_counts_in_progress_and_its_worker_running(api):
    job_id = api.run("echo", {"sleep": 2})
    body = wait_until(lambda: (b := health(api))["jobs"]["inProgress"] == 1 and b, 5)
    assert body and body["workers"]["running"] >= 1
    api.wait("echo", job_id)
    assert health(api)["jobs"]["inProgress"] == 0


def test_ended_jobs_count_as_completed_and_failed(api):
    api.post("/v2/echo/runsync", json={"input": 1})
    api.post("/v2/echo/runsync", json={"input": 2})
    api.post("/v2/echo/runsync", json={"input": {"fail": "no"}})
    jobs = health(api)["jobs"]
    assert (jobs["completed"], jobs["failed"]) == (2, 1)


def test_timed_out_jobs_count_as_failed(api):
    job_id = api.run("echo", {"sleep": 30}, policy={"executionTimeout": 5000})
    api.wait("echo", job_id)
    assert health(api)["jobs"]["failed"] == 1


def test_counts_are_per_endpoint(api):
    api.post("/v2/echo/runsync", json={"input": 1})
    assert health(api, "by-path")["jobs"]["completed"] == 0


def test_live_workers_count_from_heartbeats(api):
    assert wait_until(lambda: health(api)["workers"]["idle"] == 3, 5)


def test_endpoint_without_workers_has_none(api):
    assert sum(health(api, "unserved")["workers"].values()) == 0


def test_worker_whose_handler_failed_to_load_is_unhealthy_for_that_endpoint(api):
    assert wait_until(lambda: health(api, "broken")["workers"]["unhealthy"] == 3, 5)
    assert health(api, "echo")["workers"]["unhealthy"] == 0


def test_counters_live_in_expiring_time_buckets(api, redis, settings):
    api.post("/v2/echo/runsync", json={"input": 1})
    buckets = list(redis.scan_iter("jg:stats:echo:*"))
    assert buckets
    assert all(0 < redis.ttl(k) <= settings.health_window_s + 120 for k in buckets)


def test_worker_busy_with_another_endpoints_job_counts_as_throttled(api):
    job_id = api.run("echo", {"sleep": 2})
    body = wait_until(lambda: (b := health(api, "echo-stream"))["workers"]["throttled"] >= 1 and b, 10)
    assert body and body["workers"]["running"] == 0
    api.wait("echo", job_id)


def test_cancelled_running_job_no_longer_counts_in_progress(api):
    job_id = api.run("echo", {"sleep": 30})
    assert wait_until(lambda: health(api)["jobs"]["inProgress"] == 1, 10)
    api.post(f"/v2/echo/cancel/{job_id}")
    assert health(api)["jobs"]["inProgress"] == 0
    assert wait_until(lambda: health(api)["workers"]["running"] == 0, 10)


def test_cancelled_queued_job_no_longer_counts_in_queue(api):
    job_id = api.run("unserved", 1)
    api.post(f"/v2/unserved/cancel/{job_id}")
    assert health(api, "unserved")["jobs"]["inQueue"] == 0


def test_retried_job_counts_under_retried_and_again_when_it_ends(api):
    body = api.post("/v2/echo/runsync", json={"input": {"fail": "x"}}).get_json()
    api.post(f"/v2/echo/retry/{body['id']}")
    jobs = wait_until(lambda: (j := health(api)["jobs"])["failed"] == 2 and j, 30)
    assert jobs and jobs["retried"] == 1 and jobs["inQueue"] == 0 and jobs["inProgress"] == 0
