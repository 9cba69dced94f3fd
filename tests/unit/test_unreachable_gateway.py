"""A gateway nobody answers at: the Python client raises GatewayUnreachable, the command exits 2."""

from __future__ import annotations

import pytest

from app.cli import main
from app.client import Client, GatewayUnreachable
from tests.helpers import free_port


def test_unreachable_gateway_raises_gateway_unreachable():
    with pytest.raises(GatewayUnreachable, match="connection refused"):
        Client(f"http://127.0.0.1:{free_port()}", key="k").health("echo")


def test_unreachable_gateway_exits_2(capsys):
    assert main(["health", "echo", "--url", f"http://127.0.0.1:{free_port()}"]) == 2
    assert "cannot reach the gateway" in capsys.readouterr().err
