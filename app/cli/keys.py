"""``jobgate keys``: create, list and revoke the API keys stored in Redis."""

from __future__ import annotations

import argparse
import sys
import time

from ..core.endpoints import Registry
from ..core.settings import Settings
from ..store.apikeys import KeyStore
from ..store.connection import connect
from ..store.keys import Keys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="manage API keys stored in Redis (beside JOBGATE_API_KEYS)")
    keys = p.add_subparsers(dest="keys_command", required=True)
    c = keys.add_parser("create", help="create a key and print it (once: only its hash is kept)")
    c.add_argument(
        "--endpoint",
        "-e",
        action="append",
        default=[],
        metavar="ID",
        help="endpoint the key may use (repeatable; default: every endpoint)",
    )
    c.add_argument("--read-only", action="store_true", help="only status, status-sync, stream and health")
    c.add_argument("--name", default="", help="a note saying whose key it is")
    c.add_argument(
        "--expires-days",
        type=float,
        default=None,
        metavar="DAYS",
        help="delete the key after this many days (default: never)",
    )
    c.set_defaults(func=create)
    keys.add_parser("list", help="list stored keys (ids and scopes, never the keys)").set_defaults(func=list_keys)
    r = keys.add_parser("revoke", help="delete a stored key; it stops working at once")
    r.add_argument("key_id", metavar="KEY_ID")
    r.set_defaults(func=revoke)


def _store() -> tuple[KeyStore, Settings]:
    settings = Settings.from_env()
    return KeyStore(connect(settings), Keys(settings.key_prefix)), settings


def create(args: argparse.Namespace) -> int:
    store, settings = _store()
    if args.endpoint:
        known = Registry.load(settings.endpoints_file).ids()
        unknown = [e for e in args.endpoint if e not in known]
        if unknown:
            print(f"jobgate: unknown endpoint(s) {', '.join(unknown)}; known: {', '.join(known)}", file=sys.stderr)
            return 2
    if args.expires_days is not None and args.expires_days <= 0:
        print("jobgate: --expires-days must be positive", file=sys.stderr)
        return 2
    expires_s = round(args.expires_days * 86400) if args.expires_days else None
    record, plain = store.create(args.endpoint, read_only=args.read_only, name=args.name, expires_s=expires_s)
    print(plain)
    print(
        f"jobgate: created key {record.id} ({_scope(record.endpoints, record.read_only)}); "
        "this is the only time it is shown",
        file=sys.stderr,
    )
    return 0


def _scope(endpoints: tuple[str, ...], read_only: bool) -> str:
    return f"{','.join(endpoints) or 'all endpoints'}, {'read-only' if read_only else 'read-write'}"


def _when(ms: int | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000)) if ms else "never"


def list_keys(args: argparse.Namespace) -> int:
    store, settings = _store()
    rows = [("ID", "ENDPOINTS", "ACCESS", "CREATED (UTC)", "EXPIRES (UTC)", "NAME")]
    for k in store.list():
        rows.append(
            (
                k.id,
                ",".join(k.endpoints) or "*",
                "read-only" if k.read_only else "read-write",
                _when(k.created_ms),
                _when(k.expires_ms),
                k.name,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    print(f"(and {len(settings.api_keys)} bootstrap key(s) from JOBGATE_API_KEYS, which may do everything)")
    return 0


def revoke(args: argparse.Namespace) -> int:
    store, _ = _store()
    if not store.revoke(args.key_id):
        print(f"jobgate: no stored key {args.key_id!r}", file=sys.stderr)
        return 1
    print(f"jobgate: revoked key {args.key_id}")
    return 0
