"""GET /metrics: the fleet in Prometheus's format, the same from every gateway process; workers' own
(their metrics files: tests/unit/test_worker_telemetry.py)."""

import concurrent.futures as cf

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from app.api import metrics
from tests.helpers import METRIC, alert_rules, dashboard_queries, start_gateway, stop, wait_until


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(api) -> dict[tuple[str, frozenset], float]:
    r = api.http.get("/metrics")
    assert r.status_code == 200
    return parse(r.get_data(as_text=True))


def value(samples, name, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_metrics_is_prometheus_text_and_needs_no_key(api):
    r = api.http.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain; version=")
    assert parse(r.get_data(as_text=True))


def test_jobs_are_counted_by_terminal_state(api):
    api.post("/v2/echo/runsync", json={"input": 1})
    api.post("/v2/echo/runsync", json={"input": 2})
    api.post("/v2/echo/runsync", json={"input": {"fail": "no"}})
    api.post(f"/v2/unserved/cancel/{api.run('unserved', 1)}")
    s = scrape(api)
    assert value(s, "jobgate_jobs_total", endpoint="echo", status="COMPLETED") == 2
    assert value(s, "jobgate_jobs_total", endpoint="echo", status="FAILED") == 1
    assert value(s, "jobgate_jobs_total", endpoint="echo", status="TIMED_OUT") == 0
    assert value(s, "jobgate_jobs_total", endpoint="unserved", status="CANCELLED") == 1


def test_delay_and_execution_histograms_observe_each_job_that_ran(api):
    api.post("/v2/echo/runsync", json={"input": {"sleep": 0.5}})
    api.post("/v2/echo/runsync", json={"input": 1})
    api.post(f"/v2/unserved/cancel/{api.run('unserved', 1)}")  # never ran: not observed
    s = scrape(api)
    assert value(s, "jobgate_job_execution_seconds_count", endpoint="echo") == 2
    assert value(s, "jobgate_job_execution_seconds_sum", endpoint="echo") >= 0.5
    assert value(s, "jobgate_job_execution_seconds_bucket", endpoint="echo", le="0.25") == 1
    assert value(s, "jobgate_job_execution_seconds_bucket", endpoint="echo", le="+Inf") == 2
    assert value(s, "jobgate_job_delay_seconds_count", endpoint="echo") == 2
    assert value(s, "jobgate_job_delay_seconds_count", endpoint="unserved") == 0


def test_queue_depth_and_jobs_in_progress_are_read_at_scrape_time(api):
    api.run("unserved", 1)
    api.run("unserved", 2)
    job_id = api.run("echo", {"sleep": 2})
    s = wait_until(lambda: (s := scrape(api)) and value(s, "jobgate_jobs_in_progress", endpoint="echo") == 1 and s, 5)
    assert s and value(s, "jobgate_queue_depth", endpoint="unserved") == 2
    api.wait("echo", job_id)


def test_workers_are_counted_by_state(api):
    s = wait_until(
        lambda: (s := scrape(api)) and value(s, "jobgate_workers", endpoint="echo", state="idle") == 3 and s, 5
    )
    assert s and value(s, "jobgate_workers", endpoint="broken", state="unhealthy") == 3
    assert value(s, "jobgate_workers", endpoint="unserved", state="idle") == 0


def test_rate_limit_refusals_are_counted_by_endpoint_and_operation(app, api):
    with app.test_request_context("/v2/echo/run"):
        metrics.rate_limited("echo", "run")
        metrics.rate_limited("echo", "run")
        metrics.rate_limited("echo", "status")
        metrics.rate_limited("no-such-endpoint", "run")
    s = scrape(api)
    assert value(s, "jobgate_rate_limited_total", endpoint="echo", operation="run") == 2
    assert value(s, "jobgate_rate_limited_total", endpoint="echo", operation="status") == 1
    assert value(s, "jobgate_rate_limited_total", endpoint=metrics.UNKNOWN_ENDPOINT, operation="run") == 1


@pytest.fixture(scope="module")
def two_process_gateway(settings, worker, tmp_path_factory):
    proc, url = start_gateway(settings, tmp_path_factory.mktemp("gw2") / "gateway.log", web_workers=2)
    yield url
    stop(proc)


def test_every_gateway_process_reports_the_same_numbers(api, two_process_gateway):
    for i in range(3):
        api.post("/v2/echo/runsync", json={"input": i})

    def completed(_):
        # A new connection each time, so both gunicorn processes answer some of them.
        r = requests.get(f"{two_process_gateway}/metrics", headers={"Connection": "close"}, timeout=10)
        return value(parse(r.text), "jobgate_jobs_total", endpoint="echo", status="COMPLETED")

    with cf.ThreadPoolExecutor(4) as pool:
        assert set(pool.map(completed, range(12))) == {3}


def test_a_worker_serves_its_own_metrics_summed_over_its_pool_processes(api, pinned_worker):
    # --max-tasks-per-child 1: each job runs in a process that then exits; its counts stay.
    for _ in range(2):
        assert api.post("/v2/gpu-env/runsync", json={"input": {}}).get_json()["status"] == "COMPLETED"
    url = f"http://127.0.0.1:{pinned_worker['metrics_port']}/metrics"

    def counted():
        # A job's status is recorded a moment before the worker counts it, and a pool process
        # that has just exited is replaced a moment later.
        s = parse(requests.get(url, timeout=5).text)
        gpus = {dict(labels)["gpu"] for (name, labels) in s if name == "jobgate_worker_process_info"}
        return (
            value(s, "jobgate_worker_jobs_total", endpoint="gpu-env", status="COMPLETED") >= 2
            and value(s, "jobgate_worker_job_execution_seconds_count", endpoint="gpu-env") >= 2
            and gpus == {"1", "3"}
        )

    assert wait_until(counted, 10)


def test_a_run_lost_with_its_worker_is_counted(api, app):
    store = app.extensions["jobgate"].store
    job_id = api.run("unserved", {"x": 1})
    store.start(job_id, "unserved", "w1", 60_000)
    store.start(job_id, "unserved", "w2", 60_000)  # w1 is gone: delivered again
    assert value(scrape(api), "jobgate_job_runs_lost_total", endpoint="unserved") == 1


def test_every_gateway_metric_the_dashboard_and_alerts_read_is_exported(api):
    read = {m for q in dashboard_queries() + [r["expr"] for r in alert_rules()] for m in METRIC.findall(q)}
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    text = api.http.get("/metrics").get_data(as_text=True)
    # Every family, samples or not (a counter of refusals has none until a request is refused).
    scraped = {f.name + s for f in text_string_to_metric_families(text) for s in suffixes.get(f.type, ("",))}
    gateway = {m for m in read if not m.startswith("jobgate_worker_")}
    assert gateway <= scraped, f"not on /metrics: {gateway - scraped}"
