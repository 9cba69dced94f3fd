"""Lua scripts: every job state transition is one atomic script, kept as a ``.lua`` file.

A transition checks the state it starts from, so two actors racing (a worker finishing
while /cancel arrives, a late progress update) cannot both win. Each script names its
KEYS and ARGV as locals at the top, and every key it touches comes in KEYS. Shared Lua
functions live in ``lua/_<name>.lua`` and are prepended to the scripts whose header says
``-- uses: <name>, ...``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from redis import Redis
from redis.commands.core import Script

LUA_DIR = Path(__file__).resolve().with_name("lua")
_USES = re.compile(r"^-- uses: ([\w, ]+)$", re.MULTILINE)


@cache
def source(name: str) -> str:
    """The script ``name`` with the shared functions it uses prepended."""
    text = (LUA_DIR / f"{name}.lua").read_text()
    uses = _USES.search(text)
    libs = [part.strip() for part in uses.group(1).split(",")] if uses else []
    return "".join((LUA_DIR / f"_{lib}.lua").read_text() for lib in libs) + text


def names() -> list[str]:
    """Every script's name (the shared function files excluded)."""
    return sorted(p.stem for p in LUA_DIR.glob("*.lua") if not p.stem.startswith("_"))


class Scripts:
    """The scripts registered on one Redis client; registering sends nothing."""

    def __init__(self, redis: Redis):
        self._redis = redis
        self._scripts: dict[str, Script] = {}

    def __getitem__(self, name: str) -> Script:
        script = self._scripts.get(name)
        if script is None:
            script = self._scripts[name] = self._redis.register_script(source(name))
        return script
