"""What the tests share beside fixtures: constants, process helpers, the API test client.

Imported by test modules and conftests; never imports a conftest.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest
import yaml
from redis import Redis

from app.core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


TESTS = Path(__file__).resolve().parent
DASHBOARD = ROOT / "deploy" / "grafana" / "jobgate-dashboard.json"
RULES = ROOT / "deploy" / "prometheus" / "jobgate-rules.yml"
# A metric's name in a PromQL expression (jobgate's all start so).
METRIC = re.compile(r"\bjobgate_[a-z0-9_]+\b")


def dashboard_queries() -> list[str]:
    """Every PromQL query of the Grafana dashboard: its panels' and its variables'."""
    board = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for panel in board["panels"] for t in panel.get("targets", [])]
    for variable in board["templating"]["list"]:
        if isinstance(variable.get("query"), dict):
            queries.append(variable["query"]["query"])
    return queries


def alert_rules() -> list[dict[str, Any]]:
    """Every rule of the Prometheus rules file."""
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


API_KEY = "test-key"


# Redis databases of this test run: one for the session, a spare for tests that start their own stack.
TEST_DB = int(os.environ.get("JOBGATE_TEST_REDIS_DB", "13"))


SPARE_DB = int(os.environ.get("JOBGATE_TEST_SPARE_DB", str(TEST_DB + 1)))


SERVED = [
    "echo",
    "echo-stream",
    "stubborn",
    "by-path",
    "broken",
    "echo-openai",
    "slow-openai",
    "vllm-style",
    "unstoppable",
    "late-progress",
    "big-chunk",
    "touch",
    "flaky",
    "async-sleeper",
    "rp-echo",
    "rp-greet",
    "rp-error",
    "rp-async",
    "rp-chunks",
    "rp-async-chunks",
    "rp-refresh-on-request",
    "rp-refresh",
    "rp-plain-stream",
    "hostile",
    "hostile-stream",
]


WEBHOOK_SECRET = "test-webhook-secret"


# Where no Redis answers (nothing listens on port 1): settings for unit tests, which must not connect.
OFFLINE_REDIS_URL = "redis://127.0.0.1:1/0"


def settings_for(redis_url: str) -> Settings:
    """The tests' settings (endpoints file, key, short heartbeats and backoffs) on ``redis_url``."""
    return Settings(
        redis_url=redis_url,
        api_keys=(API_KEY,),
        endpoints_file=str(TESTS / "endpoints.toml"),
        heartbeat_s=1,
        webhook_secret=WEBHOOK_SECRET,
        webhook_backoff_s=1,
        stop_grace_s=2,
        # The webhook tests' receivers listen on loopback, which the destination rules refuse.
        webhook_allow_nets="127.0.0.0/8",
    )


def offline_settings() -> Settings:
    """The tests' settings for a unit test: nothing may connect to their Redis."""
    return settings_for(OFFLINE_REDIS_URL)


def with_db(url: str, db: int) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{db}"))


def procfile_command(name: str) -> str:
    """The command of the Procfile's ``name`` line."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.partition(":")[2].strip()
    raise AssertionError(f"no {name} line in the Procfile")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy (test helper, not product code)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "REDIS_URL": settings.redis_url,
            "JOBGATE_ENDPOINTS_FILE": settings.endpoints_file,
            "JOBGATE_API_KEYS": ",".join(settings.api_keys),
            "JOBGATE_HEARTBEAT_S": str(settings.heartbeat_s),
            "PYTHONUNBUFFERED": "1",
            "JOBGATE_WEBHOOK_SECRET": settings.webhook_secret,
            "JOBGATE_WEBHOOK_BACKOFF_S": str(settings.webhook_backoff_s),
            "JOBGATE_STOP_GRACE_S": str(settings.stop_grace_s),
            "JOBGATE_WEBHOOK_ALLOW_NETS": settings.webhook_allow_nets,
        }
    )
    env.update(extra)
    return env


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, grace_s: float = 15) -> None:
    """Stop a process group started by a test (``SIGINT`` for honcho, as Ctrl-C), then kill it."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class ApiClient:
    """The Flask test client with a key, speaking JSON."""

    def __init__(self, app, key: str | None = API_KEY):
        self.http = app.test_client()
        self.key = key

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        h.update(headers or {})
        return h

    def get(self, path: str, headers: dict[str, str] | None = None, **kw):
        return self.http.get(path, headers=self._headers(headers), **kw)

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None, **kw):
        if json is not None:
            kw["json"] = json
        return self.http.post(path, headers=self._headers(headers), **kw)

    def run(self, endpoint: str, job_input: Any, **body: Any) -> str:
        r = self.post(f"/v2/{endpoint}/run", json={"input": job_input, **body})
        assert r.status_code == 200, r.get_json()
        return r.get_json()["id"]

    def wait(self, endpoint: str, job_id: str, wait_ms: int = 30000) -> dict[str, Any]:
        r = self.get(f"/v2/{endpoint}/status-sync/{job_id}?wait={wait_ms}")
        assert r.status_code == 200, r.get_json()
        return r.get_json()


