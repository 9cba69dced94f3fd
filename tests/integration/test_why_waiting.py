"""Why a job waits: /status of a queued job carries its queue position and the reason, in words."""

from tests.occupy import busy_worker


def queue(api, endpoint: str, job_id: str) -> dict:
    body = api.get(f"/v2/{endpoint}/status/{job_id}").get_json()
    assert body["status"] == "IN_QUEUE", body
    return body["queue"]


def test_a_job_no_worker_serves_waits_for_one_in_first_come_order(api):
    ids = [api.run("unserved", n) for n in range(3)]
    places = [queue(api, "unserved", j) for j in ids]
    assert [p["position"] for p in places] == [1, 2, 3]
    assert {p["reason"] for p in places} == {"no_worker"}
    assert places[0]["detail"] == "no worker serves endpoint 'unserved'"


def test_low_priority_jobs_come_after_every_normal_job(api):
    low = api.run("unserved", "low", policy={"lowPriority": True})
    normal = [api.run("unserved", n) for n in range(2)]
    assert queue(api, "unserved", low)["position"] == 3
    assert [queue(api, "unserved", j)["position"] for j in normal] == [1, 2]


def test_the_position_moves_up_as_jobs_ahead_leave(api):
    first, second = api.run("unserved", 1), api.run("unserved", 2)
    api.post(f"/v2/unserved/cancel/{first}")
    assert queue(api, "unserved", second)["position"] == 1


def test_a_job_whose_workers_are_all_busy_with_its_endpoint_says_so(api):
    with busy_worker(api):
        job_id = api.run("echo", 1)
        place = queue(api, "echo", job_id)
        assert place == {"position": 1, "reason": "workers_busy", "detail": "every worker serving it is busy (3 of 3)"}


def test_a_job_whose_workers_are_busy_with_another_endpoint_says_so(api):
    with busy_worker(api):
        job_id = api.run("touch", {"path": "/dev/null"})
        place = queue(api, "touch", job_id)
        assert place["reason"] == "workers_busy_elsewhere" and "(3 of 3)" in place["detail"]


def test_a_low_priority_job_behind_normal_ones_says_so(api):
    with busy_worker(api):
        normal = api.run("echo", 1)
        low = api.run("echo", 2, policy={"lowPriority": True})
        place = queue(api, "echo", low)
        assert place["position"] == 2 and place["reason"] == "low_priority"
        assert place["detail"] == "it is in the low-priority lane behind 1 normal job(s)"
        assert queue(api, "echo", normal)["reason"] == "workers_busy"


def test_a_running_job_has_no_queue(api):
    job_id = api.run("echo", {"sleep": 1})
    assert api.wait("echo", job_id, 30000)["status"] == "COMPLETED"
    assert "queue" not in api.get(f"/v2/echo/status/{job_id}").get_json()
