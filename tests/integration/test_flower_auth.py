"""Flower, the operators' dashboard, never starts without a login (FLOWER_BASIC_AUTH): its Procfile
line (tests/unit/test_flower_defaults.py) refuses to run without one."""

import os
import subprocess
import sys

from tests.helpers import procfile_command


def test_flower_refuses_to_start_without_a_login():
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    env["PATH"] = f"{os.path.dirname(sys.executable)}:{env['PATH']}"
    r = subprocess.run(["sh", "-c", procfile_command("flower")], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "FLOWER_BASIC_AUTH" in r.stderr
