"""Flower, the operators' dashboard, never starts without a login (FLOWER_BASIC_AUTH)."""

import os
import subprocess
import sys

from tests.helpers import ROOT


def procfile_command(name: str) -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.partition(":")[2].strip()
    raise AssertionError(f"no {name} line in the Procfile")


def test_flower_line_runs_jobgate_flower_which_reads_the_login():
    assert procfile_command("flower") == "jobgate flower"


def test_flower_refuses_to_start_without_a_login():
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    env["PATH"] = f"{os.path.dirname(sys.executable)}:{env['PATH']}"
    r = subprocess.run(["sh", "-c", procfile_command("flower")], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "FLOWER_BASIC_AUTH" in r.stderr
