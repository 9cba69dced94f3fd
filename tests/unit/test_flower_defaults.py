"""Flower as `make run` starts it: its Procfile line, and the defaults `jobgate flower` adds."""

from __future__ import annotations

from tests.helpers import procfile_command
from workers import flower as dashboard


def test_flower_line_runs_jobgate_flower_which_reads_the_login():
    assert procfile_command("flower") == "jobgate flower"


def test_flower_defaults_keep_history_and_stay_on_loopback():
    assert dashboard.defaults({}) == [
        "--persistent=True",
        f"--db={dashboard.DEFAULT_DB}",
        "--state_save_interval=60000",
        "--address=127.0.0.1",
    ]
    assert dashboard.defaults({"FLOWER_DB": "/srv/f.db", "FLOWER_ADDRESS": "0.0.0.0"}) == [
        "--persistent=True",
        "--state_save_interval=60000",
    ]
