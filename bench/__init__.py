"""Benchmarks: each figure printed beside its raw-Celery baseline, measured in the same run."""
