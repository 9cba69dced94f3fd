"""The Redis layer: key names, Lua transitions, the job store, heartbeats, keys, limits, the broker layout.

It builds on ``app.core`` only; the gateway and the workers both build on it.
"""
