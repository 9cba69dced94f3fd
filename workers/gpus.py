"""This host's GPUs (through NVML) and the pinning of one GPU to each pool process.

``jobgate worker --gpus`` picks the GPUs in the main process and hands the list to the
pool processes in an environment variable; each pool process takes the GPU of its pool
index and sets ``CUDA_VISIBLE_DEVICES`` before any handler module is imported. billiard
gives a replacement process (``max_tasks_per_child``, a crash) the index of the one it
replaces, so a GPU never changes hands.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
# NVML numbers GPUs by PCI bus id, CUDA by speed unless told otherwise: make them agree.
CUDA_DEVICE_ORDER = "CUDA_DEVICE_ORDER"
# How `jobgate worker` hands the chosen GPUs to its pool processes (internal).
ASSIGNMENT_ENV = "JOBGATE_WORKER_GPU_ASSIGNMENT"


class GPUSpecError(ValueError):
    """A ``--gpus`` value or a GPU inventory that cannot be used."""


@dataclass(frozen=True)
class GPU:
    """One GPU as NVML describes it."""

    index: int
    name: str = "unknown"
    memory_mb: int | None = None
    uuid: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_nvml() -> tuple[list[GPU], str]:
    """The GPUs NVML sees, and why there are none when there are none."""
    try:
        import pynvml
    except ImportError as exc:
        return [], f"nvidia-ml-py is not installed ({exc})"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        return [], f"NVML unavailable: {exc}"
    try:
        found = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            uuid = pynvml.nvmlDeviceGetUUID(handle)
            found.append(
                GPU(
                    index=i,
                    name=name.decode() if isinstance(name, bytes) else str(name),
                    memory_mb=int(pynvml.nvmlDeviceGetMemoryInfo(handle).total) // 2**20,
                    uuid=uuid.decode() if isinstance(uuid, bytes) else str(uuid),
                )
            )
        return found, "" if found else "NVML reports no GPU"
    except pynvml.NVMLError as exc:
        return [], f"NVML failed: {exc}"
    finally:
        pynvml.nvmlShutdown()


def parse_inventory(text: str) -> list[GPU]:
    """GPUs from a JSON list (``JOBGATE_GPU_INVENTORY``); an entry's index defaults to its position."""
    try:
        entries = json.loads(text)
        if not isinstance(entries, list):
            raise TypeError("not a list")
        return [GPU(**{"index": i, **entry}) for i, entry in enumerate(entries)]
    except (ValueError, TypeError) as exc:
        raise GPUSpecError(
            f'JOBGATE_GPU_INVENTORY must be a JSON list of {{"name", "memory_mb", "uuid"}} objects: {exc}'
        ) from exc


def inventory(override: str = "") -> tuple[list[GPU], str]:
    """This host's GPUs: the list in ``override`` when given, else NVML's answer."""
    if override.strip():
        found = parse_inventory(override)
        return found, "" if found else "JOBGATE_GPU_INVENTORY lists no GPU"
    return from_nvml()


def select(spec: str, found: list[GPU]) -> list[GPU]:
    """The GPUs a ``--gpus`` value names: ``all`` or comma-separated indexes."""
    spec = spec.strip()
    if spec == "all":
        return list(found)
    try:
        wanted = [int(part) for part in spec.split(",") if part.strip()]
    except ValueError:
        raise GPUSpecError(f"--gpus {spec!r}: expected 'all' or GPU indexes such as 0,1") from None
    if not wanted or any(i < 0 for i in wanted) or len(set(wanted)) != len(wanted):
        raise GPUSpecError(f"--gpus {spec!r}: expected distinct GPU indexes such as 0,1")
    if not found:
        # No inventory to check against (NVML missing): trust the operator's indexes.
        return [GPU(index=i) for i in wanted]
    by_index = {g.index: g for g in found}
    missing = [i for i in wanted if i not in by_index]
    if missing:
        raise GPUSpecError(
            f"--gpus {spec!r}: no GPU {', '.join(map(str, missing))} on this host "
            f"(found {', '.join(str(g.index) for g in found)})"
        )
    return [by_index[i] for i in wanted]


def assignment(gpus: list[GPU]) -> str:
    """The value of ASSIGNMENT_ENV handing ``gpus`` to the pool processes."""
    return json.dumps([g.to_dict() for g in gpus])


def pin(index: int, environ: MutableMapping[str, str] | None = None) -> GPU | None:
    """Pin the pool process of ``index`` to its GPU (processes share GPUs round-robin).

    Sets ``CUDA_VISIBLE_DEVICES``, so it must run before a handler imports a CUDA library.
    Returns None when the worker was started without GPUs.
    """
    env = os.environ if environ is None else environ
    raw = env.get(ASSIGNMENT_ENV)
    if not raw:
        return None
    gpus = [GPU(**entry) for entry in json.loads(raw)]
    if not gpus:
        return None
    gpu = gpus[index % len(gpus)]
    env[CUDA_DEVICE_ORDER] = "PCI_BUS_ID"
    env[CUDA_VISIBLE_DEVICES] = str(gpu.index)
    return gpu
