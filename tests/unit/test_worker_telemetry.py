"""A worker's own metrics files: what dead pool processes leave is dropped, and a scrape rides
out a file that vanishes while it reads."""

from __future__ import annotations

import os


def test_live_gauges_of_pool_processes_that_died_unannounced_are_dropped(tmp_path, monkeypatch):
    from workers import telemetry

    dead, alive = tmp_path / "gauge_livesum_999999999.db", tmp_path / f"gauge_livesum_{os.getpid()}.db"
    dead.touch()
    alive.touch()
    monkeypatch.setenv(telemetry.MULTIPROC_ENV, str(tmp_path))
    telemetry.sweep_dead_processes()
    assert not dead.exists() and alive.exists()


def test_a_scrape_survives_a_pool_process_file_vanishing_mid_read(tmp_path):
    from prometheus_client.multiprocess import MultiProcessCollector

    from workers import telemetry

    class Vanishing:
        """A real collector over an empty directory whose first read loses a file."""

        def __init__(self):
            self.inner, self.reads = MultiProcessCollector(None, path=str(tmp_path)), 0

        def collect(self):
            self.reads += 1
            if self.reads == 1:
                raise FileNotFoundError("counter_4242.db")
            return self.inner.collect()

    vanishing = Vanishing()
    assert telemetry._RetryingCollector(vanishing).collect() == []
    assert vanishing.reads == 2
