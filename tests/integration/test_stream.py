"""/stream: a generator's chunks, each handed out once, in order; and the same as Server-Sent Events."""

import json
import time

import pytest
import requests

from tests.helpers import API_KEY, wait_until


def stream(api, job_id, endpoint="echo-stream", query="", method="get"):
    r = getattr(api, method)(f"/v2/{endpoint}/stream/{job_id}{query}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def chunks(n):
    return [{"output": {"chunk": k}} for k in range(n)]


def parse_events(text):
    """Server-Sent Events text -> [(event, id, data)] (comments skipped)."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if fields:
            events.append((fields.get("event"), fields.get("id"), json.loads(fields["data"])))
    return events


def sse(api, job_id, last_event_id=None, endpoint="echo-stream"):
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    r = api.get(f"/v2/{endpoint}/stream/{job_id}", headers=headers)
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    return parse_events(r.get_data(as_text=True))


def finished_stream_job(api, n=4):
    body = api.post("/v2/echo-stream/runsync", json={"input": {"chunks": n}}).get_json()
    assert body["status"] == "COMPLETED"
    return body["id"]


def test_finished_job_hands_out_every_chunk_then_an_empty_stream(api):
    job_id = finished_stream_job(api)
    assert stream(api, job_id) == {"id": job_id, "status": "COMPLETED", "stream": chunks(4)}
    assert stream(api, job_id) == {"id": job_id, "status": "COMPLETED", "stream": []}


def test_generator_output_is_the_list_of_all_chunks(api):
    job_id = finished_stream_job(api, 3)
    assert api.get(f"/v2/echo-stream/status/{job_id}").get_json()["output"] == [{"chunk": k} for k in range(3)]


def test_stream_and_its_cursor_expire_with_the_job(api, redis):
    job_id = api.run("echo-stream", {"chunks": 3, "sleep": 1})
    assert wait_until(lambda: stream(api, job_id)["stream"], 15)
    job_ttl = redis.pttl(f"jg:job:{job_id}")
    for key in (f"jg:stream:{job_id}", f"jg:cursor:{job_id}"):
        assert 0 < redis.pttl(key) <= job_ttl + 1000
    api.wait("echo-stream", job_id)
    for key in (f"jg:stream:{job_id}", f"jg:cursor:{job_id}"):
        assert 0 < redis.pttl(key) <= 1800_000


def test_stream_key_is_present_for_a_job_that_streams_nothing(api):
    job_id = api.run("unserved", 1)
    assert stream(api, job_id, "unserved") == {"id": job_id, "status": "IN_QUEUE", "stream": []}


def test_running_job_chunks_arrive_in_order_each_exactly_once(api):
    job_id = api.run("echo-stream", {"chunks": 6, "sleep": 0.3})
    seen, replies = [], []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = stream(api, job_id, query="?wait=5000")
        replies.append(body)
        seen += body["stream"]
        if body["status"] == "COMPLETED" and not body["stream"]:
            break
    assert seen == chunks(6)
    assert any(r["status"] == "IN_PROGRESS" and r["stream"] for r in replies)


def test_stream_wait_returns_when_a_chunk_arrives(api):
    job_id = api.run("echo-stream", {"chunks": 2, "sleep": 2})
    assert wait_until(lambda: stream(api, job_id)["stream"] or None, 15)  # took chunk 0
    started = time.monotonic()
    body = stream(api, job_id, query="?wait=60000")
    assert body["stream"] == [{"output": {"chunk": 1}}]
    assert time.monotonic() - started < 30  # woken by the chunk, not by the end of the wait


def test_stream_wait_passes_with_an_empty_stream(api):
    job_id = api.run("unserved", 1)
    assert stream(api, job_id, "unserved", "?wait=1000") == {"id": job_id, "status": "IN_QUEUE", "stream": []}


def test_stream_answers_post_too(api):
    job_id = finished_stream_job(api, 2)
    assert stream(api, job_id, method="post")["stream"] == chunks(2)


def test_stream_of_an_unknown_job_is_404(api):
    assert api.get("/v2/echo-stream/stream/nope").status_code == 404


@pytest.mark.parametrize("wait", ["-1", "300001", "soon"])
def test_stream_wait_out_of_range_is_400(api, wait):
    r = api.get(f"/v2/echo-stream/stream/x?wait={wait}")
    assert r.status_code == 400 and "wait" in r.get_json()["errors"]


def test_chunk_over_1_mb_fails_the_job_and_stores_nothing_of_it(api):
    body = api.post("/v2/big-chunk/runsync", json={"input": 1}).get_json()
    assert body["status"] == "FAILED"
    assert "stream chunk 1" in body["error"] and "1 MB" in body["error"]
    assert stream(api, body["id"], "big-chunk")["stream"] == [{"output": {"small": 1}}]


def test_events_carry_each_chunk_with_its_index_then_the_status(api):
    job_id = finished_stream_job(api, 3)
    events = sse(api, job_id)
    assert events[:3] == [("chunk", str(k), {"output": {"chunk": k}}) for k in range(3)]
    name, _, data = events[3]
    assert name == "status" and data["status"] == "COMPLETED" and data["output"] == [{"chunk": k} for k in range(3)]
    assert len(events) == 4


def test_events_resume_after_last_event_id(api):
    job_id = finished_stream_job(api, 4)
    events = sse(api, job_id, last_event_id=1)
    assert [e[1] for e in events if e[0] == "chunk"] == ["2", "3"]
    assert events[-1][0] == "status"


def test_events_and_polling_do_not_hide_chunks_from_each_other(api):
    job_id = finished_stream_job(api, 3)
    assert stream(api, job_id)["stream"] == chunks(3)
    assert len([e for e in sse(api, job_id) if e[0] == "chunk"]) == 3
    assert stream(api, job_id)["stream"] == []


def test_bad_last_event_id_is_400(api):
    job_id = finished_stream_job(api, 1)
    r = api.get(f"/v2/echo-stream/stream/{job_id}", headers={"Accept": "text/event-stream", "Last-Event-ID": "x"})
    assert r.status_code == 400 and "Last-Event-ID" in r.get_json()["errors"]


def test_events_resume_after_a_dropped_connection_losing_nothing(gateway_url):
    h = {"Authorization": f"Bearer {API_KEY}"}
    job_id = requests.post(
        f"{gateway_url}/v2/echo-stream/run", json={"input": {"chunks": 6, "sleep": 0.4}}, headers=h, timeout=10
    ).json()["id"]
    sse_h = {**h, "Accept": "text/event-stream"}
    first = []
    with requests.get(f"{gateway_url}/v2/echo-stream/stream/{job_id}", headers=sse_h, stream=True, timeout=30) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        block = []
        for line in r.iter_lines(decode_unicode=True):
            if line:
                block.append(line)
                continue
            first += parse_events("\n".join(block) + "\n\n")
            block = []
            if len(first) == 2:
                break  # drop the connection mid-stream
    assert [e[1] for e in first] == ["0", "1"]
    rest = requests.get(
        f"{gateway_url}/v2/echo-stream/stream/{job_id}", headers={**sse_h, "Last-Event-ID": first[-1][1]}, timeout=30
    )
    events = first + parse_events(rest.text)
    assert [e[2] for e in events if e[0] == "chunk"] == chunks(6)
    assert events[-1][0] == "status" and events[-1][2]["status"] == "COMPLETED"
