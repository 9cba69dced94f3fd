"""Retention is Redis key expiry: 30 min for /run, 1 min for /runsync, ?ttl per job."""

import time

import pytest

from app import create_app
from tests.helpers import ApiClient, wait_until


@pytest.fixture(scope="module")
def short(settings, worker):
    """A gateway whose jobs are kept 2 s (async) and 1 s (sync) after they end."""
    return ApiClient(create_app(settings.replace(result_ttl_async_s=2, result_ttl_sync_s=1)))


def test_async_result_is_kept_30_minutes(api, redis):
    job_id = api.run("echo", 1)
    api.wait("echo", job_id)
    assert 1790_000 < redis.pttl(f"jg:job:{job_id}") <= 1800_000


def test_sync_result_is_kept_1_minute(api, redis):
    job_id = api.post("/v2/echo/runsync", json={"input": 1}).get_json()["id"]
    assert 50_000 < redis.pttl(f"jg:job:{job_id}") <= 60_000


def test_async_result_is_gone_after_its_retention(short):
    job_id = short.run("echo", 1)
    assert short.wait("echo", job_id)["status"] == "COMPLETED"
    assert wait_until(lambda: short.get(f"/v2/echo/status/{job_id}").status_code == 404, 5)


def test_sync_result_is_gone_after_its_retention(short):
    job_id = short.post("/v2/echo/runsync", json={"input": 1}).get_json()["id"]
    assert short.get(f"/v2/echo/status/{job_id}").status_code == 200
    time.sleep(1.2)
    assert short.get(f"/v2/echo/status/{job_id}").status_code == 404


def test_status_ttl_sets_a_finished_jobs_retention_from_now(api, redis):
    job_id = api.run("echo", 1)
    api.wait("echo", job_id)
    assert api.get(f"/v2/echo/status/{job_id}?ttl=6000").status_code == 200
    assert 5_000 < redis.pttl(f"jg:job:{job_id}") <= 6_000


def test_status_ttl_expires_the_job(api):
    job_id = api.run("echo", 1)
    api.wait("echo", job_id)
    api.get(f"/v2/echo/status/{job_id}?ttl=500")
    assert wait_until(lambda: api.get(f"/v2/echo/status/{job_id}").status_code == 404, 3)


def test_status_ttl_on_a_running_job_applies_when_it_ends(api, redis):
    job_id = api.run("echo", {"sleep": 1})
    api.get(f"/v2/echo/status/{job_id}?ttl=7000")
    assert api.wait("echo", job_id)["status"] == "COMPLETED"
    assert 5_000 < redis.pttl(f"jg:job:{job_id}") <= 7_000


def test_queued_job_lives_its_policy_ttl(api, redis):
    job_id = api.run("unserved", 1, policy={"ttl": 20_000})
    assert 19_000 < redis.pttl(f"jg:job:{job_id}") <= 20_000


def test_queued_job_lives_24_hours_by_default(api, redis):
    job_id = api.run("unserved", 1)
    assert 86_399_000 < redis.pttl(f"jg:job:{job_id}") <= 86_400_000


def test_queued_job_past_its_ttl_is_gone(api):
    job_id = api.run("unserved", 1, policy={"ttl": 10_000})
    assert wait_until(lambda: api.get(f"/v2/unserved/status/{job_id}").status_code == 404, 15, 0.5)
    assert api.get("/v2/unserved/health").get_json()["jobs"]["inQueue"] == 0


def test_every_key_jobgate_writes_expires(api, redis):
    api.run("unserved", 1)
    api.post("/v2/echo/runsync", json={"input": 1})
    api.post("/v2/echo/runsync", json={"input": {"fail": "x"}})
    api.post("/v2/echo-stream/runsync", json={"input": {"chunks": 2}})
    api.get("/v2/echo/health")
    keys = list(redis.scan_iter("jg:*"))
    assert len(keys) > 8
    assert {k: redis.ttl(k) for k in keys if redis.ttl(k) < 0} == {}
