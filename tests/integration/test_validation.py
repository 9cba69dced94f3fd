"""Bad input gets a 400 JSON error naming the field, and nothing is queued."""

import pytest


def errors(r):
    assert r.status_code == 400, r.get_data(as_text=True)
    assert r.is_json
    return r.get_json()


def test_body_without_input_is_400_naming_input(api):
    body = errors(api.post("/v2/echo/run", json={"webhook": "http://x.test/"}))
    assert "input" in body["errors"] and "input" in body["error"]


def test_null_input_is_400_naming_input(api):
    assert "input" in errors(api.post("/v2/echo/run", json={"input": None}))["errors"]


def test_empty_body_is_400_naming_input(api):
    r = api.post("/v2/echo/runsync", data=b"", headers={"Content-Type": "application/json"})
    assert "input" in errors(r)["errors"]


def test_malformed_json_is_400(api):
    r = api.post("/v2/echo/run", data=b'{"input": ', headers={"Content-Type": "application/json"})
    assert "malformed JSON" in errors(r)["error"]


def test_json_without_content_type_is_accepted(api):
    r = api.post("/v2/unserved/run", data=b'{"input": 1}')
    assert r.status_code == 200


@pytest.mark.parametrize("body", [[1, 2], "text", 3])
def test_non_object_body_is_400(api, body):
    errors(api.post("/v2/echo/run", json=body))


@pytest.mark.parametrize(
    "policy, field",
    [
        ({"executionTimeout": 1000}, "policy.executionTimeout"),
        ({"executionTimeout": "5000"}, "policy.executionTimeout"),
        ({"ttl": 5}, "policy.ttl"),
        ({"ttl": 8 * 86_400_000}, "policy.ttl"),
        ({"lowPriority": "maybe"}, "policy.lowPriority"),
        ({"lowPriority": 0}, "policy.lowPriority"),
        ({"lowPriority": "true"}, "policy.lowPriority"),
        ({"priority": 1}, "policy.priority"),
    ],
)
def test_bad_policy_is_400_naming_the_field(api, policy, field):
    assert field in errors(api.post("/v2/echo/run", json={"input": 1, "policy": policy}))["errors"]


def test_null_input_is_documented_as_refused(api):
    spec = api.http.get("/openapi.json").get_json()
    assert {"type": "null"} not in spec["components"]["schemas"]["RunRequest"]["properties"]["input"]["anyOf"]


def test_bad_webhook_url_is_400(api):
    assert "webhook" in errors(api.post("/v2/echo/run", json={"input": 1, "webhook": "not a url"}))["errors"]


def test_unknown_top_level_key_is_400(api):
    assert "inptu" in errors(api.post("/v2/echo/run", json={"input": 1, "inptu": 2}))["errors"]


@pytest.mark.parametrize("wait", ["999", "300001", "soon"])
def test_runsync_wait_out_of_range_is_400(api, wait):
    assert "wait" in errors(api.post(f"/v2/echo/runsync?wait={wait}", json={"input": 1}))["errors"]


def test_rejected_submissions_queue_nothing(api, redis):
    api.post("/v2/unserved/run", json={"nope": 1})
    assert api.get("/v2/unserved/health").get_json()["jobs"]["inQueue"] == 0
