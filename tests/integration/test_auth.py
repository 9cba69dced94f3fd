"""Every /v2 request carries a configured key; the gateway will not start without one."""

import pytest

from app import create_app
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


def test_gateway_refuses_to_start_without_a_key(settings):
    with pytest.raises(RuntimeError, match="JOBGATE_API_KEYS"):
        create_app(settings.replace(api_keys=()))


def test_settings_read_keys_from_the_environment(monkeypatch):
    from app.core.settings import Settings

    s = Settings.from_env({"JOBGATE_API_KEYS": "a, b,,c", "JOBGATE_RESULT_TTL_SYNC_S": "5"})
    assert s.api_keys == ("a", "b", "c") and s.result_ttl_sync_s == 5
