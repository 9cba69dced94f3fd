"""Progress: a running handler's progress_update shows as the job's output on /status."""

import time

from tests.helpers import wait_until


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
