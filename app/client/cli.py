"""``jobgate run|runsync|status|stream|cancel|retry|purge|health``: the API from a shell.

Exit status: 0 the job completed (or the operation succeeded), 1 the job failed, timed
out or was cancelled (or ``--timeout`` passed first), 2 a usage, API or connection error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .client import ApiError, Client, ClientError, GatewayUnreachable, Job, WaitTimeout
from .display import NO_PROGRESS, ProgressLine, compact

EXIT_OK, EXIT_JOB_FAILED, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad command-line input (exit status 2)."""


def parse_input(raw: str) -> Any:
    """``-i`` value: inline JSON, ``@file.json``, or ``@-`` for standard input."""
    source = "input"
    if raw.startswith("@"):
        source = raw[1:]
        try:
            raw = sys.stdin.read() if source == "-" else Path(source).read_text()
        except OSError as exc:
            raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from exc
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc}") from exc


def job_exit(job: Job) -> int:
    return EXIT_JOB_FAILED if job.terminal and not job.succeeded else EXIT_OK


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2 if sys.stdout.isatty() else None, ensure_ascii=False))


def summary(job: Job, elapsed: float) -> str:
    line = f"{job.id}  {job.status} in {elapsed:.1f}s"
    return f"{line}: {job.error}" if job.error else line


def follow(client: Client, endpoint: str, job: Job, args: argparse.Namespace, line: ProgressLine | None = None) -> int:
    """Follow ``job`` to its end with a progress line on stderr; print it on stdout."""
    if line is None:
        line = ProgressLine(job.id)
    line.job_id = job.id

    def show(j: Job) -> None:
        line.update(j.status, j.output if j.status == "IN_PROGRESS" and j.has_output else NO_PROGRESS)

    args.following = (endpoint, job.id)  # for the Ctrl-C message
    try:
        # An ended job gets its one summary line, no progress line before it.
        if not job.terminal:
            show(job)
        final = job if job.terminal else client.wait(endpoint, job.id, timeout_s=args.timeout, on_update=show)
    except WaitTimeout as exc:
        line.close(f"jobgate: gave up waiting: {exc}")
        print_json(dict(exc.job.raw))
        return EXIT_JOB_FAILED
    except BaseException:
        line.close()
        raise
    line.close(summary(final, line.elapsed()))
    print_json(dict(final.raw))
    return job_exit(final)


def follow_stream(client: Client, endpoint: str, job_id: str, args: argparse.Namespace) -> int:
    """Print each streamed chunk's output as one JSON line as it arrives, then the outcome."""
    line = ProgressLine(job_id)
    args.following = (endpoint, job_id)
    try:
        for chunk in client.iter_stream(endpoint, job_id, timeout_s=args.timeout, on_status=line.update):
            line.note(compact(chunk), to=sys.stdout)
        final = client.status(endpoint, job_id)
    except WaitTimeout as exc:
        line.close(f"jobgate: gave up waiting: {exc}")
        return EXIT_JOB_FAILED
    except BaseException:
        line.close()
        raise
    line.close(summary(final, line.elapsed()))
    return job_exit(final)


# -- commands -------------------------------------------------------------------------
def _policy(args: argparse.Namespace) -> dict[str, Any] | None:
    policy: dict[str, Any] = {}
    if args.execution_timeout:
        policy["executionTimeout"] = args.execution_timeout
    if args.ttl:
        policy["ttl"] = args.ttl
    if args.low_priority:
        policy["lowPriority"] = True
    return policy or None


def cmd_run(client: Client, args: argparse.Namespace) -> int:
    job = client.run(
        args.endpoint,
        parse_input(args.input),
        webhook=args.webhook,
        policy=_policy(args),
        idempotency_key=args.idempotency_key,
    )
    args.following = (args.endpoint, job.id)
    if args.stream:
        return follow_stream(client, args.endpoint, job.id, args)
    if args.wait:
        return follow(client, args.endpoint, job, args)
    print_json(dict(job.raw))
    return EXIT_OK


def cmd_runsync(client: Client, args: argparse.Namespace) -> int:
    job_input = parse_input(args.input)
    line = ProgressLine("runsync")
    if line.live:
        line.update("WAITING")  # a spinner on a terminal; in a log, only the outcome's line
    try:
        job = client.runsync(
            args.endpoint,
            job_input,
            wait_ms=args.sync_wait,
            webhook=args.webhook,
            policy=_policy(args),
            idempotency_key=args.idempotency_key,
        )
    except BaseException:
        line.close()
        raise
    # Past the gateway's wait the job is still going: keep following it.
    return follow(client, args.endpoint, job, args, line)


