"""Fixtures every tier may ask for; none of them is used automatically.

Tiers: tests/unit (no services, no subprocesses), tests/integration (a real Redis and a real
Celery worker, started once per session: see tests/integration/conftest.py), tests/faults
(kill real processes). Helpers live in tests/helpers.py.
"""

from __future__ import annotations

import os

import pytest

from app.core.settings import Settings
from app.store.boot import ensure as ensure_redis
from tests.helpers import ROOT, TEST_DB, settings_for, with_db


@pytest.fixture(scope="session")
def redis_url() -> str:
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    ensure_redis(base, ROOT / "var")
    return with_db(base, TEST_DB)


@pytest.fixture(scope="session")
def settings(redis_url: str) -> Settings:
    return settings_for(redis_url)
