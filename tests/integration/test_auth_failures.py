"""Failed authentication is limited per client address, counted in Redis (every gateway together):
past 20 wrong keys in 10 s an address gets 429 with Retry-After; a right key is never slowed."""

from __future__ import annotations

from app import create_app
from tests.helpers import API_KEY

LIMIT = 20  # JOBGATE_AUTH_FAILURES' default, per JOBGATE_AUTH_FAILURE_WINDOW_S (10 s)


def call(client, address: str, key: str | None):
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return client.get("/v2/echo/health", headers=headers, environ_base={"REMOTE_ADDR": address})


def test_wrong_keys_past_the_limit_are_429_with_retry_after(app):
    client = app.test_client()
    statuses = [call(client, "198.51.100.1", f"wrong-{i}").status_code for i in range(LIMIT)]
    assert statuses == [401] * LIMIT
    r = call(client, "198.51.100.1", "wrong-again")
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 10
    assert r.get_json()["error"].startswith("too many failed authentications from 198.51.100.1")


def test_a_right_key_is_answered_from_an_address_being_refused(app):
    client = app.test_client()
    for i in range(LIMIT + 5):
        call(client, "198.51.100.2", f"wrong-{i}")
    assert call(client, "198.51.100.2", "wrong").status_code == 429
    assert call(client, "198.51.100.2", API_KEY).status_code == 200


def test_a_missing_key_is_not_counted(app):
    client = app.test_client()
    assert {call(client, "198.51.100.3", None).status_code for _ in range(LIMIT + 5)} == {401}
    assert call(client, "198.51.100.3", "wrong").status_code == 401


def test_other_addresses_are_not_affected(app):
    client = app.test_client()
    for i in range(LIMIT + 1):
        call(client, "198.51.100.4", f"wrong-{i}")
    assert call(client, "198.51.100.5", "wrong").status_code == 401


def test_every_gateway_counts_together(app, settings):
    first, second = app.test_client(), create_app(settings).test_client()
    for i in range(LIMIT):
        call(first if i % 2 else second, "198.51.100.6", f"wrong-{i}")
    assert call(second, "198.51.100.6", "wrong").status_code == 429
