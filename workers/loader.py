"""Load an endpoint's handler from ``module:function`` or ``path/to/file.py:function``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Protocol

from app.core.endpoints import Endpoint

from . import runpod_compat


class Handler(Protocol):
    """A user handler: takes the job dict (``id``, ``input``), returns or yields output."""

    def __call__(self, job: dict[str, Any]) -> Any: ...


class HandlerLoadError(RuntimeError):
    """The handler named in the endpoints file cannot be imported."""


def _load_file(path: Path) -> Any:
    name = "jobgate_handler_" + "".join(c if c.isalnum() else "_" for c in str(path))
    if name in sys.modules:
        return sys.modules[name]
    # Handler files import their siblings as top-level modules.
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HandlerLoadError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def load_handler(endpoint: Endpoint) -> Handler:
    """Import the endpoint's handler; raises HandlerLoadError naming what went wrong."""
    target, sep, attr = endpoint.handler.rpartition(":")
    if not sep or not target or not attr:
        raise HandlerLoadError(f"{endpoint.id}: handler {endpoint.handler!r} is not 'module:function'")
    runpod_compat.install()  # RunPod handler files call runpod.serverless.start() at import
    try:
        if target.endswith(".py") or "/" in target:
            path = Path(target)
            module = _load_file(path if path.is_absolute() else (endpoint.base_dir / path).resolve())
        else:
            module = importlib.import_module(target)
        handler = getattr(module, attr)
    except HandlerLoadError:
        raise
    except (Exception, SystemExit) as exc:
        raise HandlerLoadError(f"{endpoint.id}: cannot load {endpoint.handler}: {type(exc).__name__}: {exc}") from exc
    if not callable(handler):
        raise HandlerLoadError(f"{endpoint.id}: {endpoint.handler} is not callable")
    return handler
