"""100 jobs while a worker is killed twice: nothing lost, nothing run twice at once, nothing stuck."""

import os
import signal
import time

from tests.faults.conftest import TERMINAL, counts, report
from tests.helpers import wait_until

JOBS = 100
MAX_DELIVERIES = 3


def test_100_jobs_all_end_once_while_a_worker_is_killed_twice(stack):
    stack.start_worker("a", ["counted"], concurrency=2)
    stack.start_worker("b", ["counted"], concurrency=2)
    ids = [stack.run("counted", {"sleep": 0.25, "n": n}) for n in range(JOBS)]

    def completed() -> int:
        return sum(stack.redis.hget(f"jg:job:{j}", "status") == "COMPLETED" for j in ids)

    def kill_when(done: int, kill) -> tuple[float, list[str]]:
        assert wait_until(lambda: completed() >= done and stack.running("a"), 60)
        victims = kill()
        return time.monotonic(), victims

    def kill_pool_process() -> list[str]:
        job_id, pid = next(iter(stack.running("a").items()))
        os.kill(pid, signal.SIGKILL)
        return [job_id]

    def kill_whole_worker() -> list[str]:
        victims = list(stack.running("a"))
        stack.kill_worker("a")
        return victims

    t1, victims1 = kill_when(15, kill_pool_process)
    t2, victims2 = kill_when(50, kill_whole_worker)
    ended = stack.wait_ended("counted", ids, 120)

    def recovered(t0: float, victims: list[str]) -> float:
        ends = [int(stack.record(j).get("finished", 0)) / 1000 for j in victims]
        return round(max(ends) - (time.time() - (time.monotonic() - t0)), 2)

    records = {j: stack.record(j) for j in ids}
    runs = {j: int(stack.redis.get(f"test:runs:{j}") or 0) for j in ids}
    finished = {j: int(stack.redis.get(f"test:finished:{j}") or 0) for j in ids}
    deliveries = {j: int(records[j].get("deliveries", 0)) for j in ids}
    figures = counts(ended)
    figures.update(
        duplicated=sum(finished[j] > 1 or runs[j] > deliveries[j] for j in ids),
        redelivered=sum(d > 1 for d in deliveries.values()),
        max_deliveries=max(deliveries.values()),
        recover_pool_kill_s=recovered(t1, victims1),
        recover_worker_kill_s=recovered(t2, victims2),
        killed_mid_job=len(victims1) + len(victims2),
    )
    report("100 jobs, a worker killed twice", **figures)
    assert figures["lost"] == 0 and all(b["status"] in TERMINAL for b in ended.values())
    assert figures["completed"] == JOBS
    assert figures["duplicated"] == 0
    assert all(finished[j] == 1 for j in ids)  # every job's handler ran to its end exactly once
    assert max(deliveries.values()) <= MAX_DELIVERIES
    assert all(ended[j]["output"] == {"n": n} for n, j in enumerate(ids))
    assert figures["redelivered"] >= 1
    assert wait_until(lambda: stack.redis.hlen("unacked") == 0, 10)  # nothing left held
