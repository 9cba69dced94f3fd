"""GET /requests: an endpoint's jobs, newest first, from an index that expires with them."""

import time
from datetime import datetime

import pytest

from tests.helpers import wait_until


def listing(api, endpoint: str = "unserved", **query) -> dict:
    r = api.get(f"/v2/{endpoint}/requests", query_string=query)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def submit(api, endpoint: str, n: int, job_input=1) -> list[str]:
    ids = []
    for _ in range(n):
        ids.append(api.run(endpoint, job_input))
        time.sleep(0.003)  # distinct creation milliseconds, so "newest first" is one order
    return ids


def test_jobs_are_listed_newest_first(api):
    ids = submit(api, "unserved", 4)
    body = listing(api)
    assert [j["id"] for j in body["requests"]] == ids[::-1]
    assert body["nextCursor"] is None


def test_listing_shows_states_and_timings_but_no_input_or_output(api):
    job_id = api.run("echo", {"secret": 1})
    api.wait("echo", job_id)
    [job] = listing(api, "echo")["requests"]
    assert job.keys() == {
        "id",
        "status",
        "createdAt",
        "startedAt",
        "finishedAt",
        "delayTime",
        "executionTime",
        "workerId",
        "retries",
    }
    assert job["id"] == job_id and job["status"] == "COMPLETED" and job["retries"] == 0
    assert job["workerId"].startswith("test-worker@")
    created, started, finished = (
        datetime.fromisoformat(job[k].replace("Z", "+00:00")) for k in ("createdAt", "startedAt", "finishedAt")
    )
    assert created.utcoffset().total_seconds() == 0
    assert created <= started <= finished
    assert job["delayTime"] >= 0 and job["executionTime"] >= 0


def test_queued_job_has_no_start_yet(api):
    submit(api, "unserved", 1)
    [job] = listing(api)["requests"]
    assert job["status"] == "IN_QUEUE"
    assert job["startedAt"] is job["finishedAt"] is job["workerId"] is job["delayTime"] is None


def test_other_endpoints_jobs_are_not_listed(api):
    submit(api, "unserved", 1)
    assert listing(api, "echo")["requests"] == []


@pytest.fixture
def mixed(api):
    """Two COMPLETED and one FAILED job on echo."""
    ok = [api.run("echo", 1), api.run("echo", 2)]
    bad = api.run("echo", {"fail": "boom"})
    for job_id in ok + [bad]:
        api.wait("echo", job_id)
    return {"COMPLETED": set(ok), "FAILED": {bad}}


def test_status_filter_keeps_one_state(api, mixed):
    jobs = listing(api, "echo", status="FAILED")["requests"]
    assert {j["id"] for j in jobs} == mixed["FAILED"] and {j["status"] for j in jobs} == {"FAILED"}


def test_status_filter_takes_several_states_repeated_or_comma_separated(api, mixed):
    everything = mixed["COMPLETED"] | mixed["FAILED"]
    repeated = api.get("/v2/echo/requests?status=FAILED&status=COMPLETED").get_json()["requests"]
    assert {j["id"] for j in repeated} == everything
    assert {j["id"] for j in listing(api, "echo", status="COMPLETED,FAILED")["requests"]} == everything
    assert listing(api, "echo", status="CANCELLED")["requests"] == []


def test_unknown_status_is_400_naming_status(api):
    r = api.get("/v2/echo/requests?status=DONE")
    assert r.status_code == 400 and "status" in r.get_json()["errors"]


@pytest.mark.parametrize("limit", ["0", "501", "many"])
def test_limit_out_of_range_is_400_naming_limit(api, limit):
    r = api.get(f"/v2/echo/requests?limit={limit}")
    assert r.status_code == 400 and "limit" in r.get_json()["errors"]


def test_foreign_cursor_is_400_naming_cursor(api):
    r = api.get("/v2/echo/requests?cursor=not-ours!")
    assert r.status_code == 400 and "cursor" in r.get_json()["errors"]


