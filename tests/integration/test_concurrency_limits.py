"""Concurrency limits: a slot per request in progress, given back on every way out."""

import concurrent.futures as cf
import time

import pytest
import requests

from app.core.limits import OperationLimit
from app.store.keys import Keys
from app.store.limiter import Limiter
from tests.helpers import API_KEY, wait_until

H = {"Authorization": f"Bearer {API_KEY}"}


def held_runsync(api, wait_ms=3000):
    return api.post(f"/v2/one-at-a-time/runsync?wait={wait_ms}", json={"input": 1})


def in_flight(app, operation="runsync"):
    return app.extensions["jobgate"].limiter.in_flight("one-at-a-time", operation)


def test_second_request_is_refused_while_the_slot_is_held(api, app):
    with cf.ThreadPoolExecutor(1) as pool:
        first = pool.submit(held_runsync, api)
        assert wait_until(lambda: in_flight(app) == 1, 5)
        r = held_runsync(api, 1000)
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        assert "concurrency limit" in r.get_json()["error"]
        assert first.result().status_code == 200
    assert held_runsync(api, 1000).status_code == 200


def test_slot_is_released_after_the_wait_times_out(api, app):
    for _ in range(3):
        r = held_runsync(api, 1000)
        assert r.status_code == 200 and r.get_json()["status"] == "IN_QUEUE"
    assert in_flight(app) == 0


@pytest.mark.parametrize("body", [{"inptu": 1}, b"{not json", [1]])
def test_slot_is_released_after_a_bad_request(api, app, body):
    kw = {"data": body} if isinstance(body, bytes) else {"json": body}
    statuses = [api.post("/v2/one-at-a-time/runsync?wait=1000", **kw).status_code for _ in range(3)]
    assert statuses == [400, 400, 400] and in_flight(app) == 0


def test_slot_is_released_after_a_not_found(api, app):
    statuses = [api.get("/v2/one-at-a-time/status-sync/nope?wait=1000").status_code for _ in range(3)]
    assert statuses == [404, 404, 404] and in_flight(app, "status_sync") == 0


def test_slot_is_released_when_the_client_goes_away(gateway_url, app):
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.post(f"{gateway_url}/v2/one-at-a-time/runsync?wait=2000", json={"input": 1}, headers=H, timeout=0.5)
    # The gateway keeps the call until its wait ends, then gives the slot back.
    assert wait_until(lambda: in_flight(app) == 1, 5)
    assert wait_until(lambda: in_flight(app) == 0, 10)
    r = requests.post(f"{gateway_url}/v2/one-at-a-time/runsync?wait=1000", json={"input": 1}, headers=H, timeout=10)
    assert r.status_code == 200


def test_slot_of_a_dead_process_lapses_by_itself(redis, settings):
    limiter = Limiter(redis, Keys(settings.key_prefix), lease_s=1)
    one = OperationLimit(concurrent=1)
    assert limiter.acquire("one-at-a-time", "runsync", one) is not None  # never released
    with pytest.raises(Exception, match="concurrency limit"):
        limiter.acquire("one-at-a-time", "runsync", one)
    time.sleep(1.1)
    assert limiter.acquire("one-at-a-time", "runsync", one) is not None


def test_in_flight_set_expires(redis, settings):
    limiter = Limiter(redis, Keys(settings.key_prefix))
    slot = limiter.acquire("one-at-a-time", "runsync", OperationLimit(concurrent=5))
    assert 0 < redis.pttl(slot.key) <= 360_000
