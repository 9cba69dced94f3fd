"""RunPod handler files on jobgate workers: the real ``runpod`` package, two functions redirected.

A RunPod handler file ends with ``runpod.serverless.start({"handler": handler, ...})``,
which would block forever polling RunPod's job queue (or run one local test and exit).
In a jobgate pool process ``runpod.serverless`` is patched the moment it is imported:
``start`` only records its config, and ``progress_update`` writes to the job store.
Everything else in the package (``rp_validator``, ``rp_upload``, ...) is the real thing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from .progress import progress_update as jobgate_progress_update

log = logging.getLogger("jobgate.runpod")

PATCHED_MODULE = "runpod.serverless"
PROGRESS_MODULE = "runpod.serverless.modules.rp_progress"


@dataclass(frozen=True)
class RunpodConfig:
    """What a handler file passed to ``runpod.serverless.start``, as far as jobgate applies it."""

    module: str
    return_aggregate_stream: bool = False
    refresh_worker: bool = False
    # RunPod's ``concurrency_modifier(current) -> int``: asked before taking more work
    # (workers.slots), within the endpoint's max_concurrency.
    concurrency_modifier: Callable[[int], int] | None = field(default=None, compare=False)

    @property
    def has_concurrency_modifier(self) -> bool:
        return self.concurrency_modifier is not None


# Configs recorded by ``start``, by the module that defines the handler.
_configs: dict[str, RunpodConfig] = {}


def config_for(handler: Callable[..., Any]) -> RunpodConfig | None:
    """The RunPod config that applies to ``handler``, or None for a plain jobgate handler."""
    return _configs.get(getattr(handler, "__module__", None) or "")


def start(config: dict[str, Any]) -> None:
    """Stands in for ``runpod.serverless.start``: records the config and returns at once."""
    handler = config.get("handler")
    if not callable(handler):
        raise TypeError("runpod.serverless.start: config['handler'] must be a callable")
    recorded = RunpodConfig(
        module=getattr(handler, "__module__", "") or "",
        return_aggregate_stream=bool(config.get("return_aggregate_stream", False)),
        refresh_worker=bool(config.get("refresh_worker", False)),
        concurrency_modifier=modifier if callable(modifier := config.get("concurrency_modifier")) else None,
    )
    _configs[recorded.module] = recorded


def progress_update(job: dict[str, Any], progress: Any) -> None:
    """Stands in for ``runpod.serverless.progress_update``: shows ``progress`` on /status now."""
    jobgate_progress_update(job, progress)


def _patch(module: ModuleType) -> None:
    module.start = start  # type: ignore[attr-defined]
    module.progress_update = progress_update  # type: ignore[attr-defined]
    progress_module = sys.modules.get(PROGRESS_MODULE)
    if progress_module is not None:
        progress_module.progress_update = progress_update  # type: ignore[attr-defined]


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader, then patches the module before anyone else sees it."""

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        _patch(module)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``runpod.serverless`` as usual, with a loader that patches it."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PATCHED_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _PatchingLoader(spec.loader)
        return spec


def install() -> None:
    """Make ``import runpod`` safe in this process; imports nothing itself.

    Patches ``runpod.serverless`` now if it is already imported, else when it is.
    """
    loaded = sys.modules.get(PATCHED_MODULE)
    if loaded is not None:
        _patch(loaded)
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
