"""The pure core: settings, endpoints, job states and records, limits, and the wire contract.

Nothing here imports Redis, Flask or Celery: the store, the gateway, the workers and the
client all build on it, and it builds on nothing of theirs.
"""
