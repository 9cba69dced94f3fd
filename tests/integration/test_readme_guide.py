"""The README's first-five-minutes guide, run as written: its handler file, its endpoints file, its call."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers import ROOT, start_gateway, start_worker, stop

README = (ROOT / "README.md").read_text()
GUIDE = README.split("## First five minutes", 1)[1].split("\n## ", 1)[0]


def block(first_line: str) -> str:
    """The fenced code block of the guide that starts with ``first_line``."""
    for body in re.findall(r"```[a-z]*\n(.*?)```", GUIDE, re.S):
        if body.startswith(first_line):
            return body
    pytest.fail(f"the README's guide has no block starting {first_line!r}")


def call(endpoint: str) -> tuple[Any, dict[str, Any]]:
    """The body the guide's curl sends to ``endpoint``'s runsync, and the output it says comes back."""
    match = re.search(rf"-d '([^']+)' localhost:8000/v2/{endpoint}/runsync\n# -> (.*)", GUIDE)
    assert match, f"no runsync call to {endpoint} in the guide"
    output = re.search(r'"output": (\{.*?\}),', match.group(2))
    assert output
    return json.loads(match.group(1)), json.loads(output.group(1))


@pytest.fixture(scope="module")
def own_endpoint(settings, redis, tmp_path_factory) -> Iterator[str]:
    """The guide's two files in a fresh directory, a worker and a gateway started on them."""
    tmp: Path = tmp_path_factory.mktemp("guide")
    (tmp / "hello.py").write_text(block("# hello.py"))
    (tmp / "my-endpoints.toml").write_text(block("# my-endpoints.toml"))
    env = {"JOBGATE_ENDPOINTS_FILE": str(tmp / "my-endpoints.toml")}
    worker = start_worker(settings, redis, tmp / "worker.log", ["-e", "hello", "-c", "1"], "guide", 1, **env)
    # The guide's key: `make run`'s development key.
    gateway, url = start_gateway(settings, tmp / "gateway.log", JOBGATE_API_KEYS="dev", **env)
    yield url
    stop(gateway)
    stop(worker)


def test_the_guides_own_handler_answers_the_guides_call_as_it_says(own_endpoint):
    body, expected = call("hello")
    headers = {"Authorization": "Bearer dev"}
    r = requests.post(f"{own_endpoint}/v2/hello/runsync", json=body, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "COMPLETED" and r.json()["output"] == expected


def test_the_guides_first_call_answers_as_it_says(api):
    body, expected = call("echo")
    assert api.post("/v2/echo/runsync", json=body).get_json()["output"] == expected


def test_the_guide_starts_with_make_run():
    assert "jobgate ready:" in block("make run")
