"""Idempotent submits: the same Idempotency-Key with the same body answers the same job, never a second one."""

import json

import pytest

from app import create_app
from app.cli import main
from app.client import Client
from app.store.idempotency import body_hash
from tests.helpers import API_KEY, ApiClient


def run(api: ApiClient, endpoint: str, body: dict, key: str | None, op: str = "run"):
    headers = {"Idempotency-Key": key} if key is not None else None
    return api.post(f"/v2/{endpoint}/{op}", json=body, headers=headers)


def job_count(redis) -> int:
    return sum(1 for _ in redis.scan_iter("jg:job:*"))


def test_the_same_key_and_body_answer_the_same_job(api, redis):
    first = run(api, "unserved", {"input": {"x": 1}}, "order-42")
    again = run(api, "unserved", {"input": {"x": 1}}, "order-42")
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json() == {"id": first.get_json()["id"], "status": "IN_QUEUE"}
    assert job_count(redis) == 1


def test_a_repeated_run_answers_the_jobs_current_status(api):
    job_id = run(api, "echo", {"input": 1}, "k-status").get_json()["id"]
    api.wait("echo", job_id)
    assert run(api, "echo", {"input": 1}, "k-status").get_json() == {"id": job_id, "status": "COMPLETED"}


def test_the_same_body_in_another_key_order_is_the_same_body(api):
    a = run(api, "unserved", {"input": {"a": 1, "b": 2}, "policy": {"ttl": 60000}}, "k-order").get_json()
    b = run(api, "unserved", {"policy": {"ttl": 60000}, "input": {"b": 2, "a": 1}}, "k-order").get_json()
    assert a["id"] == b["id"]


def test_the_same_key_with_another_body_is_a_409_naming_the_header(api):
    job_id = run(api, "unserved", {"input": 1}, "k-conflict").get_json()["id"]
    r = run(api, "unserved", {"input": 2}, "k-conflict")
    assert r.status_code == 409
    body = r.get_json()
    assert body["code"] == 409 and body["error"].startswith("Idempotency-Key:") and job_id in body["error"]
    assert body["errors"] == {"Idempotency-Key": ["used before with another body"]}


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_empty_or_over_long_key_is_a_400_naming_the_header(api, redis, key):
    r = run(api, "unserved", {"input": 1}, key)
    assert r.status_code == 400 and "Idempotency-Key" in r.get_json()["errors"]
    assert job_count(redis) == 0


def test_a_key_of_255_characters_is_taken(api):
    assert run(api, "unserved", {"input": 1}, "k" * 255).status_code == 200


def test_keys_are_scoped_per_endpoint(api):
    a = run(api, "unserved", {"input": 1}, "shared").get_json()["id"]
    b = run(api, "echo", {"input": 1}, "shared").get_json()["id"]
    assert a != b


def test_keys_are_scoped_per_api_key(settings, worker, redis):
    app = create_app(settings.replace(api_keys=(API_KEY, "second-key")))
    a = run(ApiClient(app), "unserved", {"input": 1}, "shared").get_json()["id"]
    b = run(ApiClient(app, key="second-key"), "unserved", {"input": 1}, "shared").get_json()["id"]
    assert a != b and job_count(redis) == 2


def test_a_runsync_sent_again_gets_the_job_it_made_with_its_result(api, redis):
    first = run(api, "echo", {"input": {"n": 7}}, "k-sync", "runsync").get_json()
    again = run(api, "echo", {"input": {"n": 7}}, "k-sync", "runsync").get_json()
    assert first["status"] == again["status"] == "COMPLETED"
    assert again["id"] == first["id"] and again["output"] == {"echo": {"n": 7}}
    assert job_count(redis) == 1


def test_a_runsync_after_a_run_with_the_same_key_waits_for_that_job(api):
    job_id = run(api, "echo", {"input": {"sleep": 0.5}}, "k-both").get_json()["id"]
    done = run(api, "echo", {"input": {"sleep": 0.5}}, "k-both", "runsync").get_json()
    assert done["id"] == job_id and done["status"] == "COMPLETED"


def test_a_claim_whose_job_never_came_to_exist_is_taken_over(api, redis):
    # As a gateway that died between claiming the key and submitting the job leaves it.
    body = {"input": 1}
    for key in redis.scan_iter("jg:idem:*"):
        redis.delete(key)
    run(api, "unserved", body, "k-stale")
    (claim_key,) = redis.scan_iter("jg:idem:*")
    redis.set(claim_key, f"{body_hash(body)}|never-made|1000", px=60_000)
    r = run(api, "unserved", body, "k-stale")
    assert r.status_code == 200 and r.get_json()["id"] != "never-made"
    assert redis.exists(f"jg:job:{r.get_json()['id']}")


def test_a_key_whose_job_expired_says_so(api, redis):
    job_id = run(api, "unserved", {"input": 1}, "k-gone").get_json()["id"]
    api.post("/v2/unserved/purge-queue")
    r = run(api, "unserved", {"input": 1}, "k-gone")
    assert r.status_code == 404 and "purged" in r.get_json()["error"] and job_id in r.get_json()["error"]


def test_the_python_client_sends_the_key(gateway_url):
    client = Client(gateway_url, key=API_KEY)
    a = client.run("unserved", {"x": 1}, idempotency_key="client-key")
    b = client.run("unserved", {"x": 1}, idempotency_key="client-key")
    assert a.id == b.id


def test_the_cli_sends_the_key(gateway_url, capsys):
    ids = []
    for _ in range(2):
        assert (
            main(["run", "--url", gateway_url, "--key", API_KEY, "unserved", "-i", "1", "--idempotency-key", "c"]) == 0
        )
        ids.append(json.loads(capsys.readouterr().out)["id"])
    assert ids[0] == ids[1]
