"""The ``jobgate`` client commands against a live gateway: output, live progress, exit status
(0 done, 1 failed, 2 error). What needs no gateway: tests/unit/test_client_*.py."""

import json
import subprocess
import sys

import pytest

from app.cli import main
from tests.helpers import API_KEY, ROOT


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


def test_unknown_job_is_a_one_line_error_and_exits_2(jobgate):
    status, out, err = jobgate("status", "echo", "no-such-job")
    assert status == 2 and out == ""
    assert err.strip().splitlines() == ["jobgate: error: 404 job no-such-job not found"]


def test_bad_key_says_how_to_set_one(gateway_url, capsys):
    assert main(["health", "echo", "--url", gateway_url, "--key", "wrong"]) == 2
    assert "401" in capsys.readouterr().err


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


def test_stream_prints_each_chunk_as_a_json_line(jobgate):
    _, out, _ = jobgate("run", "echo-stream", "-i", '{"chunks": 3, "sleep": 0.3}')
    status, out, _ = jobgate("stream", "echo-stream", json.loads(out)["id"])
    assert status == 0
    assert [json.loads(line) for line in out.splitlines()] == [{"chunk": k} for k in range(3)]


def test_run_stream_submits_and_prints_chunks(jobgate):
    status, out, _ = jobgate("run", "echo-stream", "-i", '{"chunks": 2}', "--stream")
    assert status == 0 and out.splitlines() == ['{"chunk":0}', '{"chunk":1}']


def test_version_prints_the_installed_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0 and capsys.readouterr().out.startswith("jobgate ")


def test_an_instant_runsync_prints_one_stderr_line(jobgate):
    status, _, err = jobgate("runsync", "echo", "-i", '{"x": 1}')
    assert status == 0 and len(err.splitlines()) == 1 and " COMPLETED in " in err


def test_wait_follows_the_job_without_missing_a_progress_value(jobgate):
    # Five steps 0.3 s apart: a once-a-second poll sees about two of them. The first step comes as
    # the job starts: follow from a gateway process already listening (a runsync starts its listener).
    jobgate("runsync", "echo", "-i", "0")
    status, _, err = jobgate("run", "echo", "-i", '{"progress": 5, "sleep": 0.3}', "--wait")
    assert status == 0
    seen = [json.loads(line.split("IN_PROGRESS", 1)[1]) for line in err.splitlines() if '"step"' in line]
    assert [s["step"] for s in seen] == [1, 2, 3, 4, 5]


def test_ctrl_c_while_waiting_names_the_job_and_how_to_cancel_it(jobgate, monkeypatch):
    from app.client.client import Client

    def interrupt(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Client, "wait", interrupt)
    status, out, err = jobgate("run", "echo", "-i", '{"sleep": 5}', "--wait")
    job_id = json.loads(out)["id"] if out.strip() else err.split("job ", 1)[1].split(" ", 1)[0]
    assert status == 130
    assert f"job {job_id} goes on" in err and f"jobgate cancel echo {job_id}" in err


def test_requests_lists_jobs_as_a_table_or_json(jobgate):
    _, out, _ = jobgate("runsync", "echo", "-i", '{"x": 1}')
    job_id = json.loads(out)["id"]
    status, out, _ = jobgate("requests", "echo", "--status", "COMPLETED")
    header, row = out.splitlines()[:2]
    assert status == 0 and header.split()[:2] == ["ID", "STATUS"] and row.split()[:2] == [job_id, "COMPLETED"]
    status, out, _ = jobgate("requests", "echo", "--json", "--status", "FAILED")
    assert status == 0 and json.loads(out) == {"requests": [], "nextCursor": None}


def test_workers_lists_live_workers_as_a_table_or_json(jobgate):
    status, out, _ = jobgate("workers", "echo")
    lines = out.splitlines()
    assert status == 0 and lines[0].split() == ["ID", "STATE", "JOB", "GPU", "HOST"]
    assert any(line.startswith("test-worker@") for line in lines[1:])
    status, out, _ = jobgate("workers", "echo", "--json")
    assert status == 0 and json.loads(out)["workers"][0]["id"].startswith("test-worker@")
