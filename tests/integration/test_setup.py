"""Set-up pieces: the endpoints file, the embedded Redis, and `make run`'s Procfile."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import requests
from redis import Redis

from app.core.endpoints import EndpointConfigError, Registry
from app.store import boot as redisboot
from tests.helpers import ROOT, SPARE_DB, free_port, stop, wait_until, with_db


def write(tmp_path, text):
    path = tmp_path / "endpoints.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_endpoints_file_declares_handler_queue_and_limits(tmp_path):
    reg = Registry.load(
        write(
            tmp_path,
            """
        [endpoints.a]
        handler = "pkg.mod:fn"
        execution_timeout_ms = 60000
        workers_max = 4
    """,
        )
    )
    a = reg["a"]
    assert (a.handler, a.execution_timeout_ms, a.workers_max, a.queue) == ("pkg.mod:fn", 60000, 4, "jobgate.a")
    assert a.queue_limit == 2000


@pytest.mark.parametrize(
    "text, message",
    [
        ("[endpoints.a]\nworkers_max = 1\n", "needs handler"),
        ("[endpoints.'a b']\nhandler = 'm:f'\n", "must match"),
        ("[endpoints.a]\nhandler = 'm:f'\nexecution_timeout_ms = 10\n", "5 s to 7 days"),
        ("[endpoints.a]\nhandler = 'm:f'\nworkers_max = 0\n", "positive integer"),
        ("title = 'none'\n", "no [endpoints"),
        ("[endpoints.a\n", "endpoints file"),
    ],
)
def test_bad_endpoints_file_is_refused_with_the_reason(tmp_path, text, message):
    with pytest.raises(EndpointConfigError, match=message.replace("[", r"\[")):
        Registry.load(write(tmp_path, text))


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
