"""The endpoints file: what it may say, and the start-up errors for what it may not."""

from __future__ import annotations

import textwrap

import pytest

from app.core.endpoints import EndpointConfigError, Registry, _endpoint
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


def test_an_endpoint_declares_its_handler_execution_timeout_and_workers(tmp_path):
    a = load(
        tmp_path,
        """
        [endpoints.a]
        handler = "pkg.mod:fn"
        execution_timeout_ms = 60000
        workers_max = 4
    """,
    )["a"]
    assert (a.handler, a.execution_timeout_ms, a.workers_max, a.queue) == ("pkg.mod:fn", 60000, 4, "jobgate.a")
    assert a.queue_limit == 2000


@pytest.mark.parametrize(
    "text, message",
    [
        ("[endpoints.a]\nworkers_max = 1\n", "needs handler"),
        ("[endpoints.'a b']\nhandler = 'm:f'\n", "must match"),
        ("[endpoints.a]\nhandler = 'm:f'\nexecution_timeout_ms = 10\n", "5 s to 7 days"),
        ("[endpoints.a]\nhandler = 'm:f'\nworkers_max = 0\n", "positive integer"),
        ("title = 'none'\n", "no [endpoints"),
        ("[endpoints.a\n", "endpoints file"),
    ],
)
def test_a_bad_endpoints_file_is_refused_with_the_reason(tmp_path, text, message):
    with pytest.raises(EndpointConfigError, match=message.replace("[", r"\[")):
        load(tmp_path, text)


def test_the_default_queue_limit_is_runpods_rule(tmp_path):
    assert _endpoint("a", {"handler": "m:f"}, tmp_path).queue_limit == 500
    assert _endpoint("a", {"handler": "m:f", "workers_max": 4}, tmp_path).queue_limit == 2000
    assert _endpoint("a", {"handler": "m:f", "workers_max": 4, "max_queue": 7}, tmp_path).queue_limit == 7


def test_max_concurrency_and_batch_are_read(tmp_path):
    registry = load(
        tmp_path,
        """
        [endpoints.embed]
        handler = "m:f"
        max_concurrency = 4
        batch = { max_size = 32, wait_ms = 10 }
    """,
    )
    assert registry["embed"].max_concurrency == 4
    assert (registry["embed"].batch.max_size, registry["embed"].batch.wait_ms) == (32, 10)
    assert registry["embed"].is_concurrent


def test_an_endpoint_runs_one_job_at_a_time_by_default(tmp_path):
    endpoint = load(tmp_path, '[endpoints.e]\nhandler = "m:f"\n')["e"]
    assert (endpoint.max_concurrency, endpoint.batch, endpoint.is_concurrent) == (1, None, False)


@pytest.mark.parametrize(
    ("setting", "key"),
    [
        ("max_concurrency = 0", "max_concurrency"),
        ("max_concurrency = 1001", "max_concurrency"),
        ("max_concurrency = 2.5", "max_concurrency"),
        ("batch = { max_size = 0 }", "batch.max_size"),
        ("batch = { max_size = 1001 }", "batch.max_size"),
        ("batch = { max_size = 8, wait_ms = -1 }", "batch.wait_ms"),
        ("batch = { max_size = 8, wait_ms = 60001 }", "batch.wait_ms"),
        ("batch = { max_size = 8, wait = 5 }", "batch.wait"),
        ("batch = 8", "batch"),
    ],
)
def test_a_concurrency_setting_out_of_range_is_an_error_naming_the_file_the_endpoint_and_the_key(
    tmp_path, setting, key
):
    with pytest.raises(EndpointConfigError) as refused:
        load(tmp_path, f'[endpoints.llm]\nhandler = "m:f"\n{setting}\n')
    message = str(refused.value)
    assert str(tmp_path / "endpoints.toml") in message
    assert "[endpoints.llm]" in message and key in message
