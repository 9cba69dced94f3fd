"""The reaper: running jobs of lost workers go back to their queue, and only those."""

import pytest

from app.core.clock import now_ms

HARD_MS = 60_000
QUEUE = "jobgate.unserved"


@pytest.fixture
def gw(app, redis):
    gateway = app.extensions["jobgate"]
    # Hold the pass lock so that this process's own reaper loop stays out of the way.
    redis.set(gateway.store.keys.reaper_lock(), "test", px=60_000)
    return gateway


def test_a_job_whose_worker_is_gone_is_taken_back_after_three_missed_beats(api, gw, redis):
    job_id = api.run("unserved", 1)
    gw.store.start(job_id, "unserved", "ghost@host-0", HARD_MS)
    at, confirm = now_ms(), gw.reaper.confirm_ms
    assert gw.reaper.sweep(at) == []  # suspected only: after a Redis restart live workers beat again
    assert gw.reaper.sweep(at + confirm - 1) == []
    assert gw.reaper.sweep(at + confirm) == [job_id]
    body = api.get(f"/v2/unserved/status/{job_id}").get_json()
    assert (body["id"], body["status"], body["queue"]["reason"]) == (job_id, "IN_QUEUE", "no_worker")
    assert redis.llen(QUEUE) == 1  # its message was still queued: not sent twice


def test_a_job_whose_worker_beats_and_runs_it_is_left_alone(api, gw):
    job_id = api.run("unserved", 1)
    gw.store.start(job_id, "unserved", "live@host-0", HARD_MS)
    gw.fleet.beat("live@host-0", ["unserved"], now_ms(), state="running", job=job_id)
    try:
        at = now_ms()
        assert gw.reaper.sweep(at) == [] and gw.reaper.sweep(at + 10 * gw.reaper.confirm_ms) == []
        assert gw.store.get(job_id).status.value == "IN_PROGRESS"
    finally:
        gw.fleet.gone("live@host-0", ["unserved"])


def test_a_job_its_live_worker_no_longer_runs_is_taken_back(api, gw):
    job_id = api.run("unserved", 1)
    gw.store.start(job_id, "unserved", "live@host-0", HARD_MS)
    gw.fleet.beat("live@host-0", ["unserved"], now_ms(), state="idle", job="")
    try:
        at = now_ms()
        gw.reaper.sweep(at)
        assert gw.reaper.sweep(at + gw.reaper.confirm_ms) == [job_id]
    finally:
        gw.fleet.gone("live@host-0", ["unserved"])


def test_a_taken_back_job_whose_message_is_nowhere_is_sent_again(api, gw, redis):
    job_id = api.run("unserved", 1)
    gw.store.start(job_id, "unserved", "ghost@host-0", HARD_MS)
    redis.delete(QUEUE)  # its message was dropped (or lost with Redis's last second)
    at = now_ms()
    gw.reaper.sweep(at)
    assert gw.reaper.sweep(at + gw.reaper.confirm_ms) == [job_id]
    assert redis.llen(QUEUE) == 1


def test_a_suspect_restarted_elsewhere_meanwhile_is_not_taken_back(api, gw):
    job_id = api.run("unserved", 1)
    gw.store.start(job_id, "unserved", "ghost@host-0", HARD_MS)
    at = now_ms()
    gw.reaper.sweep(at)
    gw.store.start(job_id, "unserved", "ghost@host-1", HARD_MS)  # a new run: a new suspicion
    assert gw.reaper.sweep(at + gw.reaper.confirm_ms) == []
