"""Rate limits per endpoint and operation, counted in Redis, answered with 429 and Retry-After."""

import pytest

from app import create_app
from app.core.endpoints import EndpointConfigError, _endpoint
from app.core.limits import DEFAULT_LIMITS, MIB, OperationLimit
from app.core.settings import Settings
from tests.helpers import ApiClient, wait_until


def submit(client, endpoint="rate-limited"):
    return client.post(f"/v2/{endpoint}/run", json={"input": 1})


def test_run_is_refused_after_its_rate_and_not_before(api):
    assert [submit(api).status_code for _ in range(3)] == [200, 200, 200]
    r = submit(api)
    assert r.status_code == 429 and r.is_json
    assert r.get_json()["code"] == 429 and "rate limit" in r.get_json()["error"]
    assert 1 <= int(r.headers["Retry-After"]) <= 10


def test_refused_submission_queues_nothing(api):
    for _ in range(4):
        submit(api)
    assert api.get("/v2/rate-limited/health").get_json()["jobs"]["inQueue"] == 3


def test_limits_are_per_operation(api):
    for _ in range(4):
        submit(api)
    job_id = api.run("unserved", 1)
    assert api.get(f"/v2/rate-limited/status/{job_id}").status_code == 404  # counted apart, not 429


def test_limits_are_per_endpoint(api):
    for _ in range(4):
        submit(api)
    assert submit(api, "unserved").status_code == 200


def test_gateway_processes_share_one_budget(api, settings):
    other = ApiClient(create_app(settings))
    assert [submit(api).status_code, submit(other).status_code, submit(api).status_code] == [200] * 3
    assert submit(other).status_code == 429


def test_requests_are_admitted_again_after_retry_after(api):
    statuses = [api.get("/v2/rate-limited/health") for _ in range(10)]
    refused = next(r for r in statuses if r.status_code == 429)
    wait = int(refused.headers["Retry-After"])
    assert wait_until(lambda: api.get("/v2/rate-limited/health").status_code == 200, wait + 2, 0.25)


def test_rate_limits_can_be_switched_off(settings):
    client = ApiClient(create_app(settings.replace(rate_limits=False)))
    assert [submit(client).status_code for _ in range(5)] == [200] * 5


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


def test_purge_queue_keeps_the_contract_default_of_two_per_10_s(api):
    statuses = [api.post("/v2/unserved/purge-queue").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
