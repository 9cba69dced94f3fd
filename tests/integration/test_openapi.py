"""The OpenAPI document and the /docs page: served without a key, offline, and true to the gateway."""

import re

import requests

from tests.helpers import API_KEY


def spec(api):
    r = api.http.get("/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", op


def test_every_operation_documents_the_errors_admission_answers(api):
    ops = dict(operations(spec(api)))
    assert {
        "POST /v2/{endpoint_id}/run",
        "POST /v2/{endpoint_id}/runsync",
        "GET /v2/{endpoint_id}/health",
        "POST /v2/{endpoint_id}/purge-queue",
    } <= ops.keys()
    for name, op in ops.items():
        assert {"200", "400", "401", "403", "404", "413", "429", "503"} <= op["responses"].keys(), name
        assert "default" not in op["responses"], name


def test_error_responses_have_the_error_shape_and_429_a_retry_after(api):
    doc = spec(api)
    responses = doc["components"]["responses"]
    assert responses["RATE_LIMITED"]["headers"]["Retry-After"]["required"] is True
    assert responses["UNAUTHORIZED"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert doc["components"]["schemas"]["Error"]["required"] == ["code", "error"]


def test_endpoint_ids_are_the_configured_ones(api, app):
    item = spec(api)["paths"]["/v2/{endpoint_id}/run"]
    (param,) = [p for p in item["parameters"] if p["name"] == "endpoint_id"]
    assert param["schema"]["enum"] == app.extensions["jobgate"].registry.ids()


def test_docs_page_loads_only_local_assets(api):
    r = api.http.get("/docs")
    assert r.status_code == 200 and "text/html" in r.content_type
    html = r.get_data(as_text=True)
    assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]+)"', html))  # nothing from a CDN
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert api.http.get(asset).status_code == 200, asset


def test_wrong_method_answers_405_with_allow(api):
    r = api.get("/v2/echo/run")
    assert r.status_code == 405 and r.is_json and "POST" in r.headers["Allow"]


def test_request_line_too_long_for_gunicorn_is_414_json(gateway_url):
    r = requests.get(
        f"{gateway_url}/v2/echo/health?pad={'a' * 5000}", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
    )
    assert r.status_code == 414 and r.headers["Content-Type"] == "application/json" and r.json()["code"] == 414
