"""The rate and concurrency limits per operation: the contract's defaults, the endpoints file's
overrides and its errors, and the switch that turns them off."""

from __future__ import annotations

import pytest

from app.core.endpoints import EndpointConfigError, _endpoint
from app.core.limits import DEFAULT_LIMITS, MIB, OperationLimit
from app.core.settings import Settings


def test_settings_read_rate_limits_switch():
    assert Settings.from_env({"JOBGATE_RATE_LIMITS": "0"}).rate_limits is False
    assert Settings.from_env({}).rate_limits is True


def test_defaults_are_the_contract_table():
    per10s = {op: (lim.rate, lim.window_s, lim.concurrent) for op, lim in DEFAULT_LIMITS.items()}
    assert per10s["run"] == (1000, 10, 200)
    assert per10s["runsync"] == (2000, 10, 400)
    assert per10s["status"] == per10s["status_sync"] == per10s["stream"] == (2000, 10, 400)
    assert per10s["cancel"] == (100, 10, 20)
    assert per10s["purge_queue"] == (2, 10, 0)
    assert per10s["openai"] == (2000, 10, 400) and per10s["requests"] == (10, 10, 2)
    assert DEFAULT_LIMITS["run"].max_body_bytes == 10 * MIB
    assert DEFAULT_LIMITS["runsync"].max_body_bytes == 20 * MIB


def test_endpoint_table_overrides_some_fields_of_some_operations(tmp_path):
    e = _endpoint("x", {"handler": "m:f", "limits": {"purge-queue": {"rate": 5}, "run": {"concurrent": 0}}}, tmp_path)
    assert e.limit("purge_queue") == OperationLimit(rate=5)
    assert e.limit("run") == OperationLimit(rate=1000, concurrent=0, max_body_bytes=10 * MIB)
    assert e.limit("status") == DEFAULT_LIMITS["status"]


@pytest.mark.parametrize(
    "limits, message",
    [
        ({"runn": {"rate": 1}}, "unknown operation 'runn'"),
        ({"run": {"rat": 1}}, "unknown field 'rat'"),
        ({"run": {"rate": -1}}, "run.rate must be an integer >= 0"),
        ({"run": {"window_s": 0}}, "run.window_s must be an integer >= 1"),
        ({"run": {"rate": "5"}}, "run.rate must be an integer"),
        ({"run": 5}, "run must be a table"),
    ],
)
def test_bad_limits_in_the_endpoints_file_name_the_entry(tmp_path, limits, message):
    with pytest.raises(EndpointConfigError, match=message):
        _endpoint("x", {"handler": "m:f", "limits": limits}, tmp_path)
