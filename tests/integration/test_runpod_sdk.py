"""The unchanged ``runpod`` SDK (client side) against a live gateway: each call as RunPod users write it."""

import asyncio
import threading

import aiohttp
import pytest
import requests
import runpod

from tests.helpers import API_KEY, start_gateway, stop, wait_until


@pytest.fixture
def sdk(gateway_url, monkeypatch):
    """The SDK pointed at the gateway, as RUNPOD_ENDPOINT_BASE_URL and runpod.api_key would."""
    monkeypatch.setattr(runpod, "api_key", API_KEY)
    monkeypatch.setattr(runpod, "endpoint_url_base", f"{gateway_url}/v2")
    return runpod


@pytest.fixture(scope="module")
def short_wait_url(settings, worker, tmp_path_factory):
    """A second gateway whose /runsync default wait is 1 s (JOBGATE_RUNSYNC_WAIT_MS)."""
    proc, url = start_gateway(
        settings, tmp_path_factory.mktemp("short") / "gateway.log", JOBGATE_RUNSYNC_WAIT_MS="1000"
    )
    yield url
    stop(proc)


def in_progress(job) -> bool:
    return job.status() == "IN_PROGRESS"


# -- runpod.Endpoint ----------------------------------------------------------------------
def test_endpoint_run_returns_a_job_whose_output_is_the_handler_result(sdk):
    job = sdk.Endpoint("echo").run({"input": {"x": 1}})
    assert job.output(timeout=30) == {"echo": {"x": 1}}


def test_endpoint_run_wraps_a_bare_input(sdk):
    job = sdk.Endpoint("echo").run({"x": 1})
    assert job.output(timeout=30) == {"echo": {"x": 1}}


def test_endpoint_run_forwards_the_policy(sdk):
    job = sdk.Endpoint("echo").run({"input": {"sleep": 30}, "policy": {"executionTimeout": 5000}})
    assert wait_until(lambda: job.status() == "TIMED_OUT", 40)


def test_job_status_reports_the_wire_states(sdk):
    assert sdk.Endpoint("unserved").run({"x": 1}).status() == "IN_QUEUE"
    job = sdk.Endpoint("echo").run({"x": 1})
    job.output(timeout=30)
    assert job.status() == "COMPLETED"


def test_job_output_with_a_timeout_raises_timeouterror_while_the_job_waits(sdk):
    job = sdk.Endpoint("unserved").run({"x": 1})
    with pytest.raises(TimeoutError):
        job.output(timeout=2)


def test_run_sync_returns_the_output(sdk):
    assert sdk.Endpoint("echo").run_sync({"x": 1}, timeout=60) == {"echo": {"x": 1}}


def test_run_sync_of_a_failed_job_returns_none(sdk):
    # The SDK returns `output` only; a failed job has none (its error text is dropped).
    assert sdk.Endpoint("echo").run_sync({"fail": "boom"}, timeout=60) is None


def test_run_sync_longer_than_the_runsync_wait_falls_back_to_polling(gateway_url, short_wait_url, monkeypatch):
    monkeypatch.setattr(runpod, "api_key", API_KEY)
    monkeypatch.setattr(runpod, "endpoint_url_base", f"{short_wait_url}/v2")
    assert runpod.Endpoint("echo").run_sync({"sleep": 3}, timeout=60) == {"echo": {"sleep": 3}}


def test_endpoint_health_reports_jobs_and_workers(sdk):
    sdk.Endpoint("echo").run_sync({"x": 1}, timeout=60)
    health = sdk.Endpoint("echo").health()
    assert health["jobs"]["completed"] >= 1 and set(health["jobs"]) == {
        "completed",
        "failed",
        "inProgress",
        "inQueue",
        "retried",
    }
    assert sum(health["workers"].values()) >= 1


def test_endpoint_purge_queue_removes_the_queued_jobs(sdk):
    endpoint = sdk.Endpoint("unserved")
    jobs = [endpoint.run({"n": n}) for n in range(3)]
    assert endpoint.purge_queue() == {"removed": 3, "status": "completed"}
    with pytest.raises(requests.HTTPError):
        jobs[0].status()


def test_job_cancel_of_a_queued_job_cancels_it(sdk):
    job = sdk.Endpoint("unserved").run({"x": 1})
    assert job.cancel() == {"id": job.job_id, "status": "CANCELLED"}
    assert job.status() == "CANCELLED"


