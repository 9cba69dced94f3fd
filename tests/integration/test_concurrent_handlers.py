"""max_concurrency: one process runs many jobs of an endpoint at once, and each job keeps every
per-job feature (status, progress, streams, cancel, timeouts, ttl, webhooks, retry, heartbeats)."""

from __future__ import annotations

import time

import pytest
import requests

from tests.helpers import wait_until

MODES = ["many-async", "many-sync"]  # an async def on the shared loop; a plain def in threads


@pytest.fixture(autouse=True)
def _served(many_worker):
    """Every test here needs the concurrent worker."""


def overlap(redis, ids: list[str]) -> bool:
    """Whether all these jobs ran at the same moment (the last start is before the first end)."""
    records = [redis.hmget(f"jg:job:{i}", "started", "finished") for i in ids]
    return max(int(s) for s, _ in records) < min(int(f) for _, f in records)


def running(api, endpoint: str) -> list[str]:
    workers = api.get(f"/v2/{endpoint}/workers").get_json()["workers"]
    return [job for w in workers for job in w["jobs"]]


@pytest.mark.parametrize("endpoint", MODES)
def test_one_process_runs_the_jobs_of_an_endpoint_at_once(api, redis, endpoint):
    ids = [api.run(endpoint, {"sleep": 1}) for _ in range(6)]
    ended = [api.wait(endpoint, i) for i in ids]
    assert {e["status"] for e in ended} == {"COMPLETED"}
    assert len({e["output"]["pid"] for e in ended}) == 1 and len({e["workerId"] for e in ended}) == 1
    assert overlap(redis, ids)


@pytest.mark.parametrize("endpoint", MODES)
def test_each_running_job_shows_in_progress_with_its_worker_and_then_its_times(api, endpoint):
    ids = [api.run(endpoint, {"sleep": 1.5}) for _ in range(3)]
    assert wait_until(lambda: set(ids) <= set(running(api, endpoint)), 15)
    for job_id in ids:
        body = api.get(f"/v2/{endpoint}/status/{job_id}").get_json()
        assert body["status"] == "IN_PROGRESS" and body["workerId"].startswith("many-worker@")
        assert body["delayTime"] >= 0
    for job_id in ids:
        body = api.wait(endpoint, job_id)
        assert body["status"] == "COMPLETED" and body["executionTime"] >= 1000 and "delayTime" in body


@pytest.mark.parametrize("endpoint", MODES)
def test_progress_of_concurrent_jobs_shows_on_each_its_own(api, endpoint):
    ids = [api.run(endpoint, {"sleep": 2, "progress": True}) for _ in range(3)]

    def shown():
        return all(api.get(f"/v2/{endpoint}/status/{i}").get_json().get("output") == {"job": i} for i in ids)

    assert wait_until(shown, 15)


def test_concurrent_async_generators_stream_their_own_chunks_in_order(api, redis):
    ids = [api.run("many-stream", {"chunks": 5, "sleep": 0.1}) for _ in range(4)]
    for job_id in ids:
        assert api.wait("many-stream", job_id)["status"] == "COMPLETED"
        chunks = api.get(f"/v2/many-stream/stream/{job_id}").get_json()["stream"]
        assert [c["output"] for c in chunks] == [{"job": job_id, "k": k} for k in range(5)]
    assert overlap(redis, ids)


@pytest.mark.parametrize("endpoint", MODES)
def test_cancel_stops_one_job_and_leaves_the_others_running(api, endpoint):
    ids = [api.run(endpoint, {"sleep": 3}) for _ in range(4)]
    assert wait_until(lambda: set(ids) <= set(running(api, endpoint)), 15)
    assert api.post(f"/v2/{endpoint}/cancel/{ids[0]}").get_json()["status"] == "CANCELLED"
    # The stopped job leaves its slot at once, long before the others end.
    assert wait_until(lambda: ids[0] not in running(api, endpoint), 2)
    assert set(ids[1:]) <= set(running(api, endpoint))
    assert [api.wait(endpoint, i)["status"] for i in ids[1:]] == ["COMPLETED"] * 3
    assert api.get(f"/v2/{endpoint}/status/{ids[0]}").get_json()["status"] == "CANCELLED"


@pytest.mark.parametrize("endpoint", MODES)
def test_execution_timeout_times_out_that_job_alone(api, endpoint):
    late = api.run(endpoint, {"sleep": 30}, policy={"executionTimeout": 5000})
    others = [api.run(endpoint, {"sleep": 6}) for _ in range(2)]
    body = api.wait(endpoint, late)
    assert body["status"] == "TIMED_OUT" and "5000 ms" in body["error"]
    assert [api.wait(endpoint, i)["status"] for i in others] == ["COMPLETED"] * 2


