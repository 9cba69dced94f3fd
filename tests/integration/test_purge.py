"""/purge-queue: this endpoint's queued jobs go, records and messages; nothing else does."""

from tests.occupy import busy_worker, status


def purge(api, endpoint, **kw):
    r = api.post(f"/v2/{endpoint}/purge-queue", **kw)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_purge_removes_queued_jobs_and_answers_how_many(api):
    ids = [api.run("unserved", k) for k in range(5)]
    assert purge(api, "unserved") == {"removed": 5, "status": "completed"}
    assert all(api.get(f"/v2/unserved/status/{j}").status_code == 404 for j in ids)
    assert api.get("/v2/unserved/health").get_json()["jobs"]["inQueue"] == 0


def test_purge_empties_the_broker_queue(api, redis):
    api.run("unserved", 1)
    api.run("unserved", 2, policy={"lowPriority": True})
    purge(api, "unserved")
    assert [k for k in redis.scan_iter("jobgate.unserved*")] == []


def test_purge_of_an_empty_queue_removes_nothing(api):
    assert purge(api, "unserved", data=b"", headers={"Content-Type": "application/json"}) == {
        "removed": 0,
        "status": "completed",
    }


def test_purge_leaves_running_jobs_and_other_endpoints_alone(api, tmp_path):
    other = api.run("unserved", 1)
    with busy_worker(api, seconds=3) as running:
        queued = [api.run("echo", k) for k in range(4)]
        assert purge(api, "echo") == {"removed": 4, "status": "completed"}
        assert all(status(api, "echo", j) == "IN_PROGRESS" for j in running)
        assert all(api.wait("echo", j)["status"] == "COMPLETED" for j in running)
    assert all(status(api, "echo", j) is None for j in queued)
    assert status(api, "unserved", other) == "IN_QUEUE"


def test_purged_jobs_never_run(api, tmp_path):
    marker = tmp_path / "ran"
    with busy_worker(api):
        api.run("touch", {"path": str(marker)})
        assert purge(api, "touch")["removed"] == 1
    assert (
        api.post("/v2/touch/runsync", json={"input": {"path": str(tmp_path / "after")}}).get_json()["status"]
        == "COMPLETED"
    )
    assert not marker.exists()