def start_gateway(settings: Settings, log: Path, web_workers: int = 1, **env: str) -> tuple[subprocess.Popen, str]:
    """gunicorn as deployed, on a free port (``env``: extra variables); returns the process and its URL."""
    port = free_port()
    env = service_env(
        settings, JOBGATE_PORT=str(port), JOBGATE_HOST="127.0.0.1", JOBGATE_WEB_WORKERS=str(web_workers), **env
    )
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return proc.poll() is not None

    wait_until(up, 30)
    if proc.poll() is not None:
        pytest.fail(f"gateway did not start:\n{log.read_text()[-3000:]}")
    return proc, f"http://127.0.0.1:{port}"


def start_worker(
    settings: Settings, redis: Redis, log: Path, args: list[str], name: str, processes: int, **env: str
) -> subprocess.Popen:
    """``jobgate worker ARGS -n NAME@%h``, once ``processes`` pool processes beat."""
    cmd = [sys.executable, "-m", "app.cli", "worker", "-n", f"{name}@%h", *args]
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=service_env(settings, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ready = wait_until(lambda: proc.poll() is not None or len(redis.keys(f"jg:worker:{name}@*")) >= processes, 60)
    if proc.poll() is not None or not ready:
        stop(proc)
        pytest.fail(f"worker {name} did not start:\n{log.read_text()[-3000:]}")
    return proc


# Four GPUs as NVML would describe them, for hosts (like CI) that have none.
FAKE_GPUS = [{"name": f"Fake GPU {i}", "memory_mb": 1000 * (i + 1), "uuid": f"GPU-fake-{i}"} for i in range(4)]


PINNED_GPUS = [1, 3]


def strict_json_problem(data: bytes) -> str | None:
    """Why ``data`` is not RFC 8259 JSON as a strict parser sees it (UTF-8, no NaN or Infinity); None if it is."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        json.loads(data.decode("utf-8"), parse_constant=refuse)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class StrictJSONCheck:
    """WSGI middleware for the tests: every JSON answer of the wrapped app must parse strictly.

    Problems are collected in ``problems`` (method, path, why) for a fixture to assert on.
    """

    def __init__(self, wsgi_app: Any):
        self.wsgi_app = wsgi_app
        self.problems: list[str] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        seen: dict[str, str] = {}

        def capture(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            seen["type"] = next((v for k, v in headers if k.lower() == "content-type"), "")
            return start_response(status, headers, *args)

        chunks = self.wsgi_app(environ, capture)
        method, path, kind = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", ""), seen.get("type", "")
        if not kind.startswith("application/json"):
            # Under /v2 every answer is JSON, but for event streams and HEAD (which has no body).
            if path.startswith("/v2/") and method != "HEAD" and not kind.startswith("text/event-stream"):
                self.problems.append(f"{method} {path}: answered {kind or 'no content type'}, not JSON")
            return chunks
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        problem = strict_json_problem(body)
        if problem is not None and method != "HEAD":
            self.problems.append(f"{method} {path}: {problem}")
        return [body]
