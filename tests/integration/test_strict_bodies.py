"""Request bodies are strict JSON within limits: each refusal is a 400 naming the body, never a 500."""

from __future__ import annotations

import json

import pytest


def refused(api, data: bytes, endpoint: str = "echo") -> dict:
    r = api.post(f"/v2/{endpoint}/run", data=data, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.get_data(as_text=True)[:500]
    body = r.get_json()
    assert "body" in body["errors"] and body["error"].startswith("body: ")
    return body


def nested(levels: int) -> bytes:
    return b'{"input": ' + b"[" * levels + b"]" * levels + b"}"


def test_a_body_nested_past_the_limit_is_400(api, redis):
    body = refused(api, nested(5000))
    assert body["error"] == "body: nested deeper than 1000 levels"
    assert redis.llen("jobgate.echo") == 0


def test_a_deep_object_is_400(api):
    data = b'{"input": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5000 + b"}"
    assert "nested deeper than 1000 levels" in refused(api, data)["error"]


def test_a_body_at_the_nesting_limit_runs_and_comes_back(api):
    levels = 999  # the body's own object is the 1000th level
    r = api.post("/v2/echo/runsync", data=nested(levels), headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    # Parsed here, not by the app's own parser: with the envelope the answer nests 1001 deep.
    output = json.loads(r.get_data())["output"]["echo"]
    depth = 0
    while output != []:
        output, depth = output[0], depth + 1
    assert depth == levels - 1


def test_an_integer_past_python_s_limit_is_400(api):
    body = refused(api, b'{"input": ' + b"9" * 5000 + b"}")
    assert body["error"] == "body: an integer of more than 4300 digits"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_400(api, literal):
    body = refused(api, f'{{"input": {{"x": {literal}}}}}'.encode())
    assert body["error"] == f"body: {literal} is not JSON (RFC 8259 has no NaN or Infinity)"


def test_a_number_that_overflows_a_double_is_400(api):
    assert "out of range" in refused(api, b'{"input": 1e400}')["error"]


def test_a_body_that_is_not_utf8_is_400(api):
    assert refused(api, b'{"input": "\xff\xfe"}')["error"] == "body: not UTF-8 (byte 11)"


def test_nul_and_lone_surrogates_as_escapes_come_back_as_escapes(api):
    r = api.post(
        "/v2/echo/runsync", data=rb'{"input": "a\u0000b\ud800c"}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200
    assert b'"a\\u0000b\\ud800c"' in r.get_data()


def test_the_openai_routes_refuse_the_same_bodies(api):
    r = api.post(
        "/v2/echo-openai/openai/v1/chat/completions",
        data=b'{"model": "m", "messages": [], "temperature": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert "NaN is not JSON" in r.get_json()["error"]["message"]