def test_job_cancel_of_a_running_job_stops_it(sdk):
    job = sdk.Endpoint("echo").run({"sleep": 30})
    assert wait_until(lambda: in_progress(job), 15)
    assert job.cancel()["status"] == "CANCELLED"
    assert job.status() == "CANCELLED"
    assert sdk.Endpoint("echo").run_sync({"after": 1}, timeout=60) == {"echo": {"after": 1}}


def test_job_stream_yields_each_chunk_then_ends(sdk):
    job = sdk.Endpoint("echo-stream").run({"chunks": 3, "sleep": 0.5})
    assert list(job.stream()) == [{"chunk": 0}, {"chunk": 1}, {"chunk": 2}]


def test_job_stream_of_a_cancelled_job_never_ends(sdk):
    # Documented SDK limitation: CANCELLED is not in the SDK's FINAL_STATES, so Job.stream
    # polls forever. The loop runs in a daemon thread and is left behind after 4 s.
    job = sdk.Endpoint("unserved").run({"x": 1})
    job.cancel()
    done = threading.Event()

    def consume() -> None:
        try:
            list(job.stream())
            done.set()
        except requests.HTTPError:
            pass  # the next test's cleanup removes the job: the loop then ends with a 404

    threading.Thread(target=consume, daemon=True).start()
    assert not done.wait(4)


def test_sdk_retries_a_rate_limited_get_after_its_retry_after(sdk, gateway_url):
    # `rate-limited` allows 2 health calls a second; the SDK's urllib3 Retry (http:// only,
    # GETs only) waits out a 429's Retry-After and tries again.
    url, auth = f"{gateway_url}/v2/rate-limited/health", {"Authorization": f"Bearer {API_KEY}"}
    statuses = [requests.get(url, headers=auth).status_code for _ in range(3)]
    assert statuses[-1] == 429
    assert set(sdk.Endpoint("rate-limited").health(timeout=10)) == {"jobs", "workers"}


def test_wrong_key_raises_the_sdks_unauthorized_error(sdk):
    with pytest.raises(RuntimeError, match="401"):
        sdk.Endpoint("echo", api_key="wrong").run({"x": 1})


def test_unknown_job_status_raises_http_error(sdk):
    from runpod.endpoint.runner import Job, RunPodClient

    with pytest.raises(requests.HTTPError):
        Job("echo", "no-such-job", RunPodClient()).status()


# -- runpod.AsyncioEndpoint ---------------------------------------------------------------
def run_async(coro):
    return asyncio.run(coro)


async def _with_endpoint(eid, body):
    async with aiohttp.ClientSession() as session:
        return await body(runpod.AsyncioEndpoint(eid, session))


def test_async_run_then_output(sdk):
    async def body(endpoint):
        job = await endpoint.run({"x": 1})
        return await job.output(timeout=30)

    assert run_async(_with_endpoint("echo", body)) == {"echo": {"x": 1}}


def test_async_status_reports_in_queue(sdk):
    async def body(endpoint):
        return await (await endpoint.run({"x": 1})).status()

    assert run_async(_with_endpoint("unserved", body)) == "IN_QUEUE"


def test_async_output_without_a_timeout_raises_at_once(sdk):
    # SDK quirk: output()'s default timeout=0 gives asyncio.wait_for no time at all.
    async def body(endpoint):
        job = await endpoint.run({"x": 1})
        with pytest.raises(TimeoutError):
            await job.output()
        return await job.output(timeout=30)

    assert run_async(_with_endpoint("echo", body)) == {"echo": {"x": 1}}


def test_async_health_and_purge_queue(sdk):
    async def body(endpoint):
        await endpoint.run({"x": 1})
        return await endpoint.health(), await endpoint.purge_queue()

    health, purged = run_async(_with_endpoint("unserved", body))
    assert health["jobs"]["inQueue"] == 1
    assert purged == {"removed": 1, "status": "completed"}


def test_async_cancel(sdk):
    async def body(endpoint):
        job = await endpoint.run({"sleep": 30})
        for _ in range(30):
            if await job.status() == "IN_PROGRESS":
                break
            await asyncio.sleep(0.5)
        return await job.cancel(), await job.status()

    cancelled, status = run_async(_with_endpoint("echo", body))
    assert cancelled["status"] == "CANCELLED" and status == "CANCELLED"


def test_async_stream_yields_each_chunk_then_ends(sdk):
    async def body(endpoint):
        job = await endpoint.run({"chunks": 3, "sleep": 0.5})
        return [chunk async for chunk in job.stream()]

    assert run_async(_with_endpoint("echo-stream", body)) == [{"chunk": k} for k in range(3)]
