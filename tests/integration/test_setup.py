"""Set-up pieces: the embedded Redis, and `make run`'s Procfile (the endpoints file: tests/unit)."""

import os
import signal
import subprocess
import sys

import requests
from redis import Redis

from app.store import boot as redisboot
from tests.helpers import ROOT, SPARE_DB, free_port, stop, wait_until, with_db


def test_embedded_redis_starts_when_none_answers(tmp_path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert redisboot.ensure(url, tmp_path) is True
    client = Redis.from_url(url)
    try:
        assert client.ping()
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert redisboot.ensure(url, tmp_path) is False  # already answering: nothing started
    finally:
        client.shutdown(nosave=True)


def test_make_run_procfile_serves_the_readme_example(settings, tmp_path):
    """`honcho start` on the Procfile: Redis (external here), gateway, worker and Flower."""
    web, flower = free_port(), free_port()
    env = dict(
        os.environ,
        REDIS_URL=with_db(settings.redis_url, SPARE_DB),
        JOBGATE_API_KEYS="dev",
        JOBGATE_PORT=str(web),
        FLOWER_PORT=str(flower),
        JOBGATE_WEB_WORKERS="1",
        FLOWER_BASIC_AUTH="ops:s3cret",
        PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
    )
    env.pop("JOBGATE_ENDPOINTS_FILE", None)
    Redis.from_url(env["REDIS_URL"]).flushdb()
    log = open(tmp_path / "honcho.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "honcho", "start", "-f", "Procfile"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def answer():
        try:
            r = requests.post(
                f"http://127.0.0.1:{web}/v2/echo/runsync",
                json={"input": {"x": 1}},
                headers={"Authorization": "Bearer dev"},
                timeout=10,
            )
            return r.json() if r.ok and r.json().get("status") == "COMPLETED" else None
        except requests.RequestException:
            return None

    try:
        body = wait_until(answer, 60, 0.5)
        assert body and body["output"] == {"echo": {"x": 1}}, (tmp_path / "honcho.log").read_text()[-3000:]
        assert wait_until(lambda: _answers(f"http://127.0.0.1:{flower}/"), 30, 0.5)
        # Flower is behind basic auth from FLOWER_BASIC_AUTH.
        assert requests.get(f"http://127.0.0.1:{flower}/", timeout=5).status_code == 401
        assert requests.get(f"http://127.0.0.1:{flower}/", auth=("ops", "wrong"), timeout=5).status_code == 401
        assert requests.get(f"http://127.0.0.1:{flower}/", auth=("ops", "s3cret"), timeout=5).status_code == 200
    finally:
        stop(proc, signal.SIGINT, 30)
    assert proc.returncode is not None


def _answers(url):
    try:
        return requests.get(url, timeout=2).status_code < 500
    except requests.RequestException:
        return False
