"""Stored API keys: hashed in Redis, limited to endpoints and to reading, revocable; ids are random."""

import subprocess
import sys
import time
import uuid

import pytest

from app.store.apikeys import KeyStore
from app.store.keys import Keys
from tests.helpers import ROOT, ApiClient, service_env


@pytest.fixture
def store(redis, settings):
    return KeyStore(redis, Keys(settings.key_prefix))


def client(app, store, **scopes):
    _, plain = store.create(**scopes)
    return ApiClient(app, key=plain)


def test_a_stored_key_is_accepted(app, store):
    assert client(app, store).get("/v2/echo/health").status_code == 200


def test_only_the_hash_is_stored(redis, store):
    record, plain = store.create(["echo"], name="ci")
    stored = redis.hgetall(f"jg:apikey:{record.id}")
    assert plain not in str(stored) and plain.split("_")[-1] not in str(stored)
    assert len(stored["sha256"]) == 64


def test_a_key_limited_to_one_endpoint_is_refused_elsewhere(app, store):
    c = client(app, store, endpoints=["echo"])
    assert c.get("/v2/echo/health").status_code == 200
    r = c.post("/v2/unserved/run", json={"input": 1})
    assert r.status_code == 403 and r.is_json and "unserved" in r.get_json()["error"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/v2/unserved/run"),
        ("post", "/v2/unserved/runsync?wait=1000"),
        ("post", "/v2/unserved/cancel/x"),
        ("post", "/v2/unserved/retry/x"),
        ("post", "/v2/unserved/purge-queue"),
    ],
)
def test_a_read_only_key_may_not_change_anything(app, store, method, path):
    r = getattr(client(app, store, read_only=True), method)(path, json={"input": 1})
    assert r.status_code == 403


def test_a_read_only_key_may_read(app, api, store):
    job_id = api.run("unserved", 1)
    c = client(app, store, read_only=True)
    assert c.get(f"/v2/unserved/status/{job_id}").status_code == 200
    assert c.get(f"/v2/unserved/status-sync/{job_id}?wait=1000").status_code == 200
    assert c.get("/v2/unserved/health").status_code == 200


def test_a_revoked_key_is_refused_at_once(app, store):
    record, plain = store.create()
    c = ApiClient(app, key=plain)
    assert c.get("/v2/echo/health").status_code == 200
    assert store.revoke(record.id)
    assert c.get("/v2/echo/health").status_code == 401


def test_a_key_with_an_expiry_stops_working(app, store):
    _, plain = store.create(expires_s=1)
    c = ApiClient(app, key=plain)
    assert c.get("/v2/echo/health").status_code == 200
    time.sleep(1.2)
    assert c.get("/v2/echo/health").status_code == 401


def test_a_forged_secret_for_a_real_key_id_is_refused(app, store):
    record, plain = store.create()
    forged = plain[:-4] + ("AAAA" if not plain.endswith("AAAA") else "BBBB")
    assert ApiClient(app, key=forged).get("/v2/echo/health").status_code == 401


def test_cancel_through_another_endpoint_is_404_and_changes_nothing(api):
    job_id = api.run("unserved", 1)
    assert api.post(f"/v2/echo/cancel/{job_id}").status_code == 404
    assert api.get(f"/v2/unserved/status/{job_id}").get_json()["status"] == "IN_QUEUE"


def test_job_ids_are_random_uuids(api):
    ids = [api.run("unserved", 1) for _ in range(3)]
    assert len(set(ids)) == 3 and all(uuid.UUID(i).version == 4 for i in ids)


def cli(settings, *args):
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "keys", *args],
        cwd=ROOT,
        env=service_env(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_creates_lists_and_revokes_keys(app, settings):
    made = cli(settings, "create", "--endpoint", "echo", "--read-only", "--name", "dashboard")
    assert made.returncode == 0, made.stderr
    plain = made.stdout.strip()
    assert "\n" not in plain and plain.startswith("jgk_")
    c = ApiClient(app, key=plain)
    assert c.get("/v2/echo/health").status_code == 200
    assert c.post("/v2/echo/run", json={"input": 1}).status_code == 403

    listed = cli(settings, "list").stdout
    key_id = plain.split("_")[1]
    assert key_id in listed and "read-only" in listed and "dashboard" in listed and plain not in listed

    assert cli(settings, "revoke", key_id).returncode == 0
    assert c.get("/v2/echo/health").status_code == 401
    assert cli(settings, "revoke", key_id).returncode == 1


def test_cli_refuses_an_unknown_endpoint(settings):
    r = cli(settings, "create", "--endpoint", "nope")
    assert r.returncode == 2 and "nope" in r.stderr and r.stdout == ""
