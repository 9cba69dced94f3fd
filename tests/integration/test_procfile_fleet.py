"""The Procfile scales by process count: `honcho start -c worker=2` runs two workers, one per GPU."""

import concurrent.futures as cf
import json
import os
import random
import signal
import socket
import subprocess
import sys

import pytest
import requests
from redis import Redis

from tests.helpers import FAKE_GPUS, ROOT, SPARE_DB, free_port, stop, wait_until, with_db


def honcho_base_port() -> int:
    """A base for honcho's $PORT whose worker ports (base+100, base+101: web is listed first) are free."""
    for _ in range(50):
        base = random.randrange(20_000, 60_000)
        if all(bindable(base + offset) for offset in (0, 100, 101)):
            return base
    pytest.fail("no free ports")


def bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))
            return True
        except OSError:
            return False


@pytest.fixture(scope="module")
def fleet(settings, tmp_path_factory):
    """web plus two workers from the Procfile on a two-GPU host (JOBGATE_GPUS=slot), on the spare database."""
    web = free_port()
    env = dict(
        os.environ,
        REDIS_URL=with_db(settings.redis_url, SPARE_DB),
        JOBGATE_API_KEYS="dev",
        JOBGATE_PORT=str(web),
        JOBGATE_WEB_WORKERS="1",
        JOBGATE_WORKER_ARGS="-e echo",
        PORT=str(honcho_base_port()),
        JOBGATE_HEARTBEAT_S="1",
        JOBGATE_GPUS="slot",
        JOBGATE_GPU_INVENTORY=json.dumps(FAKE_GPUS[:2]),
        PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
    )
    for name in ("JOBGATE_ENDPOINTS_FILE", "JOBGATE_WORKER_METRICS_PORT"):
        env.pop(name, None)
    Redis.from_url(env["REDIS_URL"]).flushdb()
    log = tmp_path_factory.mktemp("fleet") / "honcho.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile", "-c", "worker=2", "web", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{web}"

    def two_workers():
        try:
            r = requests.get(f"{url}/v2/echo/workers", headers={"Authorization": "Bearer dev"}, timeout=5)
            return r.ok and len(r.json()["workers"]) == 2 and r.json()["workers"]
        except requests.RequestException:
            return None

    workers = wait_until(two_workers, 60, 0.5)
    try:
        assert workers, log.read_text()[-3000:]
        yield {"url": url, "workers": workers, "log": log}
    finally:
        stop(proc, signal.SIGINT, 30)


def test_each_procfile_worker_has_its_own_node_name(fleet):
    host = socket.gethostname()
    assert sorted(w["node"] for w in fleet["workers"]) == [f"jobgate-worker.1@{host}", f"jobgate-worker.2@{host}"]


def test_each_procfile_worker_takes_the_gpu_of_its_slot(fleet):
    gpus = {w["node"].split("@")[0]: w["gpu"]["index"] for w in fleet["workers"]}
    assert gpus == {"jobgate-worker.1": 0, "jobgate-worker.2": 1}


def test_each_procfile_worker_serves_metrics_on_its_own_port(fleet):
    ports = {w["metricsPort"] for w in fleet["workers"]}
    assert len(ports) == 2 and None not in ports
    for port in ports:
        assert "jobgate_worker_busy_processes" in requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def test_jobs_are_shared_by_the_procfile_workers(fleet):
    def run(i):
        return requests.post(
            f"{fleet['url']}/v2/echo/runsync",
            json={"input": {"sleep": 1, "i": i}},
            headers={"Authorization": "Bearer dev"},
            timeout=30,
        ).json()

    with cf.ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(run, range(4)))
    assert all(b["status"] == "COMPLETED" for b in bodies)
    assert len({b["workerId"] for b in bodies}) == 2
