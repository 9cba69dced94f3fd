"""Strict JSON (RFC 8259) for what enters and leaves jobgate: request bodies, handler outputs.

Python's ``json`` accepts and writes ``NaN`` and ``Infinity``, recurses once per nesting level
(a deep body is a RecursionError) and refuses integers past 4,300 digits with a ValueError.
Here every such case is a ``JSONRefused`` whose message says what and where, so the gateway
answers a 400 and a worker fails the job, instead of a 500 or a job stuck half-recorded.
"""

from __future__ import annotations

import json
import math
import re
import sys
from array import array
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

# Nesting levels a body or an output may have (arrays and objects).
DEFAULT_MAX_DEPTH = 1000
# Digits an integer may have: Python's own limit on converting text to int and back
# (sys.get_int_max_str_digits(), 4,300), which also keeps that conversion linear.
MAX_INT_DIGITS = 4300
# Python frames the gateway or a worker may already use below a decode or an encode.
_STACK_MARGIN = 1000
# The depth scan keeps only brackets and quotes.
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')
_DEPTH_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
# A path longer than this many parts on each end is shown shortened.
_PATH_PARTS_SHOWN = 6


class JSONRefused(ValueError):
    """A text or a value that is not strict JSON within the limits; the message says why and where."""


class JSONTooLarge(JSONRefused):
    """A value whose encoding is over the byte cap it was encoded under."""

    def __init__(self, message: str, size: int, cap: int):
        super().__init__(message)
        self.size = size
        self.cap = cap


@dataclass(frozen=True)
class JSONLimits:
    """How deep JSON may nest (JOBGATE_JSON_MAX_DEPTH) and how many digits an integer may have."""

    max_depth: int = DEFAULT_MAX_DEPTH
    max_int_digits: int = MAX_INT_DIGITS


def ensure_headroom(limits: JSONLimits) -> None:
    """Raise the interpreter's recursion limit so that JSON ``max_depth`` deep parses and prints.

    ``json``'s C code counts one recursion level per nesting level; the default limit (1,000)
    would fail a body at the nesting limit. Only ever raised, so concurrent callers agree.
    """
    needed = limits.max_depth + _STACK_MARGIN
    if sys.getrecursionlimit() < needed:
        sys.setrecursionlimit(needed)


# -- decoding ----------------------------------------------------------------------------


