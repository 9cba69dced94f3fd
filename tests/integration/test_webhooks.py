"""Webhooks: the final status POSTed by a Celery task, signed, retried, its outcome kept on the job."""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.core.clock import now_ms
from tests.helpers import WEBHOOK_SECRET, wait_until


class Receiver:
    """A small HTTP server on 127.0.0.1 that records each POST and answers scripted statuses."""

    def __init__(self, statuses=(200,), delay_s=0.0):
        self.statuses = list(statuses)
        self.delay_s = delay_s
        self.calls = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                time.sleep(receiver.delay_s)
                code = receiver.statuses[min(len(receiver.calls), len(receiver.statuses)) - 1]
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made = []

    def make(**kw):
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


def webhook_status(api, endpoint, job_id):
    return api.get(f"/v2/{endpoint}/status/{job_id}").get_json().get("webhookStatus")


def test_webhook_posts_the_status_json_with_a_valid_signature(api, receiver_factory):
    receiver = receiver_factory()
    job_id = api.run("echo", {"x": 1}, webhook=receiver.url)
    assert wait_until(lambda: receiver.calls, 30)
    headers, raw = receiver.calls[0]
    status = api.get(f"/v2/echo/status/{job_id}").get_json()
    status.pop("webhookStatus", None)
    assert json.loads(raw) == status and status["status"] == "COMPLETED"
    timestamp = headers["X-Jobgate-Timestamp"]
    expected = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
    assert headers["X-Jobgate-Signature"] == f"sha256={expected}"
    assert abs(time.time() - int(timestamp)) < 120
    assert headers["Content-Type"] == "application/json"


def test_delivered_webhook_is_recorded_on_the_job(api, receiver_factory):
    receiver = receiver_factory()
    job_id = api.run("echo", 1, webhook=receiver.url)
    assert wait_until(lambda: webhook_status(api, "echo", job_id) == "delivered", 30)
    assert len(receiver.calls) == 1


def test_failed_job_sends_its_error(api, receiver_factory):
    receiver = receiver_factory()
    api.run("echo", {"fail": "boom"}, webhook=receiver.url)
    assert wait_until(lambda: receiver.calls, 30)
    body = json.loads(receiver.calls[0][1])
    assert body["status"] == "FAILED" and "boom" in body["error"]


def test_cancelled_job_sends_cancelled(api, receiver_factory):
    receiver = receiver_factory()
    job_id = api.run("unserved", 1, webhook=receiver.url)
    api.post(f"/v2/unserved/cancel/{job_id}")
    assert wait_until(lambda: receiver.calls, 30)
    assert json.loads(receiver.calls[0][1]) == {"id": job_id, "status": "CANCELLED"}


def test_receiver_failing_then_recovering_gets_it_on_a_later_attempt(api, receiver_factory):
    receiver = receiver_factory(statuses=(503, 200))
    job_id = api.run("echo", 1, webhook=receiver.url)
    assert wait_until(lambda: webhook_status(api, "echo", job_id) == "delivered", 30)
    assert len(receiver.calls) == 2
    assert receiver.calls[0][1] == receiver.calls[1][1]


def test_dead_receiver_gets_three_attempts_then_the_job_records_the_failure(api, receiver_factory):
    receiver = receiver_factory(statuses=(500,))
    job_id = api.run("echo", 1, webhook=receiver.url)
    assert wait_until(lambda: webhook_status(api, "echo", job_id) == "failed (HTTP 500)", 30)
    time.sleep(1)
    assert len(receiver.calls) == 3
    assert api.get(f"/v2/echo/status/{job_id}").get_json()["status"] == "COMPLETED"


def test_unreachable_receiver_fails_the_delivery_not_the_job(api):
    job_id = api.run("echo", 1, webhook="http://127.0.0.1:9/nobody")
    assert wait_until(lambda: (webhook_status(api, "echo", job_id) or "").startswith("failed ("), 30)
    assert api.get(f"/v2/echo/status/{job_id}").get_json()["status"] == "COMPLETED"


def test_slow_receiver_does_not_hold_up_the_job(api, receiver_factory):
    receiver = receiver_factory(delay_s=5)
    body = api.post("/v2/echo/runsync", json={"input": 1, "webhook": receiver.url}).get_json()
    assert body["status"] == "COMPLETED"
    assert webhook_status(api, "echo", body["id"]) == "pending"
    assert wait_until(lambda: webhook_status(api, "echo", body["id"]) == "delivered", 30)


def test_job_without_webhook_has_no_webhook_status(api):
    body = api.post("/v2/echo/runsync", json={"input": 1}).get_json()
    assert "webhookStatus" not in api.get(f"/v2/echo/status/{body['id']}").get_json()


def test_a_job_removed_by_its_policy_ttl_sends_expired(api, receiver_factory):
    receiver = receiver_factory()
    job_id = api.run("echo", {"sleep": 60}, policy={"ttl": 10_000}, webhook=receiver.url)
    assert wait_until(lambda: receiver.calls, 40)
    body = json.loads(receiver.calls[0][1])
    assert body["id"] == job_id and body["status"] == "EXPIRED"
    assert body["error"] == "policy.ttl of 10000 ms passed before the job finished; it was removed"
    assert body["executionTime"] > 0 and body["workerId"]
    assert "policy.ttl passed" in api.get(f"/v2/echo/status/{job_id}").get_json()["error"]


def test_a_queued_job_past_its_policy_ttl_sends_expired_from_the_reaper(app, api, redis, receiver_factory):
    receiver = receiver_factory()
    job_id = api.run("unserved", 1, policy={"ttl": 10_000}, webhook=receiver.url)
    # Its record outlives the ttl by a grace, for the reaper to send the webhook.
    assert 69_000 < redis.pttl(f"jg:job:{job_id}") <= 70_000
    reaper = app.extensions["jobgate"].reaper
    assert reaper.expire_queued(now_ms()) == []  # not yet due
    assert reaper.expire_queued(now_ms() + 10_001) == [job_id]
    assert wait_until(lambda: receiver.calls, 30)
    body = json.loads(receiver.calls[0][1])
    assert body == {
        "id": job_id,
        "status": "EXPIRED",
        "error": "policy.ttl of 10000 ms passed before the job finished; it was removed",
    }
    assert "policy.ttl passed" in api.get(f"/v2/unserved/status/{job_id}").get_json()["error"]


def test_a_queued_job_past_its_ttl_reads_expired_before_the_reaper_passes(api):
    job_id = api.run("unserved", 1, policy={"ttl": 10_000}, webhook="http://127.0.0.1:9/hook")
    assert wait_until(lambda: api.get(f"/v2/unserved/status/{job_id}").status_code == 404, 15, 0.5)
    assert "policy.ttl passed" in api.get(f"/v2/unserved/status/{job_id}").get_json()["error"]
