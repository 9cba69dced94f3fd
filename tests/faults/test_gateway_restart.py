"""The gateway dies under a waiting /runsync: the job runs on and stays readable."""

import threading
import time

import requests

from tests.faults.conftest import H, counts, report, since
from tests.helpers import wait_until


def test_a_gateway_restart_during_runsync_leaves_the_job_running_and_readable(stack):
    stack.start_worker("w", ["echo"])
    outcome: dict = {}

    def runsync() -> None:
        try:
            requests.post(
                f"{stack.url}/v2/echo/runsync?wait=60000", json={"input": {"sleep": 3}}, headers=H, timeout=90
            )
            outcome["answer"] = "answered"
        except requests.RequestException as exc:
            outcome["answer"] = type(exc).__name__

    client = threading.Thread(target=runsync)
    client.start()
    sync_id = wait_until(
        lambda: next(
            (
                k[len("jg:job:") :]
                for k in stack.redis.scan_iter("jg:job:sync-*")
                if stack.redis.hget(k, "status") == "IN_PROGRESS"
            ),
            None,
        ),
        30,
    )
    assert sync_id
    queued_id = stack.run("echo", {"x": 1})  # queued behind it, through the same gateway

    stack.kill_gateway()
    t0 = time.monotonic()
    client.join(30)
    assert outcome["answer"] != "answered"  # the waiting client lost its connection
    stack.start_gateway()  # a new process: it holds nothing the old one knew, Redis does
    back = since(t0)

    ended = stack.wait_ended("echo", [sync_id, queued_id], 60)
    assert ended[sync_id]["status"] == "COMPLETED" and ended[sync_id]["output"] == {"echo": {"sleep": 3}}
    assert ended[queued_id]["status"] == "COMPLETED"
    assert stack.record(sync_id)["deliveries"] == "1"  # it ran on, once
    report("gateway killed during runsync", **counts(ended), gateway_back_s=back, client_saw=outcome["answer"])
