"""Workers by state on /health, from heartbeats: a worker of our own, started and killed here."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest
from redis import Redis

from app import create_app
from tests.helpers import ROOT, SPARE_DB, ApiClient, service_env, stop, wait_until, with_db

IMPORT_DELAY_S = 4


@pytest.fixture(scope="module")
def own_stack(settings, tmp_path_factory):
    """A gateway and a one-process worker on the spare database; the handler imports slowly."""
    folder = tmp_path_factory.mktemp("fleet")
    (folder / "slow.py").write_text(
        textwrap.dedent(f"""
        import time
        time.sleep({IMPORT_DELAY_S})  # a model being loaded

        def handler(job):
            return job["input"]
    """)
    )
    (folder / "endpoints.toml").write_text('[endpoints.slow-start]\nhandler = "slow.py:handler"\n')
    own = settings.replace(
        redis_url=with_db(settings.redis_url, SPARE_DB), endpoints_file=str(folder / "endpoints.toml")
    )
    Redis.from_url(own.redis_url).flushdb()
    log = open(folder / "worker.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "-c", "1", "-n", "fleet-test@%h"],
        cwd=ROOT,
        env=service_env(own),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield ApiClient(create_app(own)), proc
    stop(proc)
    log.close()
    Redis.from_url(own.redis_url).flushdb()


def workers(client):
    return client.get("/v2/slow-start/health").get_json()["workers"]


def test_worker_loading_its_handler_counts_as_initializing_then_idle(own_stack):
    client, _ = own_stack
    assert wait_until(lambda: workers(client)["initializing"] == 1, 30, 0.1)
    assert wait_until(lambda: workers(client)["idle"] == 1, 30, 0.2)
    assert workers(client)["initializing"] == 0


def test_killed_worker_drops_out_when_its_heartbeats_expire(own_stack, settings):
    client, proc = own_stack
    assert wait_until(lambda: workers(client)["idle"] == 1, 30, 0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # no clean shutdown: only the missing beats tell
    proc.wait()
    assert wait_until(lambda: sum(workers(client).values()) == 0, settings.heartbeat_s * 3 + 10, 0.2)