def test_limit_defaults_to_50(api):
    submit(api, "unserved", 51)
    body = listing(api)
    assert len(body["requests"]) == 50 and body["nextCursor"]


def test_paging_with_the_cursor_reaches_the_end_once_each(api):
    ids = submit(api, "unserved", 7)
    seen, cursor, pages = [], None, 0
    while True:
        body = listing(api, limit=3, **({"cursor": cursor} if cursor else {}))
        seen += [j["id"] for j in body["requests"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == ids[::-1] and pages == 3


def test_paging_goes_on_past_jobs_created_in_the_same_millisecond(api, redis):
    ids = submit(api, "unserved", 4)
    for job_id in ids:  # one creation time for all: the id orders them
        redis.zadd("jg:requests:unserved", {job_id: 1_700_000_000_000})
    seen, cursor = [], None
    while True:
        body = listing(api, limit=1, **({"cursor": cursor} if cursor else {}))
        seen += [j["id"] for j in body["requests"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 4


def test_paging_with_a_status_filter(api, mixed):
    first = listing(api, "echo", status="COMPLETED", limit=1)
    second = listing(api, "echo", status="COMPLETED", limit=1, cursor=first["nextCursor"])
    assert {first["requests"][0]["id"], second["requests"][0]["id"]} == mixed["COMPLETED"]
    assert second["nextCursor"] is None


def test_job_vanishes_from_the_listing_when_it_expires(api, redis):
    gone, kept = api.run("echo", 1), api.run("echo", 2)
    for job_id in (gone, kept):
        api.wait("echo", job_id)
    assert api.get(f"/v2/echo/status/{gone}?ttl=1000").status_code == 200
    assert wait_until(lambda: [j["id"] for j in listing(api, "echo")["requests"]] == [kept], 10, 0.2)
    assert redis.zscore("jg:requests:echo", gone) is None  # pruned from the index too


def test_purged_jobs_leave_the_listing_and_the_index(api, redis):
    submit(api, "unserved", 3)
    assert api.post("/v2/unserved/purge-queue").get_json()["removed"] == 3
    assert listing(api)["requests"] == []
    assert redis.zcard("jg:requests:unserved") == 0


def test_index_keys_expire(api, redis):
    submit(api, "unserved", 1)
    assert redis.pttl("jg:requests:unserved") > 0 and redis.pttl("jg:requests-expiry:unserved") > 0


def test_unknown_endpoint_is_404(api):
    assert api.get("/v2/nope/requests").status_code == 404


def test_openapi_document_lists_requests(api):
    assert "/v2/{endpoint_id}/requests" in api.get("/openapi.json").get_json()["paths"]


def test_expired_entries_are_pruned_as_new_jobs_arrive(api, redis):
    gone = api.run("echo", 1)
    api.wait("echo", gone)
    api.get(f"/v2/echo/status/{gone}?ttl=1000")
    assert wait_until(lambda: not redis.exists(f"jg:job:{gone}"), 10, 0.1)
    api.run("echo", 2)  # no listing call: the submission itself drops the expired entry
    assert redis.zscore("jg:requests:echo", gone) is None
    assert redis.zscore("jg:requests-expiry:echo", gone) is None


def test_a_rare_state_is_reached_across_pages_when_the_scan_budget_runs_out(api, monkeypatch):
    monkeypatch.setattr("app.store.jobstore.LIST_SCAN_BUDGET", 2)
    first = api.run("echo", {"fail": "old"})
    api.wait("echo", first)
    later = [api.run("echo", k) for k in range(5)]
    for job_id in later:
        api.wait("echo", job_id)
    found, cursor, pages = [], None, 0
    while True:
        body = listing(api, "echo", status="FAILED", **({"cursor": cursor} if cursor else {}))
        found += [j["id"] for j in body["requests"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert found == [first] and pages > 1
