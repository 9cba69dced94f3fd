"""jobgate's own Python client (app/client.py) against the live gateway."""

import pytest

from app.client import ApiError, Client, WaitTimeout
from tests.helpers import API_KEY


@pytest.fixture
def client(gateway_url) -> Client:
    return Client(gateway_url, key=API_KEY)


def test_run_then_wait_follows_the_job_to_its_output(client):
    job = client.run("echo", {"x": 1})
    assert job.status == "IN_QUEUE" and not job.terminal
    done = client.wait("echo", job.id)
    assert done.succeeded and done.output == {"echo": {"x": 1}}
    assert done.execution_time_ms is not None and done.worker_id


def test_wait_reports_each_poll_to_on_update(client):
    seen = []
    client.wait("echo", client.run("echo", {"sleep": 1.5}).id, on_update=seen.append)
    assert seen[-1].status == "COMPLETED" and len(seen) >= 2


def test_wait_past_its_timeout_raises_with_the_job_as_it_is(client):
    job = client.run("unserved", {"x": 1})
    with pytest.raises(WaitTimeout) as caught:
        client.wait("unserved", job.id, timeout_s=1)
    assert caught.value.job.status == "IN_QUEUE"


def test_runsync_returns_the_finished_job(client):
    job = client.runsync("echo", {"x": 1})
    assert job.id.startswith("sync-") and job.succeeded and job.output == {"echo": {"x": 1}}


def test_runsync_past_its_wait_returns_a_pending_job(client):
    job = client.runsync("echo", {"sleep": 3}, wait_ms=1000)
    assert job.status in ("IN_QUEUE", "IN_PROGRESS")
    assert client.wait("echo", job.id).succeeded


def test_failed_job_carries_its_error(client):
    job = client.runsync("echo", {"fail": "boom"})
    assert job.status == "FAILED" and job.terminal and not job.succeeded and "boom" in job.error


def test_policy_is_sent_with_the_job(client):
    job = client.run("echo", {"sleep": 30}, policy={"executionTimeout": 5000})
    assert client.wait("echo", job.id, timeout_s=40).status == "TIMED_OUT"


def test_cancel_retry_and_purge(client):
    queued = client.run("unserved", 1)
    assert client.cancel("unserved", queued.id).status == "CANCELLED"
    failed = client.runsync("echo", {"fail": "again"})
    retried = client.retry("echo", failed.id)
    assert retried.id == failed.id and retried.status == "IN_QUEUE"
    client.run("unserved", 2)
    assert client.purge("unserved") == 1


def test_health_returns_job_and_worker_counts(client):
    health = client.health("echo")
    assert {"jobs", "workers"} == health.keys() and "idle" in health["workers"]


def test_api_errors_carry_status_and_message(client, gateway_url):
    with pytest.raises(ApiError) as caught:
        client.status("echo", "no-such-job")
    assert caught.value.status == 404 and "not found" in caught.value.message
    with pytest.raises(ApiError) as caught:
        Client(gateway_url, key="wrong").health("echo")
    assert caught.value.status == 401


def test_from_env_reads_url_and_key(monkeypatch, gateway_url):
    monkeypatch.setenv("JOBGATE_URL", gateway_url)
    monkeypatch.setenv("JOBGATE_API_KEY", API_KEY)
    assert Client.from_env().runsync("echo", 5).output == {"echo": 5}


def test_iter_stream_yields_each_chunk_once_until_the_end(client):
    job = client.run("echo-stream", {"chunks": 3, "sleep": 0.3})
    assert list(client.iter_stream("echo-stream", job.id)) == [{"chunk": k} for k in range(3)]
