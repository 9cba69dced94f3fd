"""The gateway's configured keys: read from the environment, and required to start at all."""

from __future__ import annotations

import pytest

from app import create_app
from app.core.settings import Settings
from tests.helpers import offline_settings


def test_gateway_refuses_to_start_without_a_key():
    with pytest.raises(RuntimeError, match="JOBGATE_API_KEYS"):
        create_app(offline_settings().replace(api_keys=()))


def test_settings_read_keys_from_the_environment():
    s = Settings.from_env({"JOBGATE_API_KEYS": "a, b,,c", "JOBGATE_RESULT_TTL_SYNC_S": "5"})
    assert s.api_keys == ("a", "b", "c") and s.result_ttl_sync_s == 5
