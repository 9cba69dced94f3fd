"""The ``jobgate`` client commands: output, live progress, exit status (0 done, 1 failed, 2 error)."""

import io
import json
import subprocess
import sys
import time

import pytest

from app.cli import main
from app.client.cli import health_table
from app.client.display import ProgressLine
from tests.helpers import API_KEY, ROOT, free_port


@pytest.fixture
def jobgate(gateway_url, capsys):
    """Run ``jobgate <args>`` in-process against the gateway: (exit status, stdout, stderr)."""

    def call(*args: str):
        status = main([args[0], "--url", gateway_url, "--key", API_KEY, *args[1:]])
        out, err = capsys.readouterr()
        return status, out, err

    return call


def test_runsync_prints_the_job_and_exits_0(jobgate):
    status, out, err = jobgate("runsync", "echo", "-i", '{"x": 1}')
    assert status == 0
    assert json.loads(out)["output"] == {"echo": {"x": 1}}
    assert "COMPLETED" in err


def test_failed_job_exits_1_with_its_error_on_stderr(jobgate):
    status, out, err = jobgate("runsync", "echo", "-i", '{"fail": "boom"}')
    assert status == 1
    assert json.loads(out)["status"] == "FAILED"
    assert "FAILED" in err and "boom" in err


def test_runsync_past_the_gateway_wait_keeps_following(jobgate):
    status, out, _ = jobgate("runsync", "echo", "-i", '{"sleep": 2}', "--sync-wait", "1000")
    assert status == 0 and json.loads(out)["status"] == "COMPLETED"


def test_run_prints_the_id_and_status_shows_the_job(jobgate):
    status, out, _ = jobgate("run", "echo", "-i", "5")
    submitted = json.loads(out)
    assert status == 0 and submitted["status"] == "IN_QUEUE"
    status, out, _ = jobgate("status", "echo", submitted["id"], "--wait")
    assert status == 0 and json.loads(out)["output"] == {"echo": 5}


def test_run_wait_shows_state_elapsed_time_and_progress_values(jobgate):
    status, out, err = jobgate("run", "rp-echo", "-i", '{"progress": 3, "sleep": 1.2}', "--wait")
    assert status == 0 and json.loads(out)["status"] == "COMPLETED"
    progress_lines = [line for line in err.splitlines() if "IN_PROGRESS" in line and '"step":' in line]
    assert progress_lines and progress_lines[0].startswith("[") and "s]" in progress_lines[0]
    assert " COMPLETED in " in err.splitlines()[-1]


def test_input_can_come_from_a_file(jobgate, tmp_path):
    path = tmp_path / "input.json"
    path.write_text('{"from": "file"}')
    status, out, _ = jobgate("runsync", "echo", "-i", f"@{path}")
    assert status == 0 and json.loads(out)["output"] == {"echo": {"from": "file"}}


def test_wait_past_timeout_exits_1(jobgate):
    status, _, err = jobgate("run", "unserved", "-i", "1", "--wait", "--timeout", "1")
    assert status == 1 and "gave up waiting" in err


def test_cancel_prints_the_cancelled_job(jobgate):
    _, out, _ = jobgate("run", "unserved", "-i", "1")
    job_id = json.loads(out)["id"]
    status, out, _ = jobgate("cancel", "unserved", job_id)
    assert status == 0 and json.loads(out) == {"id": job_id, "status": "CANCELLED"}
    status, _, _ = jobgate("status", "unserved", job_id)
    assert status == 1  # a cancelled job did not complete


def test_retry_wait_reruns_a_failed_job(jobgate):
    _, out, _ = jobgate("runsync", "echo", "-i", '{"fail": "x"}')
    job_id = json.loads(out)["id"]
    status, out, _ = jobgate("retry", "echo", job_id, "--wait")
    assert status == 1 and json.loads(out)["retries"] == 1


def test_purge_reports_how_many_jobs_were_removed(jobgate):
    jobgate("run", "unserved", "-i", "1")
    status, out, _ = jobgate("purge", "unserved")
    assert status == 0 and out.strip() == "unserved: 1 queued job(s) removed"


def test_health_prints_a_table_or_json(jobgate):
    status, out, _ = jobgate("health", "echo")
    assert status == 0 and out.startswith("endpoint echo") and "inQueue" in out and "idle" in out
    status, out, _ = jobgate("health", "echo", "--json")
    assert status == 0 and set(json.loads(out)) == {"jobs", "workers"}


def test_health_table_lines_up_names_and_counts():
    table = health_table("e", {"jobs": {"completed": 12, "failed": 0}, "workers": {"idle": 1, "running": 0}})
    assert table.splitlines() == [
        "endpoint e",
        "jobs     completed  failed",
        "         12         0",
        "workers  idle  running",
        "         1     0",
    ]


def test_unknown_job_is_a_one_line_error_and_exits_2(jobgate):
    status, out, err = jobgate("status", "echo", "no-such-job")
    assert status == 2 and out == ""
    assert err.strip().splitlines() == ["jobgate: error: 404 job no-such-job not found"]


def test_bad_key_says_how_to_set_one(gateway_url, capsys):
    assert main(["health", "echo", "--url", gateway_url, "--key", "wrong"]) == 2
    assert "401" in capsys.readouterr().err


def test_invalid_json_input_exits_2(jobgate):
    status, _, err = jobgate("run", "echo", "-i", "{nope")
    assert status == 2 and "not valid JSON" in err


def test_unreachable_gateway_exits_2(capsys):
    assert main(["health", "echo", "--url", f"http://127.0.0.1:{free_port()}"]) == 2
    assert "cannot reach the gateway" in capsys.readouterr().err


def test_console_script_reads_url_and_key_from_the_environment(gateway_url):
    env = {"JOBGATE_URL": gateway_url, "JOBGATE_API_KEY": API_KEY, "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "runsync", "echo", "-i", "[1]"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and json.loads(done.stdout)["output"] == {"echo": [1]}


def test_missing_arguments_are_a_usage_error():
    with pytest.raises(SystemExit) as caught:
        main(["runsync", "echo"])
    assert caught.value.code == 2


def test_progress_line_on_a_terminal_redraws_a_spinner_in_place():
    out = io.StringIO()
    line = ProgressLine("job-1", out=out, live=True)
    line.update("IN_PROGRESS", {"step": 1})
    time.sleep(0.35)
    line.close("job-1  COMPLETED in 0.4s")
    text = out.getvalue()
    assert "\r\x1b[2K" in text and "IN_PROGRESS" in text and '{"step":1}' in text
    assert text.endswith("job-1  COMPLETED in 0.4s\n")


def test_stream_prints_each_chunk_as_a_json_line(jobgate):
    _, out, _ = jobgate("run", "echo-stream", "-i", '{"chunks": 3, "sleep": 0.3}')
    status, out, _ = jobgate("stream", "echo-stream", json.loads(out)["id"])
    assert status == 0
    assert [json.loads(line) for line in out.splitlines()] == [{"chunk": k} for k in range(3)]


def test_run_stream_submits_and_prints_chunks(jobgate):
    status, out, _ = jobgate("run", "echo-stream", "-i", '{"chunks": 2}', "--stream")
    assert status == 0 and out.splitlines() == ['{"chunk":0}', '{"chunk":1}']
