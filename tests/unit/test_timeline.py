"""Percentiles of the console's plots, from histogram bucket counts (app/store/timeline.py)."""

import pytest

from app.store.metrics import DELAY_BUCKETS_S
from app.store.timeline import quantile


def test_an_empty_histogram_has_no_percentile():
    assert quantile(0.5, DELAY_BUCKETS_S, {}) is None


def test_a_percentile_is_interpolated_within_its_bucket():
    # 10 observations in (0.05, 0.1]: the median lies halfway through that bucket.
    assert quantile(0.5, DELAY_BUCKETS_S, {"0.1": 10}) == pytest.approx(0.075)


def test_the_95th_percentile_falls_in_the_upper_bucket():
    assert quantile(0.95, DELAY_BUCKETS_S, {"0.1": 10, "1.0": 10}) == 0.95


def test_past_the_last_bound_the_answer_is_that_bound():
    assert quantile(0.5, DELAY_BUCKETS_S, {"+Inf": 3}) == DELAY_BUCKETS_S[-1]
