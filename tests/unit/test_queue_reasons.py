"""The reason a queued job waits, from its place and its endpoint's worker states (pure)."""

from app.core.queueing import LOW_LANE_SCORE, QueuePlace, waiting_score, why_waiting

PLACE = QueuePlace(position=4, normal=3, waiting=5)


def reason(states, low=False, place=PLACE):
    return why_waiting("llm", place, low, states)


def test_no_live_worker():
    assert reason([]) == {"position": 4, "reason": "no_worker", "detail": "no worker serves endpoint 'llm'"}


def test_the_handler_failed_on_every_worker():
    r = reason(["unhealthy", "unhealthy"])
    assert r["reason"] == "handler_failed" and "(2)" in r["detail"]


def test_every_worker_busy_with_this_endpoint():
    assert reason(["running", "running", "unhealthy"])["detail"] == "every worker serving it is busy (2 of 2)"


def test_workers_busy_with_other_endpoints():
    r = reason(["throttled", "throttled"])
    assert r["reason"] == "workers_busy_elsewhere" and "(2 of 2)" in r["detail"]


def test_workers_busy_with_both():
    r = reason(["running", "throttled"])
    assert r["reason"] == "workers_busy" and "1 with this endpoint, 1 with others" in r["detail"]


def test_the_low_lane_behind_normal_jobs_comes_before_busy_workers():
    r = reason(["running"], low=True)
    assert r["reason"] == "low_priority" and "behind 3 normal job(s)" in r["detail"]


def test_a_free_worker_means_it_is_about_to_start():
    assert reason(["idle", "running"])["reason"] == "starting"


def test_the_low_lane_sorts_after_any_normal_job():
    assert waiting_score(4_000_000_000_000, False) < waiting_score(0, True) == LOW_LANE_SCORE
