"""A policy's executionTimeout stays within its endpoint's cap (the visibility timeout itself:
tests/unit/test_visibility_timeout.py)."""


def test_a_policy_above_the_endpoint_cap_is_refused_naming_the_field(api):
    r = api.post("/v2/capped/run", json={"input": 1, "policy": {"executionTimeout": 120000}})
    assert r.status_code == 400
    assert "executionTimeout" in r.get_json()["errors"]["policy"]


def test_a_policy_within_the_endpoint_cap_is_accepted(api):
    r = api.post("/v2/capped/run", json={"input": 1, "policy": {"executionTimeout": 60000}})
    assert r.status_code == 200
