"""Test helper: keep every process of the session worker busy, so new jobs stay queued."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tests.helpers import ApiClient, wait_until

PROCESSES = 3  # the session worker's pool size (conftest: -c 3)


def status(api: ApiClient, endpoint: str, job_id: str) -> str | None:
    r = api.get(f"/v2/{endpoint}/status/{job_id}")
    return r.get_json()["status"] if r.status_code == 200 else None


@contextlib.contextmanager
def busy_worker(api: ApiClient, seconds: float = 30) -> Iterator[list[str]]:
    """Occupy all pool processes with sleeping ``echo`` jobs; cancel those still running after."""
    ids = [api.run("echo", {"sleep": seconds}) for _ in range(PROCESSES)]
    try:
        assert wait_until(lambda: all(status(api, "echo", j) == "IN_PROGRESS" for j in ids), 30, 0.1), (
            "the worker's processes did not all take a job"
        )
        yield ids
    finally:
        for job_id in ids:
            api.post(f"/v2/echo/cancel/{job_id}")
