"""Expired is not unknown: for a while after a job's record goes, its id says when and why."""

from datetime import UTC, datetime

import pytest

from app import create_app
from tests.helpers import ApiClient, wait_until

# The most one tombstone may cost in Redis (bytes, as MEMORY USAGE counts it).
TOMBSTONE_BUDGET_BYTES = 100


@pytest.fixture(scope="module")
def short(settings, worker):
    """A gateway whose /run results are kept 2 s and /runsync results 1 s after they end."""
    return ApiClient(create_app(settings.replace(result_ttl_async_s=2, result_ttl_sync_s=1)))


def gone(client: ApiClient, path: str) -> dict:
    """The 404 body of ``path`` once the job's record has expired."""
    assert wait_until(lambda: client.get(path).status_code == 404, 10, 0.2), path
    return client.get(path).get_json()


def iso_ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() * 1000)


def test_an_id_never_seen_stays_not_found(api):
    body = api.get("/v2/echo/status/00000000-0000-0000-0000-000000000000").get_json()
    assert body == {"error": "job 00000000-0000-0000-0000-000000000000 not found", "code": 404}


def test_a_run_job_whose_result_expired_says_when_and_how_long_results_are_kept(short):
    job_id = short.run("echo", 1)
    finished = short.wait("echo", job_id)
    assert finished["status"] == "COMPLETED"
    body = gone(short, f"/v2/echo/status/{job_id}")
    assert body["code"] == 404
    assert body["error"] == (
        f"job {job_id} expired at {body['expiredAt']} (results are kept 2 s after a /run job ends)"
    )
    ended_ms = iso_ms(body["expiredAt"]) - 2000
    assert abs(ended_ms - int(datetime.now(UTC).timestamp() * 1000)) < 15_000


def test_a_runsync_job_names_the_runsync_retention(short):
    job_id = short.post("/v2/echo/runsync", json={"input": 1}).get_json()["id"]
    body = gone(short, f"/v2/echo/status/{job_id}")
    assert body["error"].endswith("(results are kept 1 s after a /runsync job ends)")


def test_a_retention_set_by_status_ttl_is_named(api):
    job_id = api.run("echo", 1)
    api.wait("echo", job_id)
    api.get(f"/v2/echo/status/{job_id}?ttl=500")
    body = gone(api, f"/v2/echo/status/{job_id}")
    assert body["error"] == f"job {job_id} expired at {body['expiredAt']} (its result was kept as long as ?ttl asked)"


def test_a_queued_job_past_its_policy_ttl_says_so(api):
    job_id = api.run("unserved", 1, policy={"ttl": 10_000})
    assert wait_until(lambda: api.get(f"/v2/unserved/status/{job_id}").status_code == 404, 15, 0.5)
    body = api.get(f"/v2/unserved/status/{job_id}").get_json()
    assert body["error"] == f"job {job_id} expired at {body['expiredAt']} (its policy.ttl passed before it finished)"


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/v2/unserved/status/{id}"),
        ("get", "/v2/unserved/status-sync/{id}?wait=1000"),
        ("get", "/v2/unserved/stream/{id}"),
        ("post", "/v2/unserved/cancel/{id}"),
        ("post", "/v2/unserved/retry/{id}"),
    ],
)
def test_a_purged_job_says_it_was_purged_on_every_operation(api, method, path):
    job_id = api.run("unserved", 1)
    assert api.post("/v2/unserved/purge-queue").get_json()["removed"] == 1
    r = getattr(api, method)(path.format(id=job_id))
    body = r.get_json()
    assert r.status_code == 404
    assert body["error"] == f"job {job_id} was purged from the queue at {body['purgedAt']}"
    assert "expiredAt" not in body


def test_a_purged_job_read_over_server_sent_events_says_so(api):
    job_id = api.run("unserved", 1)
    api.post("/v2/unserved/purge-queue")
    r = api.get(f"/v2/unserved/stream/{job_id}", headers={"Accept": "text/event-stream"})
    assert r.status_code == 404 and "was purged from the queue" in r.get_json()["error"]


def test_a_tombstone_is_read_only_through_the_jobs_endpoint(api):
    job_id = api.run("unserved", 1)
    api.post("/v2/unserved/purge-queue")
    assert api.get(f"/v2/echo/status/{job_id}").get_json() == {"error": f"job {job_id} not found", "code": 404}


def test_a_tombstone_expires_by_itself(settings, worker, redis):
    brief = ApiClient(create_app(settings.replace(tombstone_ttl_s=1)))
    job_id = brief.run("unserved", 1)
    brief.post("/v2/unserved/purge-queue")
    assert "purged" in brief.get(f"/v2/unserved/status/{job_id}").get_json()["error"]
    assert 0 < redis.pttl(f"jg:gone:{job_id}") <= 1000
    assert wait_until(lambda: brief.get(f"/v2/unserved/status/{job_id}").get_json()["error"].endswith("not found"), 3)


def test_a_tombstone_costs_at_most_about_100_bytes(api, redis):
    job_id = api.run("unserved", 1)
    api.post("/v2/unserved/purge-queue")
    key = f"jg:gone:{job_id}"
    assert redis.object("encoding", key) == "int"  # no value allocation beyond the key
    assert redis.memory_usage(key) <= TOMBSTONE_BUDGET_BYTES
