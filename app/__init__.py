"""jobgate: a RunPod Serverless compatible API in front of Celery workers on your own GPU hosts.

Layers (see docs/architecture.md): ``app.core`` (pure) <- ``app.store`` (Redis) <- ``app.api``
(the Flask gateway) and ``workers`` (Celery), which never import each other; ``app.client`` is
the standalone Python client. Importing this package imports none of them: ``create_app`` is
resolved on first use, so ``from workers import progress_update`` or ``from app.client import
Client`` never load Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # gunicorn's 'app:create_app()' looks the factory up here.
    if name == "create_app":
        from .api import create_app

        return create_app
    raise AttributeError(f"module 'app' has no attribute {name!r}")
