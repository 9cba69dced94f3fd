"""The Flask gateway: RunPod's API over the job store, sending work to workers by task name."""

from .factory import create_app

__all__ = ["create_app"]
