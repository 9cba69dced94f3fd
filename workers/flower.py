"""``jobgate flower``: Flower on jobgate's Celery app, remembering its history, behind basic auth.

Flower reads its own ``FLOWER_*`` variables (``FLOWER_PORT``, ``FLOWER_BASIC_AUTH=user:pass``,
...); this command adds jobgate's defaults for those left unset: task history kept in
``var/flower.db`` and saved every minute (so a restart or a crash loses at most a minute),
and the loopback address. It refuses to listen on another address without authentication.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path

from app.core.settings import Settings
from app.store.context import Context

DEFAULT_DB = "var/flower.db"
STATE_SAVE_INTERVAL_MS = 60_000


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``jobgate flower`` to the command's subparsers."""
    p = sub.add_parser("flower", help="run Flower (persistent history, basic auth from FLOWER_BASIC_AUTH)")
    p.add_argument("flower_args", nargs=argparse.REMAINDER, help="more Flower options, e.g. --port=5556")
    p.set_defaults(func=run_flower)


def defaults(environ: Mapping[str, str]) -> list[str]:
    """jobgate's Flower options for what the ``FLOWER_*`` variables leave unset."""
    chosen = {
        "FLOWER_PERSISTENT": "--persistent=True",
        "FLOWER_DB": f"--db={DEFAULT_DB}",
        "FLOWER_STATE_SAVE_INTERVAL": f"--state_save_interval={STATE_SAVE_INTERVAL_MS}",
        "FLOWER_ADDRESS": "--address=127.0.0.1",
    }
    return [arg for var, arg in chosen.items() if not environ.get(var)]


def _option(name: str, args: list[str], environ: Mapping[str, str], default: str) -> str:
    for arg in reversed(args):
        if arg.startswith(f"--{name}="):
            return arg.partition("=")[2]
    return environ.get(f"FLOWER_{name.upper()}") or default


def run_flower(args: argparse.Namespace) -> int:
    """Run Flower on the workers' Celery app (history kept, a login required)."""
    from .celery_app import make_celery

    environ = os.environ
    extra = list(args.flower_args)
    # Flower shows every job's arguments and can revoke tasks: never without a login,
    # not even on loopback (anyone with a shell on the host could reach it).
    if not (_option("basic_auth", extra, environ, "") or environ.get("FLOWER_AUTH")):
        raise SystemExit(
            "jobgate flower: refusing to start without authentication; set FLOWER_BASIC_AUTH=user:password"
        )
    Path(_option("db", extra, environ, DEFAULT_DB)).parent.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env()
    celery = make_celery(Context.from_settings(settings))
    return celery.start(["flower", *defaults(environ), *extra]) or 0
