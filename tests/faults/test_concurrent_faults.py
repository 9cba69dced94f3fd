"""A concurrent worker process (many jobs at once) is killed or stopped: every job it held comes back."""

import signal
import time

from tests.faults.conftest import counts, report, since
from tests.helpers import wait_until

E = "echo-many"  # max_concurrency = 4


def jobs_of(stack, name: str) -> set[str]:
    """The jobs the worker's process says it runs (its heartbeat)."""
    return {j for h in stack.processes(name).values() for j in (h.get("jobs") or "").split(",") if j}


def test_a_killed_concurrent_process_gives_all_its_jobs_back_and_each_completes_once_more(stack):
    stack.start_worker("a", [E])
    ids = [stack.run(E, {"sleep": 3}) for _ in range(4)]
    assert wait_until(lambda: jobs_of(stack, "a") == set(ids), 30)
    stack.start_worker("b", [E])
    stack.kill_worker("a")  # SIGKILL: no one acknowledges or requeues anything
    t0 = time.monotonic()
    ended = stack.wait_ended(E, ids, 90)
    recovered = since(t0)
    assert {body["status"] for body in ended.values()} == {"COMPLETED"}
    assert {body["workerId"].split("@")[0] for body in ended.values()} == {"b"}
    assert [stack.record(i)["deliveries"] for i in ids] == ["2"] * 4
    report("concurrent process killed with 4 jobs in flight", **counts(ended), recover_s=recovered, deliveries=2)


def test_sigterm_lets_every_job_in_flight_finish_within_the_grace_and_requeues_the_rest(stack):
    worker = stack.start_worker("a", [E], JOBGATE_WORKER_GRACE_S="4")
    short = [stack.run(E, {"sleep": 1}) for _ in range(3)]
    long = stack.run(E, {"sleep": 15})
    assert wait_until(lambda: jobs_of(stack, "a") == {*short, long}, 30)
    stack.kill_worker("a", signal.SIGTERM)  # the whole process group, as systemd or honcho do
    t0 = time.monotonic()
    worker.wait(30)
    stopped = since(t0)
    assert [stack.status(E, i)["status"] for i in short] == ["COMPLETED"] * 3
    assert [stack.record(i)["deliveries"] for i in short] == ["1"] * 3
    # The long job was stopped, not acknowledged: its message is back in the queue.
    assert stack.status(E, long)["status"] in ("IN_QUEUE", "IN_PROGRESS")
    assert stack.redis.llen(f"jobgate.{E}") == 1 and stack.redis.hlen("unacked") == 0
    stack.start_worker("b", [E])
    ended = stack.wait_ended(E, [long], 90)
    assert ended[long]["status"] == "COMPLETED" and stack.record(long)["deliveries"] == "2"
    report("SIGTERM of a concurrent process, 4 s grace", submitted=4, completed=4, lost=0, worker_stopped_s=stopped)


def test_sigterm_also_requeues_the_jobs_held_waiting_for_a_slot(stack):
    # max_concurrency 4: the process runs 4 and holds the next 4, not started, until slots free.
    worker = stack.start_worker("a", [E], JOBGATE_WORKER_GRACE_S="2")
    ids = [stack.run(E, {"sleep": 20}) for _ in range(8)]
    assert wait_until(lambda: len(jobs_of(stack, "a")) == 4 and stack.redis.llen(f"jobgate.{E}") == 0, 30)
    stack.kill_worker("a", signal.SIGTERM)
    t0 = time.monotonic()
    worker.wait(30)
    stopped = since(t0)
    assert stack.redis.llen(f"jobgate.{E}") == 8 and stack.redis.hlen("unacked") == 0
    stack.start_worker("b", [E])
    ended = stack.wait_ended(E, ids, 120)
    assert {body["status"] for body in ended.values()} == {"COMPLETED"}
    report("SIGTERM of a concurrent process holding 4 waiting jobs", **counts(ended), worker_stopped_s=stopped)
