"""A job recorded but never queued (its gateway died between the two steps of /run) is queued by the reaper."""

import pytest

from app.api.reaper import UNSENT_GRACE_MS
from app.core.clock import now_ms
from app.core.states import JobStatus
from app.store import broker

LATER = UNSENT_GRACE_MS + 1000


@pytest.fixture
def gw(app, redis):
    gateway = app.extensions["jobgate"]
    redis.set(gateway.store.keys.reaper_lock(), "test", px=60_000)  # keep this process's own loop out
    yield gateway
    redis.delete(gateway.store.keys.reaper_lock())


def recorded_only(gw, endpoint: str, job_input=1) -> str:
    """What a gateway that died right after recording the job leaves: a record, no message."""
    return gw.store.create(endpoint, job_input, execution_timeout_ms=60_000).id


def test_a_recorded_but_unsent_job_is_queued_and_runs(api, gw):
    job_id = recorded_only(gw, "echo", {"x": 1})
    assert gw.reaper.resend_unsent(now_ms() + LATER) == [job_id]
    assert api.wait("echo", job_id)["status"] == "COMPLETED"


def test_a_young_unsent_job_is_left_to_its_submission(gw):
    recorded_only(gw, "unserved")
    assert gw.reaper.resend_unsent(now_ms()) == []


def test_jobs_whose_messages_wait_are_not_sent_twice(api, gw, redis):
    orphan = recorded_only(gw, "unserved")
    queued = [api.run("unserved", n) for n in range(2)]
    assert gw.reaper.resend_unsent(now_ms() + LATER) == [orphan]
    assert redis.llen("jobgate.unserved") == 3
    assert gw.reaper.resend_unsent(now_ms() + LATER) == []  # its message is in the lane now
    assert all(gw.store.get(j).status is JobStatus.IN_QUEUE for j in queued)


def test_an_unsent_job_behind_queued_messages_waits_for_its_turn(api, gw):
    api.run("unserved", 0)
    orphan = recorded_only(gw, "unserved")
    assert gw.reaper.resend_unsent(now_ms() + LATER) == []  # the older message must go first
    assert gw.store.get(orphan).status is JobStatus.IN_QUEUE


def held_but_dropped(settings, gw, job_id: str) -> None:
    """What a worker that lost the broker between taking a message and running it leaves: the
    message held (unacknowledged) by no one."""
    from kombu import Connection

    with Connection(
        broker.broker_url(settings), transport_options=broker.transport_options(settings, gw.registry)
    ) as c:
        channel = c.default_channel
        assert channel.basic_get("jobgate.unserved", no_ack=False) is not None
        channel.qos.restore_at_shutdown = False  # it could not give it back


@pytest.fixture
def fake_worker(gw):
    """A heartbeat of a worker serving ``unserved`` (in the given state), forgotten after the test."""
    made = []

    def beat(state: str, **info: str) -> None:
        worker_id = f"{state}-worker@test-0"
        made.append(worker_id)
        gw.fleet.beat(worker_id, ["unserved"], now_ms(), state=state, **info)

    yield beat
    for worker_id in made:
        gw.fleet.gone(worker_id, ["unserved"])


def test_a_message_held_by_no_one_is_put_back_while_a_worker_of_its_endpoint_is_idle(
    settings, api, gw, redis, fake_worker
):
    job_id = api.run("unserved", 1)
    held_but_dropped(settings, gw, job_id)
    assert redis.llen("jobgate.unserved") == 0 and job_id in broker.held_since(redis)
    fake_worker("idle")
    assert gw.reaper.restore_stranded(now_ms()) == []  # just delivered: a worker may be starting it
    assert gw.reaper.restore_stranded(now_ms() + LATER) == [job_id]
    assert redis.llen("jobgate.unserved") == 1 and job_id not in broker.held_since(redis)


def test_a_held_message_is_left_alone_while_every_worker_of_its_endpoint_is_busy(settings, api, gw, fake_worker):
    job_id = api.run("unserved", 1)
    held_but_dropped(settings, gw, job_id)
    fake_worker("running", job="other", job_endpoint="unserved")
    assert gw.reaper.restore_stranded(now_ms() + LATER) == []
