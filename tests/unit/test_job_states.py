"""A job's states: RunPod's wire names, and which of them end a job."""

from __future__ import annotations

from app.core.states import JobStatus


def test_states_are_the_runpod_wire_names():
    assert [s.value for s in JobStatus] == ["IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]
    assert {s for s in JobStatus if s.is_terminal()} == {
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.TIMED_OUT,
    }
