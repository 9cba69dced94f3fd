"""REDIS_URL: a plain Redis URL, or a Sentinel-managed master, read once at start-up."""

from __future__ import annotations

import kombu
import pytest
from kombu.transport import resolve_transport

from app.core.redisurl import SentinelTarget, parse_sentinel
from app.core.settings import ConfigError, Settings
from app.store import broker
from app.store.connection import SentinelBlockingConnectionPool, connect


def test_a_sentinel_url_names_its_sentinels_master_db_and_password():
    target = parse_sentinel("redis+sentinel://:s%40cret@10.0.0.1:26379,10.0.0.2:26380,sentinel-c/jobs/2")
    assert target == SentinelTarget(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26380), ("sentinel-c", 26379)),
        master="jobs",
        db=2,
        password="s@cret",
    )


def test_the_database_is_optional():
    assert parse_sentinel("redis+sentinel://a:1/jobs").db == 0


def test_kombu_gets_one_sentinel_url_per_sentinel():
    target = parse_sentinel("redis+sentinel://:pw@a:1,b:2/jobs/3")
    assert target.kombu_url() == "sentinel://:pw@a:1/3;sentinel://:pw@b:2/3"


@pytest.mark.parametrize(
    "url, why",
    [
        ("redis+sentinel://a:1,b:2", "master name is missing"),
        ("redis+sentinel://a:1/", "master name is missing"),
        ("redis+sentinel:///jobs", "sentinel address is empty"),
        ("redis+sentinel://a,,b/jobs", "sentinel address is empty"),
        ("redis+sentinel://a:x/jobs", "bad port"),
        ("redis+sentinel://a:70000/jobs", "bad port"),
        ("redis+sentinel://a/jobs/x", "only a database number"),
        ("redis+sentinel://a/jobs/1/2", "only a database number"),
        ("redis+sentinel://user:pw@a/jobs", "only a password"),
        ("redis+sentinel://a/jobs?db=1", "no query"),
    ],
)
def test_a_malformed_sentinel_url_is_a_start_up_error_naming_redis_url(url: str, why: str):
    with pytest.raises(ConfigError) as refused:
        Settings(redis_url=url)
    assert "REDIS_URL" in str(refused.value) and why in str(refused.value)


def test_from_env_refuses_a_malformed_sentinel_url():
    with pytest.raises(ConfigError, match="REDIS_URL"):
        Settings.from_env({"REDIS_URL": "redis+sentinel://a:1"})


def test_min_replicas_is_read_and_may_not_be_negative():
    assert Settings.from_env({"JOBGATE_REDIS_MIN_REPLICAS": "1"}).redis_min_replicas == 1
    with pytest.raises(ConfigError, match="JOBGATE_REDIS_MIN_REPLICAS"):
        Settings(redis_min_replicas=-1)


def test_the_client_of_a_sentinel_url_asks_the_sentinels_and_still_blocks_when_busy():
    settings = Settings(redis_url="redis+sentinel://a:1,b:2/jobs/3", redis_max_connections=7)
    pool = connect(settings).connection_pool
    assert isinstance(pool, SentinelBlockingConnectionPool)
    assert pool.service_name == "jobs" and pool.connection_kwargs["db"] == 3 and pool.max_connections == 7
    assert [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in pool.sentinel_manager.sentinels
    ] == [("a", 1), ("b", 2)]


def test_celery_gets_kombu_sentinel_urls_and_the_master_name_for_broker_and_results(tmp_path):
    from app.core.endpoints import Registry

    endpoints = tmp_path / "endpoints.toml"
    endpoints.write_text('[endpoints.echo]\nhandler = "m:f"\n')
    settings = Settings(redis_url="redis+sentinel://a:1,b:2/jobs")
    conf = broker.celery_options(settings, Registry.load(endpoints))
    assert conf["broker_url"] == conf["result_backend"] == "sentinel://a:1/0;sentinel://b:2/0"
    assert conf["broker_transport_options"]["master_name"] == "jobs"
    assert conf["result_backend_transport_options"]["master_name"] == "jobs"
    assert kombu.Connection(conf["broker_url"]).transport_cls == "sentinel"
    assert resolve_transport("sentinel") is broker.SentinelTransport


def test_a_plain_url_is_passed_on_unchanged(tmp_path):
    from app.core.endpoints import Registry

    endpoints = tmp_path / "endpoints.toml"
    endpoints.write_text('[endpoints.echo]\nhandler = "m:f"\n')
    conf = broker.celery_options(Settings(redis_url="redis://h:6379/4"), Registry.load(endpoints))
    assert conf["broker_url"] == conf["result_backend"] == "redis://h:6379/4"
    assert "master_name" not in conf["broker_transport_options"]
