"""The broker's visibility timeout outlasts every job it may hand out; configurations that
would let a running job be handed out again are refused."""

from __future__ import annotations

import textwrap

import pytest

from app import create_app
from app.core.contract import time_limits
from app.core.endpoints import EndpointConfigError, Registry, required_visibility_s
from app.core.settings import MAX_EXECUTION_TIMEOUT_MS, ConfigError
from app.store.context import Context
from tests.helpers import offline_settings
from workers.celery_app import make_celery


def registry(tmp_path, text: str) -> Registry:
    path = tmp_path / "endpoints.toml"
    path.write_text(textwrap.dedent(text))
    return Registry.load(path)


def test_visibility_timeout_outlasts_the_longest_allowed_job_plus_a_margin():
    settings = offline_settings()
    reg = Registry.load(settings.endpoints_file)
    celery = make_celery(Context(settings, reg))
    visibility = celery.conf.broker_transport_options["visibility_timeout"]
    assert visibility == required_visibility_s(reg)
    assert visibility > time_limits(MAX_EXECUTION_TIMEOUT_MS)[1] + 600


def test_endpoint_caps_on_execution_timeout_shorten_the_visibility_timeout(tmp_path):
    reg = registry(
        tmp_path,
        """
        [endpoints.a]
        handler = "m:f"
        max_execution_timeout_ms = 60000
    """,
    )
    assert time_limits(60_000)[1] < required_visibility_s(reg) < 2 * 3600


def test_a_visibility_timeout_shorter_than_the_longest_job_is_refused():
    with pytest.raises(ConfigError, match="JOBGATE_VISIBILITY_TIMEOUT_S=600 is too short"):
        create_app(offline_settings().replace(visibility_timeout_s=600))


def test_a_longer_visibility_timeout_is_taken():
    settings = offline_settings()
    reg = Registry.load(settings.endpoints_file)
    longer = required_visibility_s(reg) + 1
    celery = make_celery(Context(settings.replace(visibility_timeout_s=longer), reg))
    assert celery.conf.broker_transport_options["visibility_timeout"] == longer


def test_an_endpoint_default_above_its_own_cap_is_refused(tmp_path):
    with pytest.raises(EndpointConfigError, match="above max_execution_timeout_ms"):
        registry(
            tmp_path,
            """
            [endpoints.a]
            handler = "m:f"
            execution_timeout_ms = 120000
            max_execution_timeout_ms = 60000
        """,
        )