def test_a_handler_ignoring_its_cancel_is_abandoned_after_the_grace_and_frees_its_slot(api):
    # stop_grace_s is 2 in the test settings; the handler would go on for 30 s.
    stubborn = api.run("many-async", {"sleep": 30, "stubborn": True})
    assert wait_until(lambda: stubborn in running(api, "many-async"), 15)
    api.post(f"/v2/many-async/cancel/{stubborn}")
    assert wait_until(lambda: stubborn not in running(api, "many-async"), 10)
    assert api.post("/v2/many-async/runsync", json={"input": {"sleep": 0}}).get_json()["status"] == "COMPLETED"
    assert api.get(f"/v2/many-async/status/{stubborn}").get_json()["status"] == "CANCELLED"


def test_ttl_removes_that_job_alone_even_mid_run(api):
    short_lived = api.run("many-async", {"sleep": 30}, policy={"ttl": 10_000})
    other = api.run("many-async", {"sleep": 12})
    assert wait_until(lambda: api.get(f"/v2/many-async/status/{short_lived}").status_code == 404, 20)
    assert wait_until(lambda: short_lived not in running(api, "many-async"), 5)
    assert api.wait("many-async", other)["status"] == "COMPLETED"


def test_a_failed_concurrent_job_fails_alone_and_can_be_retried(api):
    failing = api.run("many-async", {"sleep": 0.5, "fail": "boom"})
    fine = api.run("many-async", {"sleep": 0.5})
    body = api.wait("many-async", failing)
    assert body["status"] == "FAILED" and "boom" in body["error"]
    assert api.wait("many-async", fine)["status"] == "COMPLETED"
    assert api.post(f"/v2/many-async/retry/{failing}").get_json()["status"] == "IN_QUEUE"
    assert api.wait("many-async", failing)["status"] == "FAILED"
    assert api.get(f"/v2/many-async/status/{failing}").get_json()["retries"] == 1


def test_each_concurrent_job_calls_its_own_webhook(api):
    from tests.integration.test_webhooks import Receiver

    receivers = [Receiver() for _ in range(3)]
    try:
        ids = [api.run("many-async", {"sleep": 1}, webhook=r.url) for r in receivers]
        for receiver, job_id in zip(receivers, ids):
            assert wait_until(lambda r=receiver: r.calls, 20)
            import json

            assert json.loads(receiver.calls[0][1])["id"] == job_id
    finally:
        for r in receivers:
            r.close()


def test_workers_lists_every_job_a_process_runs_and_its_max_concurrency(api):
    ids = [api.run("many-async", {"sleep": 2}) for _ in range(3)]
    assert wait_until(lambda: set(ids) <= set(running(api, "many-async")), 15)
    (worker,) = api.get("/v2/many-async/workers").get_json()["workers"]
    assert set(worker["jobs"]) == set(ids) and worker["jobId"] in ids
    # Slots of the endpoints it serves: 8 + 8 + 8, and batched: 2 calls of 4 and the next 4 gathering.
    assert worker["maxConcurrency"] == 36
    assert worker["state"] == "running"


def test_health_counts_a_process_running_some_of_its_slots_as_running(api):
    job_id = api.run("many-async", {"sleep": 2})
    assert wait_until(lambda: job_id in running(api, "many-async"), 15)
    workers = api.get("/v2/many-async/health").get_json()["workers"]
    assert workers["running"] == 1 and workers["idle"] == 0
    # For another endpoint it serves, the process has free slots: idle, not throttled.
    assert api.get("/v2/many-sync/health").get_json()["workers"]["idle"] == 1


def test_worker_metrics_count_the_slots_in_use(api, many_worker):
    url = f"http://127.0.0.1:{many_worker['metrics_port']}/metrics"

    def gauge(name: str) -> float:
        for line in requests.get(url, timeout=5).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return -1.0

    ids = [api.run("many-async", {"sleep": 2}) for _ in range(3)]
    assert wait_until(lambda: set(ids) <= set(running(api, "many-async")), 15)
    assert wait_until(lambda: gauge("jobgate_worker_busy_slots") == 3, 5)
    assert gauge("jobgate_worker_slots") == 36
    for job_id in ids:
        api.wait("many-async", job_id)
    time.sleep(0.2)
    assert wait_until(lambda: gauge("jobgate_worker_busy_slots") == 0, 5)
