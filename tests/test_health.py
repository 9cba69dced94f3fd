"""/health: RunPod's shape, answered from counters and heartbeats in Redis."""
from tests.conftest import wait_until

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
