"""``jobgate ready``: one line once the stack answers (the Procfile's ``ready``, so ``make run`` says it).

It waits until the gateway serves the console and its API with the first configured key, a worker beats
for one of the endpoints, and Flower takes connections; then prints the gateway, console, ``/docs`` and
Flower URLs with the development key, and stays (honcho stops every process when one exits).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping

import requests

from ..core.settings import Settings

DEV_KEY = "dev"
DEV_FLOWER_LOGIN = "dev:dev"
FLOWER_PORT = 5555  # Flower's own default
# How long before the command says what it is still waiting for (it goes on waiting).
PATIENCE_S = 120


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``jobgate ready`` to the command's subparsers."""
    p = sub.add_parser("ready", help="wait for gateway, worker and Flower, print their URLs, then stay")
    p.add_argument("--no-flower", action="store_true", help="do not wait for Flower")
    p.add_argument("--exit", action="store_true", help="exit once ready instead of staying")
    p.set_defaults(func=run)


def shown_host(host: str) -> str:
    """The address to print for a bind address (all interfaces: loopback works from here)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def ready_line(settings: Settings, environ: Mapping[str, str], flower: bool = True) -> str:
    """The one line: where everything is, and the key to use."""
    gateway = f"http://{shown_host(settings.host)}:{settings.port}"
    parts = [f"gateway {gateway}", f"console {gateway}/", f"API docs {gateway}/docs"]
    if flower:
        flower_url = f"http://{shown_host(environ.get('FLOWER_ADDRESS', '127.0.0.1'))}:{flower_port(environ)}"
        login = environ.get("FLOWER_BASIC_AUTH", "")
        parts.append(f"Flower {flower_url} (login {login})" if login == DEV_FLOWER_LOGIN else f"Flower {flower_url}")
    keys = settings.api_keys
    parts.append(f"key {DEV_KEY}" if keys == (DEV_KEY,) else "key: one of JOBGATE_API_KEYS")
    return "jobgate ready: " + " | ".join(parts)


def flower_port(environ: Mapping[str, str]) -> int:
    return int(environ.get("FLOWER_PORT") or FLOWER_PORT)


def missing(settings: Settings, environ: Mapping[str, str], flower: bool) -> str | None:
    """What is not answering yet, or None when everything is."""
    base = f"http://{shown_host(settings.host)}:{settings.port}"
    headers = {"Authorization": f"Bearer {settings.api_keys[0]}"} if settings.api_keys else {}
    try:
        if requests.get(base + "/", timeout=2).status_code != 200:
            return "the gateway"
        listing = requests.get(base + "/v2/endpoints", headers=headers, timeout=2)
        if listing.status_code != 200:
            return f"the gateway's API ({listing.status_code})"
        if not any(_has_worker(base, e["id"], headers) for e in listing.json()["endpoints"]):
            return "a worker"
    except requests.RequestException:
        return "the gateway"
    if flower and not _accepts(shown_host(environ.get("FLOWER_ADDRESS", "127.0.0.1")), flower_port(environ)):
        return "Flower"
    return None


def _has_worker(base: str, endpoint: str, headers: dict[str, str]) -> bool:
    r = requests.get(f"{base}/v2/{endpoint}/health", headers=headers, timeout=2)
    return r.status_code == 200 and any(n for state, n in r.json()["workers"].items() if state != "unhealthy")


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    """Wait, print the line, then stay until stopped (or exit with ``--exit``)."""
    settings = Settings.from_env()
    environ = os.environ
    flower = not args.no_flower
    started = time.monotonic()
    warned = False
    while (waiting := missing(settings, environ, flower)) is not None:
        if not warned and time.monotonic() - started > PATIENCE_S:
            print(f"jobgate: still waiting for {waiting} after {PATIENCE_S} s", file=sys.stderr, flush=True)
            warned = True
        time.sleep(0.25)
    print(ready_line(settings, environ, flower), flush=True)
    if not args.exit:
        stops = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stops)  # taken by sigwait, not by their default action
        signal.sigwait(stops)
    return 0
