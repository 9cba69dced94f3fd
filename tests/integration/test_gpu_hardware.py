"""On a host with NVIDIA GPUs: each pinned handler sees exactly its own GPU through CUDA.

Skipped where NVML finds no GPU (CI, developer machines); run it on a GPU host with
`pytest tests/test_gpu_hardware.py`.
"""

import concurrent.futures as cf

import pytest

from tests.helpers import start_worker, stop
from workers import gpus

FOUND, WHY = gpus.from_nvml()
pytestmark = pytest.mark.skipif(not FOUND, reason=f"no GPU here: {WHY}")


def test_each_pool_process_sees_only_its_own_gpu_through_cuda(api, settings, redis, tmp_path):
    proc = start_worker(
        settings, redis, tmp_path / "worker.log", ["-e", "gpu-real", "--gpus", "all"], "gpu-real", len(FOUND)
    )
    try:
        seen: dict[str, dict] = {}
        with cf.ThreadPoolExecutor(len(FOUND)) as pool:
            for _ in range(10):
                ids = [api.run("gpu-real", {}) for _ in FOUND]
                for body in pool.map(lambda i: api.wait("gpu-real", i, 120_000), ids):
                    assert body["status"] == "COMPLETED", body
                    seen[body["workerId"]] = body["output"]
                if len(seen) == len(FOUND):
                    break
        assert len(seen) == len(FOUND)
        for worker_id, out in seen.items():
            gpu = FOUND[int(worker_id.rsplit("-", 1)[1])]
            assert out["visible"] == str(gpu.index) and out["uuids"] == [gpu.uuid]
    finally:
        stop(proc)
