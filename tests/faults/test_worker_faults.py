"""Workers die (SIGKILL of a pool process, of a whole worker, a crashing handler) or are stopped."""

import os
import signal
import time

from tests.faults.conftest import H, counts, report, since
from tests.helpers import wait_until


def test_a_job_whose_pool_process_is_killed_is_delivered_again_and_completes(stack):
    stack.start_worker("w", ["echo"], concurrency=2)
    job_id = stack.run("echo", {"sleep": 2})
    running = wait_until(lambda: stack.running("w").get(job_id), 30)
    os.kill(running, signal.SIGKILL)
    t0 = time.monotonic()
    ended = stack.wait_ended("echo", [job_id], 60)
    recovered = since(t0)
    assert ended[job_id]["status"] == "COMPLETED"
    assert ended[job_id]["output"] == {"echo": {"sleep": 2}}
    assert stack.record(job_id)["deliveries"] == "2"
    report("pool process killed", **counts(ended), recover_s=recovered, deliveries=2)


def test_a_handler_that_kills_its_process_every_time_ends_failed_after_the_bound(stack):
    stack.start_worker("w", ["echo"], concurrency=2)
    t0 = time.monotonic()
    job_id = stack.run("echo", {"crash": True})
    ended = stack.wait_ended("echo", [job_id], 90)
    body = ended[job_id]
    assert body["status"] == "FAILED"
    assert "worker lost 3 times" in body["error"]
    assert stack.record(job_id)["deliveries"] == "3"  # JOBGATE_MAX_DELIVERIES, default 3
    assert stack.workers["w"].poll() is None  # the worker itself lives on
    report("handler crashes its process every time", **counts(ended), failed_after_s=since(t0), deliveries=3)


def test_a_whole_worker_lost_mid_job_is_taken_back_by_the_reaper_within_a_minute(stack):
    stack.start_worker("a", ["echo"])
    job_id = stack.run("echo", {"sleep": 3})
    assert wait_until(lambda: stack.running("a").get(job_id), 30)
    stack.start_worker("b", ["echo"])
    stack.kill_worker("a")  # main and pool processes: no one acknowledges or requeues anything
    t0 = time.monotonic()
    ended = stack.wait_ended("echo", [job_id], 60)
    recovered = since(t0)
    assert ended[job_id]["status"] == "COMPLETED"
    assert ended[job_id]["workerId"].startswith("b@")
    assert stack.record(job_id)["deliveries"] == "2"
    assert "back in the echo queue" in stack.log("gateway")
    report("whole worker killed (lost host)", **counts(ended), recover_s=recovered, deliveries=2)


def test_sigterm_lets_jobs_finish_within_the_grace_and_requeues_the_rest(stack):
    worker = stack.start_worker("a", ["echo"], concurrency=2, JOBGATE_WORKER_GRACE_S="3")
    short, long = stack.run("echo", {"sleep": 1}), stack.run("echo", {"sleep": 30})
    assert wait_until(lambda: {short, long} <= stack.running("a").keys(), 30)
    stack.kill_worker("a", signal.SIGTERM)  # the whole process group, as systemd or honcho do
    t0 = time.monotonic()
    worker.wait(30)
    stopped = since(t0)
    assert stack.status("echo", short)["status"] == "COMPLETED"
    assert stack.record(short)["deliveries"] == "1"
    # The long job was stopped, not acknowledged: its message is back in the queue.
    assert stack.status("echo", long)["status"] in ("IN_QUEUE", "IN_PROGRESS")
    assert stack.redis.llen("jobgate.echo") == 1 and stack.redis.hlen("unacked") == 0
    stack.start_worker("b", ["echo"])
    ended = stack.wait_ended("echo", [long], 60)
    assert ended[long]["status"] == "COMPLETED" and stack.record(long)["deliveries"] == "2"
    report("SIGTERM with a 3 s grace", submitted=2, completed=2, failed=0, lost=0, worker_stopped_s=stopped, requeued=1)


def test_a_leaking_handler_is_contained_by_max_memory_per_child(stack):
    stack.start_worker("w", ["leaky"])
    first = stack.run("leaky", {"mb": 200})
    pid_before = stack.wait_ended("leaky", [first], 60)[first]["output"]
    second = stack.run("leaky", {"mb": 1})
    pid_after = stack.wait_ended("leaky", [second], 60)[second]["output"]
    assert pid_after != pid_before  # the bloated process was replaced after its job
    assert stack.workers["w"].poll() is None
    report(
        "handler leaks 200 MB (max_memory_per_child 150 MB)",
        submitted=2,
        completed=2,
        failed=0,
        lost=0,
        process_replaced=True,
    )


def test_cancel_still_stops_a_running_job_though_pool_processes_ignore_sigterm(stack):
    stack.start_worker("w", ["echo"])
    job_id = stack.run("echo", {"sleep": 30})
    assert wait_until(lambda: stack.running("w").get(job_id), 30)
    r = stack.http.post(f"{stack.url}/v2/echo/cancel/{job_id}", headers=H, timeout=10)
    assert r.json()["status"] == "CANCELLED"
    assert wait_until(lambda: not stack.running("w"), 15)  # the handler was stopped, not waited for
    assert stack.status("echo", job_id)["status"] == "CANCELLED"
