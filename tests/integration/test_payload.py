"""Body caps: 413 before the body is read (run 10 MiB, runsync 20 MiB by default)."""

import json
import socket
from urllib.parse import urlparse

import pytest
import requests

from app.core.limits import MIB
from tests.helpers import API_KEY

H = {"Authorization": f"Bearer {API_KEY}"}


def body_of(size: int) -> bytes:
    """A valid run body of exactly ``size`` bytes."""
    frame = json.dumps({"input": ""}).encode()
    return json.dumps({"input": "x" * (size - len(frame))}).encode()


@pytest.mark.parametrize("path, cap", [("run", 1000), ("runsync?wait=1000", 2000)])
def test_body_at_the_cap_is_accepted_and_one_byte_more_is_413(api, path, cap):
    assert api.post(f"/v2/small-body/{path}", data=body_of(cap)).status_code == 200
    r = api.post(f"/v2/small-body/{path}", data=body_of(cap + 1))
    assert r.status_code == 413 and r.is_json and "cap" in r.get_json()["error"]


@pytest.mark.parametrize("path, cap", [("run", 10 * MIB), ("runsync?wait=1000", 20 * MIB)])
def test_default_caps_are_10_and_20_mib(api, path, cap):
    assert api.post(f"/v2/unserved/{path}", data=body_of(cap)).status_code == 200
    assert api.post(f"/v2/unserved/{path}", data=body_of(cap + 1)).status_code == 413


def test_operations_that_read_no_body_cap_it_at_1_mib(api):
    assert api.post("/v2/echo/purge-queue", data=b" " * (MIB + 1)).status_code == 413


def test_413_is_answered_before_the_body_is_sent(gateway_url):
    # Announce 11 MiB and send none of it: the answer comes without the gateway reading anything.
    url = urlparse(gateway_url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as s:
        s.sendall(
            (
                f"POST /v2/echo/run HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {11 * MIB}\r\n\r\n"
            ).encode()
        )
        reply = b""
        while b'"code"' not in reply:  # headers and body may come in separate packets
            chunk = s.recv(4096)
            assert chunk, reply
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413") and b'"code":413' in reply.replace(b" ", b"")


def test_chunked_body_over_the_cap_is_413(gateway_url):
    def chunks():
        for _ in range(20):
            yield b" " * 100
        yield b'{"input": 1}'

    r = requests.post(f"{gateway_url}/v2/small-body/run", data=chunks(), headers=H, timeout=10)
    assert r.status_code == 413 and r.json()["code"] == 413


def test_chunked_body_under_the_cap_is_accepted(gateway_url):
    r = requests.post(f"{gateway_url}/v2/small-body/run", data=iter([b'{"input":', b" 1}"]), headers=H, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "IN_QUEUE"
