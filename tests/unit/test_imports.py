"""What a user's import costs: a handler's ``from workers import progress_update`` and the
Python client never load Flask (nor the gateway), and nothing connects to Redis at import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def loaded_after(statement: str) -> set[str]:
    """The top-level packages loaded by ``statement`` in a fresh interpreter."""
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "statement",
    ["import workers", "from workers import progress_update", "from app.client import Client", "import app"],
)
def test_importing_loads_no_flask(statement):
    loaded = loaded_after(statement)
    assert not loaded & {"flask", "flask_smorest", "werkzeug", "marshmallow"}


def test_the_client_loads_no_celery_and_no_redis():
    assert not loaded_after("from app.client import Client") & {"celery", "kombu", "redis"}


def test_the_core_loads_no_service_library():
    loaded = loaded_after("import app.core.endpoints, app.core.contract, app.core.job, app.core.logs")
    assert not loaded & {"redis", "flask", "celery", "kombu"}


def test_create_app_is_still_reachable_from_the_package():
    assert "flask" in loaded_after("from app import create_app")
