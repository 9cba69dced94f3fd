"""What a worker's Celery pool is told: the recycling limits of its endpoints, and how long
SIGTERM waits for running jobs."""

from __future__ import annotations

import textwrap

from app.core.endpoints import Registry
from app.store.context import Context
from tests.helpers import offline_settings
from workers.celery_app import make_celery
from workers.command import pool_limits


def test_a_worker_gets_the_strictest_pool_limits_of_its_endpoints(tmp_path):
    path = tmp_path / "endpoints.toml"
    path.write_text(
        textwrap.dedent("""
        [endpoints.a]
        handler = "m:f"
        max_tasks_per_child = 10
        max_memory_per_child = 4000000
        [endpoints.b]
        handler = "m:f"
        max_tasks_per_child = 3
        [endpoints.c]
        handler = "m:f"
    """)
    )
    reg = Registry.load(path)
    assert pool_limits(reg) == ["--max-tasks-per-child", "3", "--max-memory-per-child", "4000000"]
    assert pool_limits([reg["c"]]) == []


def test_sigterm_grace_is_celerys_soft_shutdown_timeout():
    settings = offline_settings()
    celery = make_celery(Context(settings.replace(worker_grace_s=42), Registry.load(settings.endpoints_file)))
    assert celery.conf.worker_soft_shutdown_timeout == 42
