"""RunPod's concurrency_modifier: asked before more work is taken; its answer applies at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import start_worker, stop, wait_until

E = "rp-modifier"  # max_concurrency = 6 caps the modifier


@pytest.fixture(scope="module")
def modifier_worker(settings, redis, tmp_path_factory) -> Iterator[dict[str, Any]]:
    pytest.importorskip("runpod")
    folder = tmp_path_factory.mktemp("modifier")
    answer = folder / "concurrency"
    answer.write_text("2")
    log = folder / "worker.log"
    proc = start_worker(settings, redis, log, ["-e", E], "modifier-worker", 1, RP_MODIFIER_FILE=str(answer))
    yield {"answer": answer, "log": log}
    stop(proc)


def running(api) -> list[str]:
    return [j for w in api.get(f"/v2/{E}/workers").get_json()["workers"] for j in w["jobs"]]


def most_at_once(redis, ids: list[str]) -> int:
    spans = [tuple(map(int, redis.hmget(f"jg:job:{i}", "started", "finished"))) for i in ids]
    return max(sum(s <= start < f for s, f in spans) for start, _ in spans)


def set_answer(worker: dict[str, Any], text: str) -> None:
    Path(worker["answer"]).write_text(text)


def test_the_modifiers_answer_is_how_many_jobs_run_at_once(api, redis, modifier_worker):
    set_answer(modifier_worker, "2")
    ids = [api.run(E, {"sleep": 1}) for _ in range(4)]
    assert [api.wait(E, i)["status"] for i in ids] == ["COMPLETED"] * 4
    assert most_at_once(redis, ids) == 2


def test_a_new_answer_applies_while_jobs_run(api, modifier_worker):
    set_answer(modifier_worker, "1")
    api.post(f"/v2/{E}/runsync", json={"input": {"sleep": 0}})  # asked again as that job ended
    ids = [api.run(E, {"sleep": 4}) for _ in range(5)]
    assert wait_until(lambda: len(running(api)) == 1, 15)
    set_answer(modifier_worker, "4")  # RunPod would wait until the worker is idle
    assert wait_until(lambda: len(running(api)) == 4, 5)
    for job_id in ids:
        api.wait(E, job_id)


def test_max_concurrency_caps_the_answer(api, redis, modifier_worker):
    set_answer(modifier_worker, "50")
    ids = [api.run(E, {"sleep": 1}) for _ in range(8)]
    for job_id in ids:
        api.wait(E, job_id)
    assert most_at_once(redis, ids) == 6
    assert "max_concurrency = 6 in the endpoints file caps it" in Path(modifier_worker["log"]).read_text()


def test_a_modifier_that_raises_is_logged_and_the_previous_value_kept(api, redis, modifier_worker):
    set_answer(modifier_worker, "3")
    api.post(f"/v2/{E}/runsync", json={"input": {"sleep": 0}})  # the worker has asked since
    set_answer(modifier_worker, "raise")
    ids = [api.run(E, {"sleep": 1}) for _ in range(6)]
    assert [api.wait(E, i)["status"] for i in ids] == ["COMPLETED"] * 6
    assert most_at_once(redis, ids) == 3
    assert "concurrency_modifier failed (modifier broken)" in Path(modifier_worker["log"]).read_text()