def cmd_status(client: Client, args: argparse.Namespace) -> int:
    job = client.status(args.endpoint, args.job_id)
    if args.wait:
        return follow(client, args.endpoint, job, args)
    print_json(dict(job.raw))
    return job_exit(job)


def cmd_stream(client: Client, args: argparse.Namespace) -> int:
    return follow_stream(client, args.endpoint, args.job_id, args)


def cmd_cancel(client: Client, args: argparse.Namespace) -> int:
    job = client.cancel(args.endpoint, args.job_id)
    print_json(dict(job.raw))
    return EXIT_OK


def cmd_retry(client: Client, args: argparse.Namespace) -> int:
    job = client.retry(args.endpoint, args.job_id)
    if args.wait:
        return follow(client, args.endpoint, job, args)
    print_json(dict(job.raw))
    return EXIT_OK


def cmd_purge(client: Client, args: argparse.Namespace) -> int:
    removed = client.purge(args.endpoint)
    if args.json:
        print_json({"removed": removed, "status": "completed"})
    else:
        print(f"{args.endpoint}: {removed} queued job(s) removed")
    return EXIT_OK


def health_table(endpoint: str, health: dict[str, dict[str, int]]) -> str:
    """``/health`` as a small table: one header row and one count row per section."""
    lines = [f"endpoint {endpoint}"]
    for section in ("jobs", "workers"):
        counts = health.get(section, {})
        widths = [max(len(k), len(str(v))) for k, v in counts.items()]
        lines.append(f"{section:<8} " + "  ".join(k.ljust(w) for k, w in zip(counts, widths)))
        lines.append(f"{'':<8} " + "  ".join(str(v).ljust(w) for v, w in zip(counts.values(), widths)))
    return "\n".join(line.rstrip() for line in lines)


def cmd_health(client: Client, args: argparse.Namespace) -> int:
    health = client.health(args.endpoint)
    if args.json:
        print_json(health)
    else:
        print(health_table(args.endpoint, health))
    return EXIT_OK


