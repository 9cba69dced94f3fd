"""Progress: a running handler's progress_update shows as the job's output on /status."""

import json
import time

import requests

from tests.helpers import API_KEY, wait_until


def test_progress_shows_as_output_while_the_job_runs(api):
    job_id = api.run("echo", {"progress": 3, "sleep": 1})
    seen = []

    def done():
        body = api.get(f"/v2/echo/status/{job_id}").get_json()
        if body["status"] == "IN_PROGRESS" and "output" in body and body["output"] not in seen:
            seen.append(body["output"])
        return body["status"] == "COMPLETED" and body

    body = wait_until(done, 30, 0.1)
    assert body["output"] == {"echo": {"progress": 3, "sleep": 1}}
    assert seen and all(s["of"] == 3 for s in seen)
    assert [s["step"] for s in seen] == sorted(s["step"] for s in seen)
    assert {s["step"] for s in seen} <= {1, 2, 3}


def test_progress_after_the_job_ended_is_ignored(api):
    body = api.post("/v2/late-progress/runsync", json={"input": 1}).get_json()
    assert body["status"] == "COMPLETED" and body["output"] == "done"
    time.sleep(1.5)  # the handler's late update has been sent by now
    assert api.get(f"/v2/late-progress/status/{body['id']}").get_json()["output"] == "done"


def status_events(url: str, endpoint: str, job_id: str) -> list[tuple[str, dict]]:
    """Every event of /status followed as Server-Sent Events, until the server ends the stream."""
    headers = {"Authorization": f"Bearer {API_KEY}", "Accept": "text/event-stream"}
    events, name = [], None
    with requests.get(f"{url}/v2/{endpoint}/status/{job_id}", headers=headers, stream=True, timeout=60) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                events.append((name, json.loads(line[5:])))
    return events


def test_status_events_carry_every_progress_value_then_the_end(api, gateway_url):
    # A job's first step comes as it starts: follow from a gateway process already listening.
    warm = api.run("echo", {"x": 0})
    api.wait("echo", warm)
    status_events(gateway_url, "echo", warm)
    job_id = api.run("echo", {"progress": 4, "sleep": 0.3})
    events = status_events(gateway_url, "echo", job_id)
    assert {name for name, _ in events} == {"status"}
    steps = [body["output"]["step"] for _, body in events if body["status"] == "IN_PROGRESS" and "output" in body]
    assert steps == [1, 2, 3, 4]
    assert events[-1][1]["status"] == "COMPLETED" and events[-1][1]["output"]["echo"]["progress"] == 4


def test_status_events_of_an_ended_job_are_one_event(api, gateway_url):
    job_id = api.run("echo", {"x": 1})
    api.wait("echo", job_id)
    assert [b["status"] for _, b in status_events(gateway_url, "echo", job_id)] == ["COMPLETED"]
