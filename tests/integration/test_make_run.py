"""`make run`'s stack (honcho on the Procfile): loopback binds by default, and one line once it is ready."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from redis import Redis

from tests.helpers import ROOT, SPARE_DB, free_port, stop, wait_until, with_db

READY = re.compile(r"jobgate ready: .*")


def listening_addresses(port: int) -> set[str]:
    """The IPv4 addresses a TCP socket listens on at ``port`` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, _, hex_port = local.partition(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.fixture(scope="module")
def stack(settings, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The whole Procfile as `make run` starts it, on the spare database and free ports."""
    tmp = tmp_path_factory.mktemp("make-run")
    ports = {"web": free_port(), "flower": free_port(), "base": free_port()}
    env = dict(
        os.environ,
        REDIS_URL=with_db(settings.redis_url, SPARE_DB),
        JOBGATE_API_KEYS="dev",
        FLOWER_BASIC_AUTH="dev:dev",
        JOBGATE_LOG_FORMAT="human",
        JOBGATE_PORT=str(ports["web"]),
        JOBGATE_WEB_WORKERS="1",
        FLOWER_PORT=str(ports["flower"]),
        FLOWER_DB=str(tmp / "flower.db"),
        JOBGATE_WORKER_ARGS="-e echo -c 1",
        PORT=str(ports["base"]),
        PATH=f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}",
    )
    for name in ("JOBGATE_HOST", "FLOWER_ADDRESS", "JOBGATE_ENDPOINTS_FILE", "JOBGATE_WORKER_METRICS_PORT"):
        env.pop(name, None)
    Redis.from_url(env["REDIS_URL"]).flushdb()
    log = tmp / "honcho.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "-f", "Procfile"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        line = wait_until(lambda: (m := READY.search(log.read_text())) and m.group(0), 120, 0.2)
        assert line, log.read_text()[-4000:]
        yield {"line": line, "ports": ports, "log": log}
    finally:
        stop(proc, grace_s=30)


def test_the_ready_line_names_gateway_console_docs_flower_and_the_dev_key(stack):
    web, flower = stack["ports"]["web"], stack["ports"]["flower"]
    assert stack["line"] == (
        f"jobgate ready: gateway http://127.0.0.1:{web} | console http://127.0.0.1:{web}/ | "
        f"API docs http://127.0.0.1:{web}/docs | Flower http://127.0.0.1:{flower} (login dev:dev) | key dev"
    )
    assert stack["log"].read_text().count("jobgate ready:") == 1


def test_the_console_answers_at_the_url_of_the_ready_line(stack):
    r = requests.get(f"http://127.0.0.1:{stack['ports']['web']}/", timeout=5)
    assert r.status_code == 200 and "jobgate console" in r.text


def test_the_gateway_listens_on_loopback_only(stack):
    assert listening_addresses(stack["ports"]["web"]) == {"127.0.0.1"}


def test_the_worker_metrics_listen_on_loopback_only(stack):
    # honcho gives each process its own $PORT: base, base+100, ... in Procfile order (worker is third).
    metrics = stack["ports"]["base"] + 200
    assert wait_until(lambda: listening_addresses(metrics), 10) == {"127.0.0.1"}


def test_flower_listens_on_loopback_only(stack):
    assert listening_addresses(stack["ports"]["flower"]) == {"127.0.0.1"}
