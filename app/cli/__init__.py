"""The ``jobgate`` command: the composition root, the one place that knows every part.

Each subcommand lives with what it runs: ``redis`` and ``keys`` here, ``worker`` and
``flower`` in ``workers/``, the client commands in ``app.client``.
"""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    """The ``jobgate`` argument parser, with every subcommand."""
    from workers import command, flower

    from ..client import cli as client_cli
    from . import keys, ready, redis

    parser = argparse.ArgumentParser(prog="jobgate", description="Serverless jobs on your own GPU hosts")
    parser.add_argument("--version", action="version", version=f"jobgate {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    redis.add_parser(sub)
    command.add_parser(sub)
    keys.add_parser(sub)
    flower.add_parser(sub)
    ready.add_parser(sub)
    client_cli.add_parsers(sub)
    return parser


def version() -> str:
    """The installed jobgate's version (the source tree's when it is not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("jobgate")
    except PackageNotFoundError:
        return "0+unknown"


def main(argv: list[str] | None = None) -> int:
    """Run ``jobgate ARGV``; returns the exit status."""
    if (sys.argv[1:] if argv is None else argv)[:1] == ["worker"]:
        # SIGTERM -> Celery's soft-then-cold shutdown, pool processes ignoring it (see
        # workers/command.py). billiard reads this once, when first imported: set it first.
        os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    from ..core.settings import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:  # a start-up error names what to fix; no traceback
        raise SystemExit(f"jobgate {args.command}: {exc}") from None
