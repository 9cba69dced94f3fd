"""Loading a handler: a RunPod handler file's ``runpod.serverless.start`` returns at once with its
config recorded; a plain jobgate handler has none."""

from __future__ import annotations

import time

from app.core.endpoints import Endpoint
from tests.helpers import TESTS
from workers import runpod_compat
from workers.loader import load_handler


def test_loading_a_runpod_handler_file_returns_at_once_with_its_config_recorded():
    started = time.monotonic()
    handler = load_handler(Endpoint(id="rp", handler="rp_refresh.py:handler", base_dir=TESTS))
    assert time.monotonic() - started < 30  # start() returned instead of polling RunPod
    config = runpod_compat.config_for(handler)
    assert config is not None and config.refresh_worker and config.has_concurrency_modifier
    assert not config.return_aggregate_stream


def test_plain_jobgate_handler_has_no_runpod_config():
    handler = load_handler(Endpoint(id="e", handler="workers.examples:echo", base_dir=TESTS))
    assert runpod_compat.config_for(handler) is None
