"""The endpoints file: what it may say, and the start-up errors for what it may not."""

from __future__ import annotations

import textwrap

import pytest

from app.core.endpoints import EndpointConfigError, Registry
from app.core.limits import Operation


def load(tmp_path, text: str) -> Registry:
    path = tmp_path / "endpoints.toml"
    path.write_text(textwrap.dedent(text))
    return Registry.load(path)


def test_an_unknown_key_is_an_error_naming_the_file_the_endpoint_and_the_key(tmp_path):
    with pytest.raises(EndpointConfigError) as refused:
        load(
            tmp_path,
            """
            [endpoints.llm]
            handler = "m:f"
            max_queu = 10
        """,
        )
    message = str(refused.value)
    assert str(tmp_path / "endpoints.toml") in message
    assert "[endpoints.llm]" in message and "'max_queu'" in message


def test_a_known_key_is_read(tmp_path):
    registry = load(
        tmp_path,
        """
        [endpoints.llm]
        handler = "m:f"
        max_queue = 10
    """,
    )
    assert registry["llm"].queue_limit == 10


def test_a_limits_override_applies_to_its_operation_only(tmp_path):
    registry = load(
        tmp_path,
        """
        [endpoints.llm]
        handler = "m:f"
        limits = { run = { rate = 5 } }
    """,
    )
    assert registry["llm"].limit(Operation.RUN).rate == 5
    assert registry["llm"].limit(Operation.RUNSYNC).rate == 2000


def test_an_unknown_operation_in_limits_is_an_error_naming_it(tmp_path):
    with pytest.raises(EndpointConfigError, match="unknown operation 'rnu'"):
        load(
            tmp_path,
            """
            [endpoints.llm]
            handler = "m:f"
            limits = { rnu = { rate = 5 } }
        """,
        )


def test_an_endpoint_without_a_handler_is_an_error(tmp_path):
    with pytest.raises(EndpointConfigError, match=r"\[endpoints.llm\] needs handler"):
        load(
            tmp_path,
            """
            [endpoints.llm]
            max_queue = 1
        """,
        )


def test_the_queue_of_an_endpoint_is_named_by_the_contract(tmp_path):
    registry = load(
        tmp_path,
        """
        [endpoints.llm]
        handler = "m:f"
    """,
    )
    assert registry["llm"].queue == "jobgate.llm"
