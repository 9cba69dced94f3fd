"""A job run again after its worker was lost: readers get the chunks of the run that counts, once."""

import json

import pytest

from app.core.states import JobStatus
from app.store.connection import connect
from app.store.jobstore import JobStore


@pytest.fixture
def store(settings) -> JobStore:
    return JobStore(connect(settings), settings)


def interrupted_then_rerun(store: JobStore) -> str:
    """A job whose first run streamed 3 chunks and was lost; its second run streamed 2."""
    job = store.create("unserved", 1, execution_timeout_ms=60_000)
    store.start(job.id, "unserved", "lost-worker", 60_000)
    for i in range(3):
        store.push_chunk(job, {"run": 1, "i": i}, i)
    return job.id


def rerun(store: JobStore, job_id: str) -> None:
    started = store.get(job_id).started_ms
    assert store.requeue(job_id, "unserved", "lost-worker", str(started))  # what the reaper does
    store.start(job_id, "unserved", "new-worker", 60_000)
    job = store.get(job_id)
    for i in range(2):
        store.push_chunk(job, {"run": 2, "i": i}, i)


def test_a_poller_that_had_part_of_the_lost_run_goes_on_with_the_new_run_without_duplicates(store):
    job_id = interrupted_then_rerun(store)
    _, _, first = store.read_stream(job_id, take=True, limit=2)
    assert first == [{"run": 1, "i": 0}, {"run": 1, "i": 1}]
    rerun(store, job_id)
    _, start, rest = store.read_stream(job_id, take=True)
    assert (start, rest) == (3, [{"run": 2, "i": 0}, {"run": 2, "i": 1}])
    assert store.read_stream(job_id, take=True)[2] == []


def test_a_new_reader_sees_only_the_new_runs_chunks(store):
    job_id = interrupted_then_rerun(store)
    rerun(store, job_id)
    assert store.read_stream(job_id, take=False, start=0)[1:] == (3, [{"run": 2, "i": 0}, {"run": 2, "i": 1}])


def test_server_sent_events_resume_after_an_old_chunk_with_the_new_run_and_new_ids(api, store):
    job_id = interrupted_then_rerun(store)
    rerun(store, job_id)
    store.finish(store.get(job_id), JobStatus.COMPLETED)
    r = api.get(f"/v2/unserved/stream/{job_id}", headers={"Accept": "text/event-stream", "Last-Event-ID": "1"})
    events = [e for e in r.get_data(as_text=True).split("\n\n") if e.startswith("id:")]
    ids = [int(e.split("\n")[0][4:]) for e in events]
    data = [json.loads(e.split("data: ")[1])["output"] for e in events]
    assert ids == [3, 4] and data == [{"run": 2, "i": 0}, {"run": 2, "i": 1}]


def test_a_retried_job_streams_from_the_start_again(api, store):
    job_id = interrupted_then_rerun(store)
    rerun(store, job_id)
    store.finish(store.get(job_id), JobStatus.FAILED, error="x")
    assert store.retry(store.get(job_id)) == "OK"
    store.start(job_id, "unserved", "w", 60_000)
    store.push_chunk(store.get(job_id), {"run": 3}, 0)
    assert store.read_stream(job_id, take=True)[1:] == (0, [{"run": 3}])
