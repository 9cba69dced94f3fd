"""deploy/grafana and deploy/prometheus: they parse, and every query reads a metric jobgate exports.

The exported names are read from the code that registers them (the gateway's collector, the
workers' prometheus-client metrics), with the series a counter or a histogram adds.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from tests.helpers import DASHBOARD, METRIC, ROOT, RULES, alert_rules, dashboard_queries

REGISTERED = re.compile(r"\b(Gauge|Counter|Histogram)(?:MetricFamily)?\(\s*\"(jobgate_[a-z0-9_]+)\"")
HISTOGRAM_HELPER = re.compile(r"_histogram\(\s*\"(jobgate_[a-z0-9_]+)\"")
SERIES = {"Gauge": ("",), "Counter": ("_total",), "Histogram": ("_bucket", "_sum", "_count")}


def exported() -> set[str]:
    names = set()
    for path in (ROOT / "app" / "api" / "metrics.py", ROOT / "workers" / "telemetry.py"):
        text = path.read_text()
        for kind, name in REGISTERED.findall(text):
            names |= {name + suffix for suffix in SERIES[kind]}
        for name in HISTOGRAM_HELPER.findall(text):
            names |= {name + suffix for suffix in SERIES["Histogram"]}
    return names


def test_the_exported_names_are_found_in_the_code():
    assert {"jobgate_queue_depth", "jobgate_jobs_total", "jobgate_job_delay_seconds_bucket"} <= exported()
    assert {"jobgate_worker_busy_processes", "jobgate_job_runs_lost_total"} <= exported()


def test_the_dashboard_is_grafana_json_with_a_query_in_every_panel():
    board = json.loads(DASHBOARD.read_text())
    assert board["title"] and board["uid"] and board["panels"]
    assert all(panel.get("targets") for panel in board["panels"])
    assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])


@pytest.mark.parametrize("query", dashboard_queries())
def test_every_dashboard_query_reads_only_metrics_jobgate_exports(query):
    used = set(METRIC.findall(query))
    assert used and used <= exported(), f"unknown metric(s) {used - exported()} in {query!r}"


def test_the_rules_file_has_the_expected_groups_and_alerts():
    groups = yaml.safe_load(RULES.read_text())["groups"]
    assert [g["name"] for g in groups] == ["jobgate-jobs", "jobgate-workers"]
    assert {r["alert"] for r in alert_rules()} == {
        "JobgateHighFailureRate",
        "JobgateQueueGrowingWithoutWorkers",
        "JobgateUnhealthyWorkers",
        "JobgateWorkersLost",
    }
    assert all(
        r["labels"]["severity"] in ("warning", "critical") and r["annotations"]["summary"] for r in alert_rules()
    )


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_every_alert_reads_only_metrics_jobgate_exports(rule):
    used = set(METRIC.findall(rule["expr"]))
    assert used and used <= exported(), f"unknown metric(s) {used - exported()} in {rule['alert']}"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) is not installed")
def test_promtool_accepts_the_alert_rules():
    r = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
