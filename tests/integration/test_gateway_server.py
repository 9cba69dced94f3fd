"""The gateway as deployed (gunicorn + gevent): waiting costs nothing."""

import concurrent.futures as cf

import requests

from tests.helpers import API_KEY, wait_until

H = {"Authorization": f"Bearer {API_KEY}"}


def test_served_gateway_answers_the_readme_example(gateway_url):
    r = requests.post(f"{gateway_url}/v2/echo/runsync", json={"input": {"x": 1}}, headers=H, timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["status"] == "COMPLETED" and body["output"] == {"echo": {"x": 1}}
    assert {"id", "delayTime", "executionTime", "workerId"} <= body.keys()


def test_400_waiting_runsync_calls_are_held_while_run_and_status_answer(gateway_url):
    session = requests.Session()
    hold_ms = 30_000

    def wait_call(_):
        r = requests.post(f"{gateway_url}/v2/unserved/runsync?wait={hold_ms}", json={"input": 1}, headers=H, timeout=60)
        return r.status_code, r.json()["status"]

    with cf.ThreadPoolExecutor(400) as pool:
        waiting = [pool.submit(wait_call, i) for i in range(400)]

        # Let them all arrive and park; meanwhile the same single gateway process keeps answering.
        def queued():
            return session.get(f"{gateway_url}/v2/unserved/health", headers=H, timeout=5).json()["jobs"]["inQueue"]

        assert wait_until(lambda: queued() == 400, 20, 0.5)
        job_id = session.post(f"{gateway_url}/v2/echo/run", json={"input": 1}, headers=H, timeout=5).json()["id"]
        status = session.get(f"{gateway_url}/v2/echo/status-sync/{job_id}?wait=5000", headers=H, timeout=10).json()
        assert status["status"] == "COMPLETED"
        assert not any(f.done() for f in waiting)  # still held, none dropped
        results = [f.result() for f in waiting]
    assert results == [(200, "IN_QUEUE")] * 400
