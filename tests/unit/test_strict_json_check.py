"""The integration tests' check of every answer (tests.helpers.StrictJSONCheck) catches what it must."""

from __future__ import annotations

import pytest

from tests.helpers import StrictJSONCheck, strict_json_problem


def answering(body: bytes, content_type: str = "application/json"):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", content_type)])
        return [body]

    return StrictJSONCheck(app)


def call(check: StrictJSONCheck, path: str = "/v2/echo/status/x", method: str = "GET") -> bytes:
    return b"".join(check({"REQUEST_METHOD": method, "PATH_INFO": path}, lambda *a: None))


@pytest.mark.parametrize("body", [b'{"x": NaN}', b"[Infinity]", b'{"x": -Infinity}', b'"\xff"', b"{"])
def test_an_answer_that_is_not_strict_json_is_a_problem(body):
    check = answering(body)
    assert call(check) == body  # the answer itself passes through unchanged
    assert len(check.problems) == 1 and check.problems[0].startswith("GET /v2/echo/status/x: ")


def test_a_v2_answer_that_is_not_json_is_a_problem():
    check = answering(b"", "text/html; charset=utf-8")
    call(check, method="OPTIONS")
    assert check.problems == ["OPTIONS /v2/echo/status/x: answered text/html; charset=utf-8, not JSON"]


@pytest.mark.parametrize(
    "path, content_type",
    [("/v2/echo/stream/x", "text/event-stream"), ("/metrics", "text/plain"), ("/docs", "text/html")],
)
def test_event_streams_and_pages_outside_v2_are_not_checked(path, content_type):
    check = answering(b"data: x\n\n", content_type)
    call(check, path)
    assert check.problems == []


def test_strict_json_passes():
    assert strict_json_problem(b'{"a": [1, 2.5, "\\ud800", null]}') is None
