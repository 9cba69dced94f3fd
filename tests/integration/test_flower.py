"""`jobgate flower`: basic auth, a job found by the id /status shows, history kept across a restart, and
a task state that tells the job's truth (failed, timed out and cancelled jobs are not successes)."""

import subprocess
import sys

import pytest
import requests

from tests.helpers import ROOT, free_port, service_env, stop, wait_until

AUTH = ("ops", "s3cret")


class Flower:
    """`jobgate flower` on a free port, with its history in ``db``."""

    def __init__(self, settings, tmp_path):
        self.settings = settings
        self.port = free_port()
        self.db = tmp_path / "flower" / "flower.db"
        self.log = tmp_path / "flower.log"
        self.proc: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = service_env(
            self.settings, FLOWER_PORT=str(self.port), FLOWER_DB=str(self.db), FLOWER_BASIC_AUTH=f"{AUTH[0]}:{AUTH[1]}"
        )
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "flower"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if not wait_until(lambda: self.answers() or self.proc.poll() is not None, 30, 0.2) or self.proc.poll():
            pytest.fail(f"flower did not start:\n{self.log.read_text()[-3000:]}")

    def answers(self) -> bool:
        try:
            return requests.get(self.url, timeout=2).status_code > 0
        except requests.RequestException:
            return False

    def task(self, job_id: str) -> dict | None:
        r = requests.get(f"{self.url}/api/tasks", params={"search": job_id}, auth=AUTH, timeout=5)
        return r.json().get(job_id)

    def stop(self) -> None:
        stop(self.proc)


@pytest.fixture(scope="module")
def flower(settings, worker, tmp_path_factory):
    f = Flower(settings, tmp_path_factory.mktemp("flower"))
    f.start()
    yield f
    f.stop()


def seen_by_flower(api, flower) -> tuple[str, dict]:
    """A job run until Flower has its events (its event receiver may still be connecting)."""
    for _ in range(5):
        job_id = api.run("echo", {"x": 1})
        api.wait("echo", job_id)
        task = wait_until(lambda: (t := flower.task(job_id)) and t.get("state") == "SUCCESS" and t, 5)
        if task:
            return job_id, task
    pytest.fail("Flower never saw a job")


TERMINAL_TASK_STATES = {"SUCCESS", "FAILURE", "REVOKED"}


def flower_tasks(flower, job_ids) -> dict[str, dict]:
    """Flower's tasks of these jobs, once it has a final state for each."""

    def final() -> dict[str, dict] | None:
        r = requests.get(f"{flower.url}/api/tasks", params={"limit": 1000}, auth=AUTH, timeout=5)
        tasks = {jid: r.json().get(jid) or {} for jid in job_ids}
        return tasks if all(t.get("state") in TERMINAL_TASK_STATES for t in tasks.values()) else None

    tasks = wait_until(final, 20, 0.2)
    assert tasks, f"Flower has no final state for some of {job_ids}"
    return tasks


def ended(api, endpoint, job_id) -> dict:
    body = api.wait(endpoint, job_id)
    assert body["status"] in ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED"), body
    return body


def test_flowers_failed_succeeded_and_revoked_counts_equal_health_after_a_mixed_run(api, flower):
    seen_by_flower(api, flower)  # Flower's event receiver is connected from here on
    before = api.get("/v2/echo/health").get_json()["jobs"]
    jobs = [api.run("echo", {"n": n}) for n in range(3)]
    jobs += [api.run("echo", {"fail": f"failure {n}"}) for n in range(2)]
    jobs.append(api.run("echo", {"sleep": 30}, policy={"executionTimeout": 5000}))
    doomed = api.run("echo", {"sleep": 30})
    wait_until(lambda: api.get(f"/v2/echo/status/{doomed}").get_json()["status"] == "IN_PROGRESS", 10)
    assert api.post(f"/v2/echo/cancel/{doomed}").get_json()["status"] == "CANCELLED"
    jobs.append(doomed)
    for job_id in jobs:
        ended(api, "echo", job_id)

    states = [t["state"] for t in flower_tasks(flower, jobs).values()]
    after = api.get("/v2/echo/health").get_json()["jobs"]
    cancelled = sum(b["cancelled"] for b in api.get("/v2/echo/timeline").get_json()["buckets"])
    assert after["completed"] - before["completed"] == states.count("SUCCESS") == 3
    assert after["failed"] - before["failed"] == states.count("FAILURE") == 3  # two exceptions, one timeout
    assert cancelled == states.count("REVOKED") == 1


def test_a_failed_job_is_a_failed_task_in_flower_with_the_jobs_error(api, flower):
    seen_by_flower(api, flower)
    job_id = api.run("echo", {"fail": "the model ran out of memory"})
    error = ended(api, "echo", job_id)["error"]
    task = flower_tasks(flower, [job_id])[job_id]
    assert task["state"] == "FAILURE" and task["exception"].startswith("JobFailed(")
    assert "the model ran out of memory" in task["exception"] and "RuntimeError" in error


def test_a_timed_out_job_is_a_failed_task_in_flower(api, flower):
    seen_by_flower(api, flower)
    job_id = api.run("echo", {"sleep": 30}, policy={"executionTimeout": 5000})
    assert ended(api, "echo", job_id)["status"] == "TIMED_OUT"
    task = flower_tasks(flower, [job_id])[job_id]
    assert task["state"] == "FAILURE" and "execution timeout of 5000 ms exceeded" in task["exception"]


def test_a_job_cancelled_in_the_job_store_alone_is_revoked_in_flower(api, app, flower):
    """The worker learns of the cancel between chunks (no revoke reached it): it reports the revoke."""
    seen_by_flower(api, flower)
    job_id = api.run("echo-stream", {"chunks": 40, "sleep": 0.25})
    store = app.extensions["jobgate"].store
    wait_until(lambda: store.get(job_id).status.value == "IN_PROGRESS", 10)
    assert store.cancel(store.get(job_id))
    assert flower_tasks(flower, [job_id])[job_id]["state"] == "REVOKED"


def test_flower_asks_for_basic_auth(flower):
    assert requests.get(flower.url, timeout=5).status_code == 401
    assert requests.get(flower.url, auth=AUTH, timeout=5).status_code == 200


def test_flower_finds_a_job_by_its_id_with_endpoint_and_job_in_its_arguments(api, flower):
    job_id, task = seen_by_flower(api, flower)
    assert task["name"] == "jobgate.run_job" and task["uuid"] == job_id
    assert task["args"] == repr(("echo", job_id))
    assert task["worker"].startswith("test-worker@")


def test_flower_remembers_tasks_across_a_restart(api, flower):
    job_id, _ = seen_by_flower(api, flower)
    flower.stop()
    flower.start()
    task = flower.task(job_id)
    assert task and task["state"] == "SUCCESS" and task["name"] == "jobgate.run_job"


def test_flower_refuses_to_start_without_auth_even_on_loopback(settings):
    env = service_env(settings, FLOWER_ADDRESS="127.0.0.1", FLOWER_PORT=str(free_port()))
    env.pop("FLOWER_BASIC_AUTH", None)
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "flower"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode != 0 and "FLOWER_BASIC_AUTH" in r.stderr
