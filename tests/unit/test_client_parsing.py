"""What the ``jobgate`` client command refuses before it calls a gateway: exit status 2."""

from __future__ import annotations

import pytest

from app.cli import main
from tests.helpers import API_KEY, free_port


def test_invalid_json_input_exits_2(capsys):
    url = f"http://127.0.0.1:{free_port()}"  # never called: the input is refused first
    status = main(["run", "--url", url, "--key", API_KEY, "echo", "-i", "{nope"])
    assert status == 2 and "not valid JSON" in capsys.readouterr().err


def test_missing_arguments_are_a_usage_error():
    with pytest.raises(SystemExit) as caught:
        main(["runsync", "echo"])
    assert caught.value.code == 2
