"""Log lines: JSON from gateway and workers, so one job is followed across processes (the human
format for make run: tests/unit/test_log_formats.py)."""

import json
import logging

import requests

from app.core import logs
from tests.helpers import API_KEY, wait_until


def json_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def about(path, job_id) -> list[dict]:
    return [line for line in json_lines(path) if line.get("job_id") == job_id]


def test_a_job_is_followed_from_gateway_to_worker_by_its_id(gateway, worker):
    r = requests.post(
        f"{gateway['url']}/v2/echo/runsync",
        json={"input": 1},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=30,
    )
    job_id = r.json()["id"]
    submitted = wait_until(
        lambda: [line for line in about(gateway["log"], job_id) if line.get("event") == "job.submitted"], 5
    )
    assert submitted and submitted[0]["endpoint"] == "echo"

    def worker_events() -> dict[str, dict]:
        return {line["event"]: line for line in about(worker["log"], job_id) if line.get("event")}

    events = wait_until(lambda: worker_events().keys() >= {"job.received", "job.finished"}, 5) and worker_events()
    assert events, about(worker["log"], job_id)
    finished = events["job.finished"]
    assert finished["endpoint"] == "echo" and finished["status"] == "COMPLETED"
    assert finished["worker_id"] == r.json()["workerId"]


def test_every_gateway_line_is_json(gateway):
    lines = [line for line in gateway["log"].read_text().splitlines() if line.strip()]
    assert lines and all(line.startswith("{") for line in lines), lines[:5]
    assert all({"time", "level", "logger", "message"} <= json.loads(line).keys() for line in lines)


def test_a_failing_jobs_traceback_carries_its_job_id(api, worker):
    job_id = api.post("/v2/echo/runsync", json={"input": {"fail": "boom"}}).get_json()["id"]
    errors = wait_until(lambda: [line for line in about(worker["log"], job_id) if line["level"] == "ERROR"], 5)
    assert errors and "RuntimeError: boom" in errors[0]["exc_info"]


def record(message="hello", **extra) -> logging.LogRecord:
    rec = logging.LogRecord("jobgate.test", logging.INFO, __file__, 1, message, (), None)
    rec.__dict__.update(extra)
    return rec


def test_gateway_lines_take_endpoint_and_job_from_the_request(app):
    with app.test_request_context("/v2/echo/status/j-2", headers={"Authorization": f"Bearer {API_KEY}"}):
        app.preprocess_request()
        rec = record()
        logs.ContextFilter().filter(rec)
    assert (rec.endpoint, rec.job_id) == ("echo", "j-2")