def decode(data: bytes | str, limits: JSONLimits = JSONLimits()) -> Any:
    """Parse ``data`` (UTF-8 bytes or text) as strict JSON; JSONRefused says what is wrong."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JSONRefused(f"not UTF-8 (byte {exc.start})") from None
    if depth_of(raw, limits.max_depth) > limits.max_depth:
        raise JSONRefused(f"nested deeper than {limits.max_depth} levels")
    ensure_headroom(limits)
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_parse_finite_float)
    except json.JSONDecodeError as exc:
        # Some of json's messages end in "at" themselves ("Invalid control character at").
        what = exc.msg.removesuffix(" at")
        raise JSONRefused(f"malformed JSON ({what} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:
        if "integer string conversion" in str(exc):
            raise JSONRefused(f"an integer of more than {MAX_INT_DIGITS} digits") from None
        raise
    except RecursionError:  # only if the stack was already deep
        raise JSONRefused(f"nested deeper than {limits.max_depth} levels") from None


def depth_of(raw: bytes, at_most: int = 0) -> int:
    """How deep the arrays and objects of the JSON text ``raw`` nest (0 for a scalar).

    With ``at_most``, a text with no more brackets than that answers 0 without a scan.
    Bytes-level, no Python loop: escapes dropped, then string contents, then the brackets'
    running sum. On malformed JSON the answer means nothing (the parser refuses it).
    """
    if at_most and raw.count(b"[") + raw.count(b"{") <= at_most:
        return 0
    # Escaped backslashes first, so that the quote of "a\\" still closes its string.
    reduced = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    # "" is an empty string or two strings with no bracket between: neither counts.
    reduced = reduced.replace(b'""', b"")
    if b'"' in reduced:
        reduced = b"".join(reduced.split(b'"')[::2])
    return max(accumulate(array("b", reduced.translate(_DEPTH_STEP))), default=0)


def _refuse_constant(name: str) -> Any:
    raise JSONRefused(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")


def _parse_finite_float(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):
        raise JSONRefused(f"the number {_shorten(literal)} is out of range (over ±1.8e308)")
    return value


# -- encoding ----------------------------------------------------------------------------


def encode(value: Any, *, root: str = "output", limits: JSONLimits = JSONLimits(), max_bytes: int = 0) -> str:
    """``value`` as compact strict JSON (ASCII); JSONRefused names the first bad part from ``root``.

    ``max_bytes`` (0: none) caps the encoding's size: JSONTooLarge names the size and the cap.
    """
    ensure_headroom(limits)
    try:
        text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise JSONRefused(find_problem(value, root, limits) or f"{exc} at {root}") from None
    if depth_of(text.encode(), limits.max_depth) > limits.max_depth or _has_long_int(text, limits):
        problem = find_problem(value, root, limits)
        if problem is not None:
            raise JSONRefused(problem)
    # ASCII: one character is one byte.
    if max_bytes and len(text) > max_bytes:
        message = f"{root} is {len(text)} bytes as JSON, over the cap of {max_bytes} bytes"
        raise JSONTooLarge(message, len(text), max_bytes)
    return text


def _has_long_int(text: str, limits: JSONLimits) -> bool:
    # Longer integers than Python's limit already failed to encode.
    return limits.max_int_digits < MAX_INT_DIGITS and re.search(rf"\d{{{limits.max_int_digits + 1}}}", text) is not None


_EXIT = object()


def find_problem(value: Any, root: str = "output", limits: JSONLimits = JSONLimits()) -> str | None:
    """Why ``value`` is not strict JSON within ``limits``, naming the path; None when it is.

    Walks without recursion, in the order ``json.dumps`` writes, so the first problem found is
    the one that stopped the encoder.
    """
    stack: list[Any] = [(value, (), 0)]
    on_path: set[int] = set()
    while stack:
        item = stack.pop()
        if item[0] is _EXIT:
            on_path.discard(item[1])
            continue
        node, path, depth = item
        problem = _leaf_problem(node, limits)
        if problem is not None:
            return f"{problem} at {_show(root, path)}"
        if not isinstance(node, (dict, list, tuple)):
            continue
        if depth + 1 > limits.max_depth:
            return f"nested deeper than {limits.max_depth} levels at {_show(root, path)}"
        if id(node) in on_path:
            return f"circular reference at {_show(root, path)}"
        on_path.add(id(node))
        stack.append((_EXIT, id(node)))
        children: list[tuple[Any, Any]] = []
        if isinstance(node, dict):
            for key, child in node.items():
                key_problem = _key_problem(key, limits)
                if key_problem is not None:
                    return f"{key_problem} at {_show(root, path)}"
                children.append((key, child))
        else:
            children = list(enumerate(node))
        for key, child in reversed(children):
            stack.append((child, (*path, key), depth + 1))
    return None


def _leaf_problem(node: Any, limits: JSONLimits) -> str | None:
    if node is None or isinstance(node, (str, bool, dict, list, tuple)):
        return None
    if isinstance(node, int):
        digits = _int_digits(node)
        if digits > limits.max_int_digits:
            return f"an integer of {digits} digits is over the limit of {limits.max_int_digits} digits"
        return None
    if isinstance(node, float):
        return None if math.isfinite(node) else f"the float {node!r} is not JSON (RFC 8259 has no NaN or Infinity)"
    return f"Object of type {type(node).__name__} is not JSON serializable"


def _int_digits(number: int) -> int:
    # str() of a huge int raises past Python's own limit; bit_length estimates instead.
    magnitude = abs(number)
    if magnitude.bit_length() > 13_000:
        return int(magnitude.bit_length() * math.log10(2)) + 1
    return len(str(magnitude))


def _key_problem(key: Any, limits: JSONLimits) -> str | None:
    if isinstance(key, (str, bool)) or key is None:
        return None
    if isinstance(key, int):
        digits = _int_digits(key)
        return None if digits <= limits.max_int_digits else f"an integer key of {digits} digits"
    if isinstance(key, float):
        return None if math.isfinite(key) else f"the key {key!r} is not JSON"
    return f"keys must be str, int, float, bool or None, not {type(key).__name__}"


def _show(root: str, path: tuple[Any, ...]) -> str:
    """``output['x'][3]``; a very long path keeps its ends and says how much is left out."""
    parts = [f"[{key!r}]" if isinstance(key, str) else f"[{key}]" for key in path]
    if len(parts) > 2 * _PATH_PARTS_SHOWN:
        half = _PATH_PARTS_SHOWN
        left_out = len(parts) - 2 * half
        return f"{root}{''.join(parts[:half])}...({left_out} more)...{''.join(parts[-half:])}"
    return root + "".join(parts)


def _shorten(literal: str, keep: int = 20) -> str:
    return literal if len(literal) <= keep else f"{literal[:keep]}..."


class RawJSON(str):
    """JSON text already encoded and checked (by ``encode``): stored as it is, not encoded again."""


def dump(value: Any, *, root: str, limits: JSONLimits = JSONLimits()) -> str:
    """``value`` as strict JSON text; a RawJSON is taken as it is."""
    return value if isinstance(value, RawJSON) else encode(value, root=root, limits=limits)
