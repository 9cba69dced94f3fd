"""A corpus of nasty inputs against the gateway as deployed (gunicorn, a real worker).

Deep, huge and odd bodies, numbers JSON has no room for, strings with NUL and lone surrogates,
every operation's query parameters at and past their bounds, odd methods, content types and
headers, webhooks into the private network. Each answer: the expected status (never a 5xx),
strict JSON (RFC 8259: UTF-8, no NaN or Infinity), and for a refusal an error naming the problem.
Schemathesis (test_fuzz.py) fuzzes the documented shapes; this corpus is what it never generates.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.helpers import API_KEY, strict_json_problem

DAY_MS = 86_400_000
UNKNOWN = "00000000-0000-0000-0000-000000000000"


def nested(levels: int, opener: bytes = b"[", closer: bytes = b"]") -> bytes:
    return b'{"input": ' + opener * levels + b"1" * (opener == b'{"a": ') + closer * levels + b"}"


@dataclass
class Case:
    name: str
    method: str
    path: str  # under /v2/
    status: int
    says: str = ""  # a part of the error message (or of the answer, for a 200)
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


JSON = {"Content-Type": "application/json"}

CASES = [
    # -- bodies ----------------------------------------------------------------------------
    Case("array nested 5,000 deep", "POST", "echo/run", 400, "nested deeper than 1000", nested(5000), JSON),
    Case("object nested 5,000 deep", "POST", "echo/run", 400, "nested deeper than 1000", nested(5000, b'{"a": ', b"}")),
    Case("array nested 999 deep (at the limit)", "POST", "unserved/run", 200, "IN_QUEUE", nested(999)),
    Case(
        "integer of 5,000 digits", "POST", "echo/run", 400, "more than 4300 digits", b'{"input": ' + b"9" * 5000 + b"}"
    ),
    Case("integer of 4,300 digits", "POST", "unserved/run", 200, "IN_QUEUE", b'{"input": ' + b"9" * 4300 + b"}"),
    Case("NaN", "POST", "echo/run", 400, "NaN is not JSON", b'{"input": {"x": NaN}}'),
    Case("Infinity", "POST", "echo/runsync", 400, "Infinity is not JSON", b'{"input": {"y": Infinity}}'),
    Case("-Infinity", "POST", "echo/run", 400, "-Infinity is not JSON", b'{"input": [-Infinity]}'),
    Case("1e400 (overflows a double)", "POST", "echo/run", 400, "out of range", b'{"input": 1e400}'),
    Case("invalid UTF-8", "POST", "echo/run", 400, "not UTF-8", b'{"input": "\xc3\x28"}'),
    Case("UTF-8 byte order mark", "POST", "echo/run", 400, "malformed JSON", b'\xef\xbb\xbf{"input": 1}'),
    Case("raw NUL inside a string", "POST", "echo/run", 400, "Invalid control character", b'{"input": "a\x00b"}'),
    Case(
        "escaped NUL and lone surrogate",
        "POST",
        "echo/runsync",
        200,
        r"a\u0000b\ud800",
        rb'{"input": "a\u0000b\ud800"}',
    ),
    Case("1 MB string", "POST", "unserved/run", 200, "IN_QUEUE", b'{"input": "' + b"x" * 1_000_000 + b'"}'),
    Case(
        "1 MB of escaped NULs", "POST", "unserved/run", 200, "IN_QUEUE", b'{"input": "' + rb"\u0000" * 170_000 + b'"}'
    ),
    Case(
        "array of 2 million zeros", "POST", "unserved/run", 200, "IN_QUEUE", b'{"input": [' + b"0," * 1_999_999 + b"0]}"
    ),
    Case(
        "object of 100,000 keys",
        "POST",
        "unserved/run",
        200,
        "IN_QUEUE",
        json.dumps({"input": {f"k{i}": i for i in range(100_000)}}).encode(),
    ),
    Case("11 MB body on /run (cap 10 MB)", "POST", "echo/run", 413, "cap", b'{"input": "' + b"x" * 11_000_000 + b'"}'),
    Case("empty body", "POST", "echo/run", 400, "input", b""),
    Case("body null", "POST", "echo/run", 400, "body", b"null"),
    Case("body a bare string", "POST", "echo/run", 400, "body", b'"input"'),
    Case("truncated JSON", "POST", "echo/run", 400, "malformed JSON", b'{"input": [1, 2'),
    Case("input null", "POST", "echo/run", 400, "input", b'{"input": null}'),
    Case("unknown top-level field", "POST", "echo/run", 400, "inptu", b'{"input": 1, "inptu": 2}'),
    Case("policy.ttl a float", "POST", "echo/run", 400, "policy.ttl", b'{"input": 1, "policy": {"ttl": 1e5}}'),
    Case(
        "policy.executionTimeout past 7 days",
        "POST",
        "echo/run",
        400,
        "policy.executionTimeout",
        b'{"input": 1, "policy": {"executionTimeout": 604800001}}',
    ),
    Case(
        "policy.lowPriority a string",
        "POST",
        "echo/run",
        400,
        "policy.lowPriority",
        b'{"input": 1, "policy": {"lowPriority": "yes"}}',
    ),
    Case("s3Config a list", "POST", "echo/run", 400, "s3Config", b'{"input": 1, "s3Config": []}'),
    # -- webhooks ----------------------------------------------------------------------------
    Case(
        "webhook to the metadata service",
        "POST",
        "echo/run",
        400,
        "169.254.169.254, a link-local address",
        b'{"input": 1, "webhook": "http://169.254.169.254/latest/meta-data"}',
    ),
    Case(
        "webhook to 10.0.0.1",
        "POST",
        "echo/run",
        400,
        "private address",
        b'{"input": 1, "webhook": "http://10.0.0.1/"}',
    ),
    Case(
        "webhook to [::1]", "POST", "echo/run", 400, "loopback address", b'{"input": 1, "webhook": "http://[::1]:80/"}'
    ),
    Case(
        "webhook to a name that does not resolve",
        "POST",
        "echo/run",
        400,
        "does not resolve",
        b'{"input": 1, "webhook": "https://nowhere.invalid/hook"}',
    ),
    Case("webhook as file://", "POST", "echo/run", 400, "webhook", b'{"input": 1, "webhook": "file:///etc/passwd"}'),
    Case(
        "webhook of 100 kB",
        "POST",
        "echo/run",
        400,
        "webhook",
        b'{"input": 1, "webhook": "http://' + b"a" * 100_000 + b'.example/"}',
    ),
    # -- query parameters at and past their bounds -----------------------------------------
    Case("runsync wait=999", "POST", "echo/runsync?wait=999", 400, "wait", b'{"input": 1}'),
    Case("runsync wait=1000", "POST", "echo/runsync?wait=1000", 200, "", b'{"input": 1}'),
    Case("runsync wait=300001", "POST", "echo/runsync?wait=300001", 400, "wait", b'{"input": 1}'),
    Case("runsync wait=-1", "POST", "echo/runsync?wait=-1", 400, "wait", b'{"input": 1}'),
    Case("runsync wait=1e3", "POST", "echo/runsync?wait=1e3", 400, "wait", b'{"input": 1}'),
    Case("runsync wait of 40 digits", "POST", "echo/runsync?wait=" + "9" * 40, 400, "wait", b'{"input": 1}'),
    Case("runsync wait twice", "POST", "echo/runsync?wait=1000&wait=abc", 200, "", b'{"input": 1}'),
    Case("status ttl=-1", "GET", f"echo/status/{UNKNOWN}?ttl=-1", 400, "ttl"),
    Case("status ttl=0 (bound)", "GET", f"echo/status/{UNKNOWN}?ttl=0", 404, UNKNOWN),
    Case("status ttl=7 days (bound)", "GET", f"echo/status/{UNKNOWN}?ttl={7 * DAY_MS}", 404, UNKNOWN),
    Case("status ttl past 7 days", "GET", f"echo/status/{UNKNOWN}?ttl={7 * DAY_MS + 1}", 400, "ttl"),
    Case("status-sync wait=999", "GET", f"echo/status-sync/{UNKNOWN}?wait=999", 400, "wait"),
    Case("status-sync wait=1000 (bound)", "GET", f"echo/status-sync/{UNKNOWN}?wait=1000", 404, UNKNOWN),
    Case("stream wait=-1", "GET", f"echo/stream/{UNKNOWN}?wait=-1", 400, "wait"),
    Case("stream wait=300000 (bound)", "GET", f"echo/stream/{UNKNOWN}?wait=300000", 404, UNKNOWN),
    Case("stream wait=300001", "GET", f"echo/stream/{UNKNOWN}?wait=300001", 400, "wait"),
    Case("requests limit=0", "GET", "echo/requests?limit=0", 400, "limit"),
    Case("requests limit=500 (bound)", "GET", "echo/requests?limit=500", 200, ""),
    Case("requests limit=501", "GET", "echo/requests?limit=501", 400, "limit"),
    Case("requests status=BOGUS", "GET", "echo/requests?status=BOGUS", 400, "status"),
    Case("requests cursor of garbage", "GET", "echo/requests?cursor=%00%ff%fe", 400, "cursor"),
    # -- paths, methods, content types, headers ------------------------------------------------
    Case("job id of 3,000 characters", "GET", "echo/status/" + "j" * 3000, 404, "not found"),
    Case("job id of 10,000 characters", "GET", "echo/status/" + "j" * 10_000, 414, ""),
    Case("job id with NUL and emoji", "GET", "echo/status/a%00b%F0%9F%92%A9", 404, "not found"),
    Case("job id of invalid UTF-8", "GET", "echo/status/%ff%fe", 404, "not found"),
    Case("unknown endpoint", "POST", "no-such-endpoint/run", 404, "no-such-endpoint", b'{"input": 1}'),
    Case("DELETE /run", "DELETE", "echo/run", 405, ""),
    Case("PUT /status", "PUT", f"echo/status/{UNKNOWN}", 405, ""),
    Case("PATCH /health", "PATCH", "echo/health", 405, ""),
    Case("TRACE /health", "TRACE", "echo/health", 405, ""),
    Case("OPTIONS /run", "OPTIONS", "echo/run", 200, '"allow": ["OPTIONS", "POST"]'),
    Case("text/plain body", "POST", "unserved/run", 200, "IN_QUEUE", b'{"input": 1}', {"Content-Type": "text/plain"}),
    Case(
        "form-encoded body",
        "POST",
        "echo/run",
        400,
        "malformed JSON",
        b"input=1",
        {"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Case(
        "multipart body",
        "POST",
        "echo/run",
        400,
        "body",
        b'--b\r\nContent-Disposition: form-data; name="input"\r\n\r\n1\r\n--b--\r\n',
        {"Content-Type": "multipart/form-data; boundary=b"},
    ),
    Case(
        "UTF-16 body",
        "POST",
        "echo/run",
        400,
        "body",
        '{"input": 1}'.encode("utf-16"),
        {"Content-Type": "application/json; charset=utf-16"},
    ),
    Case(
        "gzip body (not decoded)",
        "POST",
        "echo/run",
        400,
        "not UTF-8",
        gzip.compress(b'{"input": 1}'),
        {"Content-Type": "application/json", "Content-Encoding": "gzip"},
    ),
    Case("header of 10 kB", "GET", "echo/health", 431, "", None, {"X-Big": "x" * 10_000}),
    Case("non-ASCII key", "GET", "echo/health", 401, "invalid API key", None, {"Authorization": "Bearer clé"}),
    Case("key of 4 kB", "GET", "echo/health", 401, "invalid API key", None, {"Authorization": "Bearer " + "k" * 4000}),
    # -- the OpenAI routes (errors in OpenAI's shape) ------------------------------------------
    Case(
        "openai body with NaN",
        "POST",
        "echo-openai/openai/v1/chat/completions",
        400,
        "NaN is not JSON",
        b'{"model": "m", "messages": [], "temperature": NaN}',
    ),
    Case(
        "openai body nested 5,000 deep",
        "POST",
        "echo-openai/openai/v1/completions",
        400,
        "nested deeper",
        b'{"model": "m", "prompt": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ),
]


def send(url: str, case: Case, key: str = API_KEY) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}", **case.headers}
    if case.body is not None and not any(h.lower() == "content-type" for h in case.headers):
        headers["Content-Type"] = "application/json"
    return requests.request(case.method, f"{url}/v2/{case.path}", data=case.body, headers=headers, timeout=60)


def message_of(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):  # OpenAI's shape
        return str(error.get("message", ""))
    return "" if error is None else f"{error} {json.dumps(body.get('errors', {}))}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_nasty_input_gets_a_strict_json_answer_naming_the_problem(gateway_url, case):
    r = send(gateway_url, case)
    problem = strict_json_problem(r.content)
    print(f"| {case.name} | {case.method} | {r.status_code} | {problem or message_of(r.json())} |")
    assert r.status_code < 500
    assert r.status_code == case.status, r.text[:500]
    assert r.headers["Content-Type"].startswith("application/json")
    assert problem is None, problem
    if r.status_code >= 400:
        assert case.says in message_of(r.json())
    else:
        assert case.says in r.text


def test_the_gateway_still_serves_after_the_corpus(gateway_url):
    r = requests.get(f"{gateway_url}/v2/echo/health", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10)
    assert r.status_code == 200
