"""``progress_update`` from a handler that is not running in a worker (a test, a notebook)."""

from __future__ import annotations

from workers import progress_update


def test_progress_update_outside_a_worker_is_ignored():
    assert progress_update({"id": "local", "input": {}}, 50) is False
