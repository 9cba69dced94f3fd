"""The ``jobgate`` command."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .settings import DEFAULT_REDIS_URL


def _redis(args: argparse.Namespace) -> int:
    from . import redisboot

    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    data = Path(args.data_dir)
    if args.ensure:
        started = redisboot.ensure(url, data)
        print(f"jobgate: {'started an embedded' if started else 'found a'} Redis at {url}")
        return 0
    return redisboot.serve(url, data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobgate", description="Serverless jobs on your own GPU hosts")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("redis", help="run Redis: the one at REDIS_URL, else an embedded redis-server")
    p.add_argument("--data-dir", default="var", help="data directory of the embedded server")
    p.add_argument("--ensure", action="store_true",
                   help="start one in the background only if none answers, then return")
    p.set_defaults(func=_redis)
    from workers import command

    from . import apikeys_cli, client_cli, dashboard

    command.add_parser(sub)
    apikeys_cli.add_parser(sub)
    dashboard.add_parser(sub)
    client_cli.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv)[:1] == ["worker"]:
        # SIGTERM -> Celery's soft-then-cold shutdown, pool processes ignoring it (see
        # workers/command.py). billiard reads this once, when first imported: set it first.
        os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
