"""GPU specs: which GPUs a --gpus value selects, how pool processes take them in turn, and how
many pool processes a worker runs. NVML's answer is replaced by FAKE_GPUS."""

from __future__ import annotations

import json

import pytest

from app.core.settings import Settings
from tests.helpers import FAKE_GPUS
from workers import command, gpus

FOUR = gpus.parse_inventory(json.dumps(FAKE_GPUS))


def test_all_selects_every_gpu_found():
    assert [g.index for g in gpus.select("all", FOUR)] == [0, 1, 2, 3]


def test_indexes_select_those_gpus_in_their_order():
    chosen = gpus.select("3,1", FOUR)
    assert [(g.index, g.name, g.memory_mb) for g in chosen] == [(3, "Fake GPU 3", 4000), (1, "Fake GPU 1", 2000)]


def test_an_index_the_host_lacks_is_refused_naming_it():
    with pytest.raises(gpus.GPUSpecError, match="no GPU 7"):
        gpus.select("0,7", FOUR)


@pytest.mark.parametrize("spec", ["zero", "0,0", "-1", ""])
def test_a_malformed_gpu_list_is_refused(spec):
    with pytest.raises(gpus.GPUSpecError):
        gpus.select(spec, FOUR)


def test_a_malformed_inventory_is_refused():
    with pytest.raises(gpus.GPUSpecError, match="JOBGATE_GPU_INVENTORY"):
        gpus.parse_inventory('{"name": "not a list"}')


def test_pool_processes_take_the_gpus_in_turn_by_pool_index():
    env = {gpus.ASSIGNMENT_ENV: gpus.assignment(gpus.select("1,3", FOUR))}
    seen = []
    for index in range(4):
        gpu = gpus.pin(index, env)
        seen.append((gpu.index, env["CUDA_VISIBLE_DEVICES"], env["CUDA_DEVICE_ORDER"]))
    assert seen == [(1, "1", "PCI_BUS_ID"), (3, "3", "PCI_BUS_ID")] * 2


def test_without_gpus_nothing_is_pinned():
    env: dict[str, str] = {}
    assert gpus.pin(0, env) is None and "CUDA_VISIBLE_DEVICES" not in env


def test_one_pool_process_per_gpu_unless_told_a_multiple():
    settings = Settings(gpu_inventory=json.dumps(FAKE_GPUS))
    assert command.plan_gpus("0,1", settings, None)[1] == 2
    assert command.plan_gpus("0,1", settings, 4)[1] == 4
    with pytest.raises(gpus.GPUSpecError, match="multiple"):
        command.plan_gpus("0,1", settings, 3)


def test_slot_gives_honchos_worker_n_the_gpu_n_minus_1():
    settings = Settings(gpu_inventory=json.dumps(FAKE_GPUS))
    chosen, size = command.plan_gpus("slot", settings, None, {"HONCHO_PROCESS_NAME": "worker.3"})
    assert [g.index for g in chosen] == [2] and size == 1
    assert [g.index for g in command.plan_gpus("slot", settings.replace(worker_slot="0"), None, {})[0]] == [0]


def test_slot_past_the_last_gpu_is_refused():
    with pytest.raises(gpus.GPUSpecError, match="slot 4"):
        command.plan_gpus(
            "slot", Settings(gpu_inventory=json.dumps(FAKE_GPUS)), None, {"HONCHO_PROCESS_NAME": "worker.5"}
        )


def test_slot_without_a_slot_is_refused():
    with pytest.raises(gpus.GPUSpecError, match="JOBGATE_WORKER_SLOT"):
        command.plan_gpus("slot", Settings(gpu_inventory=json.dumps(FAKE_GPUS)), None, {})


# This describes a host without GPUs (CI, laptops); on a GPU host it does not apply.
@pytest.mark.skipif(bool(gpus.from_nvml()[0]), reason="this host has GPUs")
def test_nvml_on_a_host_without_a_driver_finds_no_gpu_and_says_why():
    found, reason = gpus.from_nvml()
    assert not found and reason
