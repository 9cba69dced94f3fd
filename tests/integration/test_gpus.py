"""GPU pinning: one pool process per GPU, each seeing only its own from before its handler is imported.

No GPU here: NVML's answer is replaced by FAKE_GPUS (JOBGATE_GPU_INVENTORY); what a pool process
sees is read by a handler that records CUDA_VISIBLE_DEVICES when its module is imported. Selecting
and assigning GPUs without a worker: tests/unit/test_gpu_specs.py.
"""

import concurrent.futures as cf
import json
import subprocess
import sys

import pytest

from app.core.settings import Settings
from tests.helpers import FAKE_GPUS, PINNED_GPUS, ROOT, service_env, start_worker, stop, wait_until
from workers import command, gpus

# This describes a host without GPUs (CI, laptops); on a GPU host it does not apply.
without_gpus = pytest.mark.skipif(bool(gpus.from_nvml()[0]), reason="this host has GPUs")


def _gpu_of(result: dict) -> str:
    """The GPU index a pool process must see: PINNED_GPUS in pool-index order."""
    return str(PINNED_GPUS[int(result["workerId"].rsplit("-", 1)[1])])


def test_each_pool_process_sees_only_its_own_gpu_from_import_on(api, pinned_worker):
    seen: dict[str, dict] = {}
    with cf.ThreadPoolExecutor(2) as pool:
        for _ in range(10):  # until both pool processes have run a job
            ids = [api.run("gpu-env", {"sleep": 0.5}) for _ in range(2)]
            for body in pool.map(lambda i: api.wait("gpu-env", i), ids):
                assert body["status"] == "COMPLETED", body
                seen[body["workerId"]] = body
            if len(seen) == len(PINNED_GPUS):
                break
    assert len(seen) == len(PINNED_GPUS)
    for body in seen.values():
        out = body["output"]
        assert out["imported_with"] == out["now"] == _gpu_of(body)
        assert out["order"] == "PCI_BUS_ID"


def test_a_replaced_pool_process_keeps_its_gpu(api, pinned_worker):
    # --max-tasks-per-child 1: every job runs in a fresh process that replaced the last one.
    bodies = [api.post("/v2/gpu-env/runsync", json={"input": {}}).get_json() for _ in range(4)]
    assert all(b["status"] == "COMPLETED" for b in bodies), bodies
    assert len({b["output"]["pid"] for b in bodies}) == 4
    assert all(b["output"]["imported_with"] == _gpu_of(b) for b in bodies)


@without_gpus
def test_gpus_all_on_a_host_without_gpus_runs_on_the_cpu_and_says_so(api, settings, redis, tmp_path):
    log = tmp_path / "worker.log"
    proc = start_worker(settings, redis, log, ["-e", "cpu-env", "--gpus", "all", "-c", "1"], "cpu", 1)
    try:
        body = api.post("/v2/cpu-env/runsync", json={"input": {}}).get_json()
        assert body["status"] == "COMPLETED" and body["output"]["imported_with"] is None
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        fallback = [line for line in lines if line.get("event") == "worker.cpu_fallback"]
        assert fallback and "running on the CPU" in fallback[0]["message"]
        assert "NVML" in fallback[0]["message"] or "nvidia-ml-py" in fallback[0]["message"]
    finally:
        stop(proc)
        wait_until(lambda: not redis.keys("jg:worker:cpu@*"), 10)


def test_slot_without_a_slot_is_refused():
    with pytest.raises(gpus.GPUSpecError, match="JOBGATE_WORKER_SLOT"):
        command.plan_gpus("slot", Settings(gpu_inventory=json.dumps(FAKE_GPUS)), None, {})


def test_a_worker_of_a_many_jobs_endpoint_runs_one_process_per_gpu_each_pinned(api, settings, redis, tmp_path):
    log = tmp_path / "worker.log"
    cmd = [sys.executable, "-m", "app.cli", "worker", "-e", "gpu-many", "--gpus", "1,3", "-n", "many-gpus@%h"]
    env = service_env(settings, JOBGATE_GPU_INVENTORY=json.dumps(FAKE_GPUS))
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert wait_until(lambda: len(redis.keys("jg:worker:many-gpus-gpu*")) == 2, 60), log.read_text()[-3000:]
        workers = api.get("/v2/gpu-many/workers").get_json()["workers"]
        assert sorted((w["node"].split("@")[0], w["gpu"]["index"]) for w in workers) == [
            ("many-gpus-gpu1", 1),
            ("many-gpus-gpu3", 3),
        ]
        bodies = [api.wait("gpu-many", api.run("gpu-many", {})) for _ in range(2)]
        for body in bodies:
            node = body["workerId"].split("@")[0]
            assert body["output"]["imported_with"] == node.removeprefix("many-gpus-gpu")
    finally:
        stop(proc)
        assert wait_until(lambda: not redis.keys("jg:worker:many-gpus-gpu*"), 30)
