"""Real services for the integration tests: one Redis database and one Celery worker per session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis

from app import create_app
from app.core.settings import Settings
from tests.helpers import (
    FAKE_GPUS,
    PINNED_GPUS,
    SERVED,
    ApiClient,
    StrictJSONCheck,
    free_port,
    start_gateway,
    start_worker,
    stop,
)


@pytest.fixture(scope="session")
def redis(settings: Settings) -> Redis:
    client = Redis.from_url(settings.redis_url, decode_responses=True)
    client.flushdb()
    return client


@pytest.fixture(scope="session")
def worker(settings: Settings, redis: Redis, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A real Celery worker (prefork, 3 processes) serving every endpoint in SERVED."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    args = ["-c", "3"]
    for eid in SERVED:
        args += ["-e", eid]
    proc = start_worker(settings, redis, log, args, "test-worker", 3)
    yield {"proc": proc, "log": log}
    stop(proc)


@pytest.fixture(scope="session")
def app(settings: Settings, worker):
    app = create_app(settings)
    # Every answer the tests get from it is checked to be strict JSON (see _strict_json_answers).
    app.wsgi_app = StrictJSONCheck(app.wsgi_app)  # type: ignore[method-assign]
    return app


@pytest.fixture(autouse=True)
def _strict_json_answers(request) -> Iterator[None]:
    """Every JSON answer a test got from the session's app parsed with a strict parser."""
    yield
    if "app" in request.fixturenames:
        check: StrictJSONCheck = request.getfixturevalue("app").wsgi_app
        problems, check.problems[:] = list(check.problems), []
        assert not problems, "answers that are not strict JSON:\n" + "\n".join(problems)


@pytest.fixture(autouse=True)
def _clean_jobs(request, redis: Redis) -> None:
    """Every test starts from an empty job store (the worker's heartbeats come back within 1 s)."""
    for key in redis.scan_iter("jg:*", count=1000):
        if not key.startswith("jg:worker"):
            redis.delete(key)
    for queue in redis.scan_iter("jobgate.*"):
        redis.delete(queue)


@pytest.fixture(scope="session")
def api(app) -> ApiClient:
    return ApiClient(app)


@pytest.fixture(scope="session")
def gateway(settings: Settings, worker, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """The gateway as `make run` serves it: gunicorn with one gevent worker, and its log."""
    log = tmp_path_factory.mktemp("gateway") / "gateway.log"
    proc, url = start_gateway(settings, log)
    yield {"url": url, "log": log, "proc": proc}
    stop(proc)


@pytest.fixture(scope="session")
def gateway_url(gateway) -> str:
    return gateway["url"]


@pytest.fixture(scope="session")
def pinned_worker(settings: Settings, redis: Redis, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """A worker for ``gpu-env`` pinned to GPUs 1 and 3 of FAKE_GPUS, one job per pool process."""
    log = tmp_path_factory.mktemp("pinned") / "worker.log"
    port = free_port()
    proc = start_worker(
        settings,
        redis,
        log,
        [
            "-e",
            "gpu-env",
            "--gpus",
            ",".join(map(str, PINNED_GPUS)),
            "--max-tasks-per-child",
            "1",
            "--metrics-port",
            str(port),
        ],
        "pinned",
        len(PINNED_GPUS),
        JOBGATE_GPU_INVENTORY=json.dumps(FAKE_GPUS),
    )
    yield {"proc": proc, "log": log, "metrics_port": port}
    stop(proc)


# Endpoints with max_concurrency or batch, served by one concurrent worker process.
MANY = ["many-async", "many-sync", "many-stream", "batched"]


@pytest.fixture(scope="session")
def many_worker(settings: Settings, redis: Redis, tmp_path_factory) -> Iterator[dict[str, Any]]:
    """One concurrent worker (one process, Celery's thread pool) serving the MANY endpoints."""
    log = tmp_path_factory.mktemp("many") / "worker.log"
    port = free_port()
    args = ["--metrics-port", str(port)]
    for eid in MANY:
        args += ["-e", eid]
    proc = start_worker(settings, redis, log, args, "many-worker", 1)
    yield {"proc": proc, "log": log, "metrics_port": port}
    stop(proc)
