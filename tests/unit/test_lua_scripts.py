"""The Lua transitions: one file each, arguments named up front, every key passed in KEYS."""

from __future__ import annotations

import re

import pytest

from app.store import scripts

# A key built inside a script from a prefix and a value (``ARGV[2] .. id``) hides it from KEYS.
BUILT_KEY = re.compile(r"redis\.call\('\w+',\s*[^,)]*\.\.")


@pytest.mark.parametrize("name", scripts.names())
def test_a_script_names_its_keys_and_arguments_before_it_acts(name):
    body = (scripts.LUA_DIR / f"{name}.lua").read_text()
    first_call = body.index("redis.call")
    head = body[:first_call]
    assert "KEYS[1]" in head, f"{name}.lua: KEYS are not named before the first call"
    assert re.search(r"^--", body, re.MULTILINE), f"{name}.lua says nothing of what it does"


@pytest.mark.parametrize("name", scripts.names())
def test_a_script_builds_no_key_name(name):
    assert not BUILT_KEY.search(scripts.source(name)), f"{name}.lua builds a key name: pass it in KEYS"


def test_shared_functions_are_prepended_where_a_script_uses_them():
    assert "local function extend" in scripts.source("finish")
    assert "local function extend" not in scripts.source("progress")


def test_every_script_the_store_uses_exists():
    assert {
        "create",
        "start",
        "finish",
        "progress",
        "retry",
        "retain",
        "purge",
        "push_chunk",
        "read_stream",
        "remove",
        "webhook_status",
        "requeue",
        "acquire_slot",
    } <= set(scripts.names())
