"""Queue depth: an endpoint refuses new jobs once its queue is full, so a down fleet collects no backlog."""


def test_submissions_are_refused_once_the_queue_is_full(api):
    assert [api.post("/v2/small-queue/run", json={"input": i}).status_code for i in range(3)] == [200] * 3
    r = api.post("/v2/small-queue/run", json={"input": 3})
    assert r.status_code == 429 and "3 jobs queued" in r.get_json()["error"]
    assert int(r.headers["Retry-After"]) > 0
    assert api.get("/v2/small-queue/health").get_json()["jobs"]["inQueue"] == 3


def test_runsync_is_refused_too(api):
    for i in range(3):
        api.run("small-queue", i)
    assert api.post("/v2/small-queue/runsync?wait=1000", json={"input": 1}).status_code == 429


def test_reads_still_answer_when_the_queue_is_full(api):
    job_id = [api.run("small-queue", i) for i in range(3)][0]
    assert api.get(f"/v2/small-queue/status/{job_id}").status_code == 200


def test_a_drained_queue_accepts_again(api):
    for i in range(3):
        api.run("small-queue", i)
    assert api.post("/v2/small-queue/purge-queue").get_json()["removed"] == 3
    assert api.post("/v2/small-queue/run", json={"input": 1}).status_code == 200
