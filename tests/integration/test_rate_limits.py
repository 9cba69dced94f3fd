"""Rate limits per endpoint and operation, counted in Redis, answered with 429 and Retry-After
(the limits table itself: tests/unit/test_limits_table.py)."""

from app import create_app
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


def test_purge_queue_keeps_the_contract_default_of_two_per_10_s(api):
    statuses = [api.post("/v2/unserved/purge-queue").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
