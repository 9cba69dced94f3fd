"""Webhooks go to public addresses only (plus JOBGATE_WEBHOOK_ALLOW_NETS): refused at submission
with a 400 naming ``webhook``, and checked again by the worker against the address it connects to.

The tests' stack allows 127.0.0.0/8 (its receivers listen there) and nothing else.
"""

from __future__ import annotations

import pytest

from tests.helpers import wait_until
from tests.integration.test_webhooks import Receiver


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254, a link-local address"),
        ("http://10.0.0.7/hook", "10.0.0.7, a private address"),
        ("http://192.168.1.1:8080/", "192.168.1.1, a private address"),
        ("http://[::1]:8080/", "::1, a loopback address"),
        ("http://[fd00::1]/", "fd00::1, a private address"),
        ("http://0.0.0.0:9/", "0.0.0.0, an unspecified address"),
        ("http://224.0.0.1/", "224.0.0.1, a multicast address"),
        ("ftp://example.com/", "Not a valid URL"),
        ("http://nowhere.invalid/", "the host nowhere.invalid does not resolve"),
    ],
)
def test_a_refused_destination_is_400_naming_webhook(api, redis, url, why):
    r = api.post("/v2/echo/run", json={"input": 1, "webhook": url})
    assert r.status_code == 400, r.get_json()
    body = r.get_json()
    assert "webhook" in body["errors"]
    assert body["error"].startswith("webhook: ") and why in body["error"], body["error"]
    assert redis.llen("jobgate.echo") == 0


def test_an_allowed_range_is_accepted(api):
    receiver = Receiver()
    try:
        r = api.post("/v2/echo/run", json={"input": 1, "webhook": receiver.url})
        assert r.status_code == 200
        job_id = r.get_json()["id"]
        assert wait_until(lambda: api.get(f"/v2/echo/status/{job_id}").get_json().get("webhookStatus") == "delivered")
    finally:
        receiver.close()


def test_the_worker_checks_the_destination_again_and_does_not_retry_a_refusal(api, redis):
    receiver = Receiver()
    try:
        # Accepted at submission, then (as a DNS answer that changed would) pointing inside.
        job_id = api.run("echo", {"sleep": 1}, webhook=receiver.url)
        redis.hset(f"jg:job:{job_id}", "webhook", "http://10.0.0.7:9/hook")

        def status():
            return api.get(f"/v2/echo/status/{job_id}").get_json().get("webhookStatus", "")

        assert wait_until(lambda: status().startswith("failed"), 30)
        assert status().startswith("failed (refused: 10.0.0.7, a private address")
        assert receiver.calls == []
    finally:
        receiver.close()