def table(columns: list[str], rows: list[list[Any]]) -> str:
    """Rows under a header, each column as wide as its widest cell."""
    cells = [columns] + [["-" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def cmd_requests(client: Client, args: argparse.Namespace) -> int:
    status = [s.strip() for value in args.status or [] for s in value.split(",") if s.strip()]
    page = client.requests(args.endpoint, status=status, limit=args.limit, cursor=args.cursor)
    if args.json:
        print_json(page)
        return EXIT_OK
    rows = [
        [r["id"], r["status"], r["createdAt"], r["delayTime"], r["executionTime"], r["workerId"], r["retries"]]
        for r in page["requests"]
    ]
    columns = ["ID", "STATUS", "CREATED", "DELAY_MS", "EXEC_MS", "WORKER", "RETRIES"]
    print(table(columns, rows) if rows else f"{args.endpoint}: no job")
    if page.get("nextCursor"):
        print(f"more: jobgate requests {args.endpoint} --cursor {page['nextCursor']}")
    return EXIT_OK


def cmd_workers(client: Client, args: argparse.Namespace) -> int:
    workers = client.workers(args.endpoint)
    if args.json:
        print_json({"workers": workers})
        return EXIT_OK
    rows = [
        [w["id"], w["state"], w.get("jobId"), (w.get("gpu") or {}).get("name", "CPU"), w.get("host")] for w in workers
    ]
    print(table(["ID", "STATE", "JOB", "GPU", "HOST"], rows) if rows else f"{args.endpoint}: no live worker")
    return EXIT_OK


# -- parser ---------------------------------------------------------------------------
def _connection_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--url", default=None, help="gateway URL (default: $JOBGATE_URL or http://127.0.0.1:8000)")
    p.add_argument("--key", default=None, help="API key (default: $JOBGATE_API_KEY)")
    return p


def _job_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-i", "--input", required=True, help="job input: JSON inline, @file.json, or @- for standard input")
    p.add_argument("--webhook", default=None, help="URL POSTed when the job ends")
    p.add_argument("--execution-timeout", type=int, default=None, metavar="MS", help="policy.executionTimeout (ms)")
    p.add_argument("--ttl", type=int, default=None, metavar="MS", help="policy.ttl (ms)")
    p.add_argument("--low-priority", action="store_true", help="policy.lowPriority")
    p.add_argument(
        "--idempotency-key",
        default=None,
        metavar="KEY",
        help="sent as Idempotency-Key: the same command again (same key, same input) answers the same job",
    )


def _timeout_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="stop following after S seconds (exit 1; the job goes on)",
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the client subcommands to the ``jobgate`` parser."""
    conn = _connection_options()

    def add(
        name: str, func: Callable[[Client, argparse.Namespace], int], help_: str, job_id: bool = False
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[conn], help=help_, description=help_)
        p.add_argument("endpoint", help="endpoint id")
        if job_id:
            p.add_argument("job_id", help="job id")
        p.set_defaults(func=lambda args: run_command(func, args))
        return p

    p = add("run", cmd_run, "submit a job; prints its id (or follows it with --wait)")
    _job_options(p)
    p.add_argument("--wait", action="store_true", help="follow the job to its end, with live progress")
    p.add_argument("--stream", action="store_true", help="print streamed chunks as they arrive")
    _timeout_option(p)
    p = add("runsync", cmd_runsync, "submit a job and wait for its result")
    _job_options(p)
    p.add_argument(
        "--sync-wait",
        type=int,
        default=None,
        metavar="MS",
        help="how long the gateway holds the call (1000-300000; default its own, 90000)",
    )
    _timeout_option(p)
    p = add("status", cmd_status, "show a job", job_id=True)
    p.add_argument("--wait", action="store_true", help="follow the job to its end, with live progress")
    _timeout_option(p)
    p = add("stream", cmd_stream, "print a job's streamed chunks as they arrive (one JSON line each)", job_id=True)
    _timeout_option(p)
    add("cancel", cmd_cancel, "cancel a queued or running job", job_id=True)
    p = add("retry", cmd_retry, "queue a FAILED or TIMED_OUT job again", job_id=True)
    p.add_argument("--wait", action="store_true", help="follow the job to its end, with live progress")
    _timeout_option(p)
    p = add("purge", cmd_purge, "drop the endpoint's queued jobs")
    p.add_argument("--json", action="store_true", help="print the raw JSON reply")
    p = add("requests", cmd_requests, "list the endpoint's jobs, newest first (a table, or --json)")
    p.add_argument("--status", action="append", help="only jobs in these states (repeat it, or comma-separated)")
    p.add_argument("--limit", type=int, default=20, help="jobs per page (1-500; default 20)")
    p.add_argument("--cursor", default=None, help="the page after this cursor (printed under a full page)")
    p.add_argument("--json", action="store_true", help="print the raw JSON reply")
    p = add("workers", cmd_workers, "list the endpoint's live workers (a table, or --json)")
    p.add_argument("--json", action="store_true", help="print the raw JSON reply")
    p = add("health", cmd_health, "show job counts and workers by state")
    p.add_argument("--json", action="store_true", help="print the raw JSON reply")


def run_command(func: Callable[[Client, argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one client command, turning every failure into one line on stderr and an exit status."""
    try:
        return func(Client.from_env(args.url, args.key), args)
    except UsageError as exc:
        return _fail(str(exc))
    except ApiError as exc:
        hint = " (set JOBGATE_API_KEY or pass --key)" if exc.status == 401 else ""
        return _fail(f"{exc.status} {exc.message}{hint}")
    except GatewayUnreachable as exc:
        return _fail(str(exc))
    except ClientError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print(f"\n{interrupted(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED


def interrupted(args: argparse.Namespace) -> str:
    """What Ctrl-C leaves behind: the job goes on; its id, and how to cancel it."""
    following = getattr(args, "following", None)
    if following is not None:
        endpoint, job_id = following
        return (
            f"jobgate: interrupted; job {job_id} goes on. Follow it: jobgate status {endpoint} {job_id} --wait; "
            f"cancel it: jobgate cancel {endpoint} {job_id}"
        )
    if getattr(args, "command", None) == "runsync":
        return (
            "jobgate: interrupted before the gateway named the job; it goes on. Find it: "
            f"jobgate requests {args.endpoint} --status IN_QUEUE,IN_PROGRESS"
        )
    return "jobgate: interrupted"


def _fail(message: str) -> int:
    print(f"jobgate: error: {message}", file=sys.stderr)
    return EXIT_ERROR
