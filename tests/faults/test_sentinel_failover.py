"""Redis Sentinel: the master's host dies under load and the fleet follows the new master by itself.

A real master, one replica and three sentinels; a gateway (gunicorn) and a worker on
``REDIS_URL=redis+sentinel://...``. A client submits /run continuously while the master is
SIGKILLed three times (each time the dead node comes back as a replica, as a supervisor would
restart it). Reported per JOBGATE_REDIS_MIN_REPLICAS: time to recover (the first accepted /run
after a kill), jobs accepted, jobs that reached a terminal state, jobs lost, 5xx answers other
than 503 (goal 0), and 503s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.faults.conftest import TERMINAL, H, Stack, report
from tests.faults.sentinel import SentinelCluster
from tests.helpers import ROOT, wait_until

KILLS = 3
PACE_S = 0.05


class Submitter:
    """Posts /run back to back from its own thread; remembers every answer."""

    def __init__(self, url: str):
        self.url = url
        # job id -> when its /run was sent
        self.accepted: dict[str, float] = {}
        self.codes: dict[int, int] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        http = requests.Session()
        n = 0
        while not self._stop.is_set():
            n += 1
            sent = time.monotonic()
            try:
                r = http.post(f"{self.url}/v2/echo/run", json={"input": {"n": n}}, headers=H, timeout=30)
            except requests.RequestException as exc:
                self.errors.append(type(exc).__name__)
                http = requests.Session()
                continue
            self.codes[r.status_code] = self.codes.get(r.status_code, 0) + 1
            if r.status_code == 200:
                self.accepted[r.json()["id"]] = sent
            elif r.status_code >= 500 and r.status_code != 503:
                self.errors.append(f"{r.status_code} {r.text[:200]}")
            # About 20 jobs a second (a 503's Retry-After, shortened: the test measures recovery).
            time.sleep(max(0.0, sent + PACE_S - time.monotonic()))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def first_accepted_after(self, t: float, timeout: float) -> float | None:
        """Seconds from ``t`` to the sending of the first /run after it that was accepted."""
        found = wait_until(lambda: min((a for a in self.accepted.values() if a > t), default=None), timeout, 0.05)
        return None if found is None else found - t


def hold_runsync(url: str, held: list[tuple[int, str]]) -> threading.Thread:
    """A /runsync call (a 3 s job) that is waiting when the master dies; its answer goes to ``held``."""

    def call() -> None:
        r = requests.post(f"{url}/v2/echo/runsync?wait=60000", json={"input": {"sleep": 3}}, headers=H, timeout=90)
        held.append((r.status_code, r.json().get("status", r.text[:200])))

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def terminal_states(stack: Stack, ids: list[str], timeout: float) -> dict[str, str]:
    """Each job's last status, polled until all are terminal or ``timeout`` passes."""
    last: dict[str, str] = {}

    def done() -> bool:
        for job_id in ids:
            if last.get(job_id) not in TERMINAL:
                last[job_id] = stack.status("echo", job_id).get("status", "NOT FOUND")
        return all(s in TERMINAL for s in last.values())

    wait_until(done, timeout, 0.5)
    return last


@pytest.mark.timeout(300)
@pytest.mark.parametrize("min_replicas", [0, 1])
def test_a_master_killed_three_times_under_load_loses_no_acknowledged_job(min_replicas: int, tmp_path: Path) -> None:
    cluster = SentinelCluster(tmp_path / "redis")
    cluster.start()
    stack = Stack(cluster.url, tmp_path, redis=cluster.client(), JOBGATE_REDIS_MIN_REPLICAS=str(min_replicas))
    submitter = Submitter(stack.url)
    recoveries: list[float | None] = []
    held: list[tuple[int, str]] = []
    holders: list[threading.Thread] = []
    try:
        stack.start_gateway()
        stack.start_worker("w", ["echo"], concurrency=2)
        submitter.start()
        assert submitter.first_accepted_after(0, 30) is not None
        for _ in range(KILLS):
            holders.append(hold_runsync(stack.url, held))
            time.sleep(2)
            t0 = time.monotonic()
            killed = cluster.kill_master()
            assert wait_until(lambda k=killed: cluster.promoted(k), 30), "no failover"
            time.sleep(1)  # the host stays down a moment before its supervisor restarts it
            cluster.restart_as_replica(killed)
            recoveries.append(submitter.first_accepted_after(t0, 60))
            assert wait_until(cluster.in_sync, 60), "the restarted node did not sync"
        time.sleep(2)
        submitter.stop()
        for holder in holders:
            holder.join(90)
        ids = list(submitter.accepted)
        states = terminal_states(stack, ids, 120)
        figures: dict[str, Any] = {
            "min_replicas": min_replicas,
            "kills": KILLS,
            "recover_s": [round(r, 2) if r is not None else None for r in recoveries],
            "accepted": len(ids),
            "terminal": sum(s in TERMINAL for s in states.values()),
            "lost": sum(s not in TERMINAL for s in states.values()),
            "answers": {str(k): v for k, v in sorted(submitter.codes.items())},
            "other_5xx": sum(v for k, v in submitter.codes.items() if k >= 500 and k != 503),
            "runsync_held_through_kill": held,
        }
        report(f"Redis Sentinel failover x{KILLS} (JOBGATE_REDIS_MIN_REPLICAS={min_replicas})", **figures)
        assert not submitter.errors, submitter.errors[:5]
        assert figures["other_5xx"] == 0
        # A /runsync waiting when the master died kept waiting and got its result.
        assert held == [(200, "COMPLETED")] * KILLS, held
        assert all(r is not None for r in recoveries), recoveries
        # Same processes throughout: nothing was restarted to follow the new master.
        assert stack.gateway is not None and stack.gateway.poll() is None
        assert stack.workers["w"].poll() is None
        if min_replicas:
            assert figures["lost"] == 0, {j: s for j, s in states.items() if s not in TERMINAL}
    finally:
        submitter.stop()
        stack.stop()
        cluster.stop()


def test_jobgate_redis_ensure_finds_the_master_through_the_sentinels_and_never_starts_one(tmp_path: Path) -> None:
    cluster = SentinelCluster(tmp_path / "redis")
    cluster.start()
    env = dict(os.environ, REDIS_URL=cluster.url)
    try:
        found = subprocess.run(
            [sys.executable, "-m", "app.cli", "redis", "--ensure", "--data-dir", str(tmp_path / "var")],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert found.returncode == 0 and "found a Redis" in found.stdout, found.stdout + found.stderr
    finally:
        cluster.stop()
    gone = subprocess.run(
        [sys.executable, "-m", "app.cli", "redis", "--ensure", "--data-dir", str(tmp_path / "var")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gone.returncode != 0 and "through the sentinels" in gone.stderr
    assert not (tmp_path / "var").exists()
