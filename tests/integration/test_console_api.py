"""What the jobs console reads: /v2/endpoints, /requests/<id> and /timeline."""

from app.store.apikeys import KeyStore
from app.store.keys import Keys
from tests.helpers import ApiClient, wait_until


def test_endpoints_lists_every_endpoint_for_a_bootstrap_key(api, app):
    body = api.get("/v2/endpoints").get_json()
    assert body["key"] == {"id": "bootstrap", "readOnly": False}
    assert [e["id"] for e in body["endpoints"]] == app.extensions["jobgate"].registry.ids()


def test_endpoints_lists_only_a_scoped_keys_endpoints_and_says_read_only(app, redis, settings):
    _, plain = KeyStore(redis, Keys(settings.key_prefix)).create(["echo"], read_only=True)
    body = ApiClient(app, key=plain).get("/v2/endpoints").get_json()
    assert body["key"]["readOnly"] is True and body["endpoints"] == [{"id": "echo"}]


def test_endpoints_needs_a_key(app):
    r = ApiClient(app, key=None).get("/v2/endpoints")
    assert r.status_code == 401 and "missing API key" in r.get_json()["error"]


def test_one_request_shows_its_input_output_and_timings(api):
    job_id = api.run("echo", {"x": 1})
    api.wait("echo", job_id)
    body = api.get(f"/v2/echo/requests/{job_id}").get_json()
    assert body["input"] == {"x": 1} and body["output"] == {"echo": {"x": 1}}
    assert body["status"] == "COMPLETED" and body["deliveries"] == 1
    assert body["createdAt"] and body["finishedAt"] and body["workerId"].startswith("test-worker@")


def test_one_request_shows_a_failed_jobs_error(api):
    job_id = api.run("echo", {"fail": "boom"})
    api.wait("echo", job_id)
    body = api.get(f"/v2/echo/requests/{job_id}").get_json()
    assert body["status"] == "FAILED" and "boom" in body["error"]


def test_one_request_of_another_endpoint_is_not_found(api):
    job_id = api.run("echo", {"x": 1})
    r = api.get(f"/v2/echo-stream/requests/{job_id}")
    assert r.status_code == 404 and job_id in r.get_json()["error"]


def test_a_read_only_key_may_read_one_request_and_the_timeline(app, api, redis, settings):
    job_id = api.run("echo", {"x": 1})
    _, plain = KeyStore(redis, Keys(settings.key_prefix)).create(read_only=True)
    viewer = ApiClient(app, key=plain)
    assert viewer.get(f"/v2/echo/requests/{job_id}").status_code == 200
    assert viewer.get("/v2/echo/timeline").status_code == 200


def test_the_timeline_counts_outcomes_and_percentiles_in_the_current_minute(api):
    for job_input in ({"x": 1}, {"x": 2}, {"fail": "x"}):
        api.wait("echo", api.run("echo", job_input))
    cancelled = api.run("unserved", {"x": 1})
    api.post(f"/v2/unserved/cancel/{cancelled}")

    def minute() -> dict:
        return api.get("/v2/echo/timeline?minutes=5").get_json()["buckets"][-1]

    now = wait_until(lambda: (m := minute())["completed"] == 2 and m, 5)
    assert now["failed"] == 1 and now["queueDepth"] == 0
    assert now["delayMs"]["p50"] <= now["delayMs"]["p95"] and now["executionMs"]["p95"] >= 0
    assert api.get("/v2/unserved/timeline?minutes=1").get_json()["buckets"][-1]["cancelled"] == 1


def test_the_timeline_has_one_bucket_a_minute_oldest_first(api):
    body = api.get("/v2/echo/timeline?minutes=30").get_json()
    starts = [b["start"] for b in body["buckets"]]
    assert body["bucketSeconds"] == 60 and len(starts) == 30
    assert all(b - a == 60_000 for a, b in zip(starts, starts[1:], strict=False))


def test_the_timeline_refuses_more_than_30_minutes(api):
    r = api.get("/v2/echo/timeline?minutes=31")
    assert r.status_code == 400 and "minutes" in r.get_json()["errors"]


def test_the_console_page_is_served_without_a_key_with_a_strict_policy(app):
    r = ApiClient(app, key=None).get("/")
    assert r.status_code == 200 and b"jobgate console" in r.data
    assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    assert ApiClient(app, key=None).get("/console/console.js").status_code == 200
