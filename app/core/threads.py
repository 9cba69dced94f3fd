"""One background thread per process, started on first use and again after a fork.

gunicorn forks its workers after the app is built, and a thread does not survive a fork:
each process that needs a listener or a loop starts its own, once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


class ProcessThread:
    """Runs ``target`` in a daemon thread, at most one per process."""

    def __init__(self, name: str, target: Callable[[], None]):
        self.name = name
        self.target = target
        self._pid: int | None = None
        self._lock = threading.Lock()

    def ensure_started(self) -> bool:
        """Start the thread in this process unless it runs already; True when started now."""
        if self._pid == os.getpid():
            return False
        with self._lock:
            if self._pid == os.getpid():
                return False
            threading.Thread(target=self.target, name=self.name, daemon=True).start()
            self._pid = os.getpid()
            return True
