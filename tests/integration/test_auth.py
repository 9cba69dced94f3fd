"""Every /v2 request carries a configured key (the gateway will not start without one:
tests/unit/test_gateway_keys.py)."""

from tests.helpers import ApiClient


def test_missing_key_is_401_json(app):
    r = ApiClient(app, key=None).get("/v2/echo/health")
    assert r.status_code == 401 and "missing API key" in r.get_json()["error"]


def test_wrong_key_is_401_json(app):
    r = ApiClient(app, key="wrong").get("/v2/echo/health")
    assert r.status_code == 401 and r.get_json()["error"] == "invalid API key"


def test_raw_key_without_bearer_is_accepted(app):
    r = app.test_client().get("/v2/echo/health", headers={"Authorization": "test-key"})
    assert r.status_code == 200


def test_bearer_key_is_accepted(api):
    assert api.get("/v2/echo/health").status_code == 200
