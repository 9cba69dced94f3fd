"""/cancel: a queued job never starts; a running one is stopped and its worker is free again."""

import time

from tests.helpers import wait_until
from tests.occupy import busy_worker, status


def cancel(api, endpoint, job_id, **kw):
    r = api.post(f"/v2/{endpoint}/cancel/{job_id}", **kw)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def worker_of(api, redis, endpoint, job_id):
    """The heartbeat hash of the pool process running ``job_id``."""
    assert wait_until(lambda: status(api, endpoint, job_id) == "IN_PROGRESS", 30, 0.05)
    worker_id = api.get(f"/v2/{endpoint}/status/{job_id}").get_json()["workerId"]
    return worker_id, redis.hgetall(f"jg:worker:{worker_id}")


def test_cancelling_a_queued_job_answers_cancelled(api):
    job_id = api.run("unserved", 1)
    assert cancel(api, "unserved", job_id) == {"id": job_id, "status": "CANCELLED"}
    assert api.get(f"/v2/unserved/status/{job_id}").get_json()["status"] == "CANCELLED"


def test_cancelled_queued_job_never_starts(api, redis, tmp_path):
    marker = tmp_path / "ran"
    with busy_worker(api):
        job_id = api.run("touch", {"path": str(marker)})
        cancel(api, "touch", job_id)
        assert redis.llen("jobgate.touch") == 1
    # The worker is free now and has taken the cancelled job's message.
    assert wait_until(lambda: redis.llen("jobgate.touch") == 0, 30)
    time.sleep(1)
    assert not marker.exists()
    assert status(api, "touch", job_id) == "CANCELLED"


def test_cancelling_a_running_job_makes_it_cancelled_at_once(api):
    job_id = api.run("echo", {"sleep": 30})
    assert wait_until(lambda: status(api, "echo", job_id) == "IN_PROGRESS", 30, 0.05)
    assert cancel(api, "echo", job_id) == {"id": job_id, "status": "CANCELLED"}
    assert status(api, "echo", job_id) == "CANCELLED"


def test_cancelled_running_job_frees_its_process_which_stays_alive(api, redis):
    job_id = api.run("echo", {"sleep": 30})
    worker_id, before = worker_of(api, redis, "echo", job_id)
    cancel(api, "echo", job_id)
    assert wait_until(lambda: redis.hget(f"jg:worker:{worker_id}", "state") == "idle", 10)
    assert redis.hget(f"jg:worker:{worker_id}", "pid") == before["pid"]  # same process, model kept


def test_cancelled_running_job_frees_the_worker_for_the_next_job(api):
    with busy_worker(api) as running:
        cancel(api, "echo", running[0])
        body = api.post("/v2/echo/runsync?wait=20000", json={"input": "next"}).get_json()
        assert body["status"] == "COMPLETED" and body["output"] == {"echo": "next"}


def test_cancelled_job_stays_cancelled_when_its_handler_returns(api):
    job_id = api.run("echo", {"sleep": 30})
    assert wait_until(lambda: status(api, "echo", job_id) == "IN_PROGRESS", 30, 0.05)
    cancel(api, "echo", job_id)
    time.sleep(1)
    body = api.get(f"/v2/echo/status/{job_id}").get_json()
    assert body["status"] == "CANCELLED" and "output" not in body and "error" not in body


def test_cancelled_streaming_job_streams_no_more_chunks(api, redis):
    job_id = api.run("echo-stream", {"chunks": 100, "sleep": 0.2})
    assert wait_until(lambda: redis.llen(f"jg:stream:{job_id}") >= 2, 30)
    cancel(api, "echo-stream", job_id)
    time.sleep(0.5)
    produced = redis.llen(f"jg:stream:{job_id}")
    time.sleep(1)
    assert redis.llen(f"jg:stream:{job_id}") == produced < 100
    body = api.get(f"/v2/echo-stream/stream/{job_id}").get_json()
    assert body["status"] == "CANCELLED" and len(body["stream"]) == produced


def test_cancelled_async_handler_sees_cancelled_error_and_frees_its_process(api, redis, tmp_path):
    marker = tmp_path / "cancelled"
    job_id = api.run("async-sleeper", {"path": str(marker)})
    worker_id, before = worker_of(api, redis, "async-sleeper", job_id)
    cancel(api, "async-sleeper", job_id)
    assert wait_until(marker.exists, 10)
    assert wait_until(lambda: redis.hget(f"jg:worker:{worker_id}", "state") == "idle", 10)
    assert redis.hget(f"jg:worker:{worker_id}", "pid") == before["pid"]
    assert status(api, "async-sleeper", job_id) == "CANCELLED"


def test_handler_ignoring_the_stop_loses_its_process_after_the_grace(api, redis, settings):
    job_id = api.run("unstoppable", {})
    worker_id, before = worker_of(api, redis, "unstoppable", job_id)
    cancel(api, "unstoppable", job_id)
    assert status(api, "unstoppable", job_id) == "CANCELLED"

    def replaced():
        w = redis.hgetall(f"jg:worker:{worker_id}")
        return w.get("pid") not in (None, before["pid"]) and w.get("state") == "idle"

    assert wait_until(replaced, settings.stop_grace_s + 30, 0.2)
    assert status(api, "unstoppable", job_id) == "CANCELLED"


def test_cancelling_a_finished_job_changes_nothing_and_answers_its_status(api):
    done = api.post("/v2/echo/runsync", json={"input": 1}).get_json()
    body = cancel(api, "echo", done["id"])
    assert body["status"] == "COMPLETED" and body["output"] == {"echo": 1}
    assert api.get(f"/v2/echo/status/{done['id']}").get_json() == done


def test_cancel_with_a_json_content_type_and_no_body_is_accepted(api):
    job_id = api.run("unserved", 1)
    body = cancel(api, "unserved", job_id, data=b"", headers={"Content-Type": "application/json"})
    assert body["status"] == "CANCELLED"


def test_cancel_of_an_unknown_job_is_404(api):
    assert api.post("/v2/echo/cancel/nope").status_code == 404


def test_cancel_through_another_endpoint_is_404(api):
    job_id = api.run("unserved", 1)
    assert api.post(f"/v2/echo/cancel/{job_id}").status_code == 404
    assert status(api, "unserved", job_id) == "IN_QUEUE"
