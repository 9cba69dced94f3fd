"""GET /v2/<id>/workers: each live worker (pool process) with host, GPU, state, job and heartbeat."""

import socket
import time

from tests.helpers import PINNED_GPUS, wait_until


def listing(api, endpoint):
    r = api.get(f"/v2/{endpoint}/workers")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["workers"]


def test_workers_lists_each_pool_process_with_host_gpu_state_and_heartbeat(api, pinned_worker):
    # Its pool processes are replaced after each job: wait for both to be back and idle.
    workers = wait_until(
        lambda: (ws := listing(api, "gpu-env")) and len(ws) == 2 and all(w["state"] == "idle" for w in ws) and ws, 10
    )
    assert [w["id"].rsplit("-", 1)[1] for w in workers] == ["0", "1"]
    assert [(w["gpu"]["index"], w["gpu"]["name"], w["gpu"]["memoryMb"]) for w in workers] == [
        (i, f"Fake GPU {i}", 1000 * (i + 1)) for i in PINNED_GPUS
    ]
    for w in workers:
        assert w["host"] == socket.gethostname() and w["node"] == f"pinned@{socket.gethostname()}"
        assert w["state"] == "idle" and w["jobId"] is None
        assert abs(time.time() * 1000 - w["lastHeartbeat"]) < 10_000
        assert w["metricsPort"] == pinned_worker["metrics_port"]


def test_a_running_worker_shows_its_job(api):
    job_id = api.run("echo", {"sleep": 2})
    running = wait_until(lambda: [w for w in listing(api, "echo") if w["state"] == "running"], 5)
    assert running and running[0]["jobId"] == job_id
    api.wait("echo", job_id)


def test_workers_on_the_cpu_have_no_gpu(api):
    workers = listing(api, "echo")
    assert len(workers) == 3 and all(w["gpu"] is None for w in workers)


def test_a_worker_whose_handler_failed_to_load_is_listed_unhealthy(api):
    assert {w["state"] for w in listing(api, "broken")} == {"unhealthy"}


def test_endpoint_without_workers_lists_none(api):
    assert listing(api, "unserved") == []


def test_workers_of_an_unknown_endpoint_is_404(api):
    assert api.get("/v2/nope/workers").status_code == 404


def test_workers_needs_a_key(app):
    assert app.test_client().get("/v2/echo/workers").status_code == 401


def test_workers_is_in_the_openapi_document(api):
    paths = api.get("/openapi.json").get_json()["paths"]
    assert "get" in paths["/v2/{endpoint_id}/workers"]
