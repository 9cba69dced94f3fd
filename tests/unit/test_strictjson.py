import json
import math

import pytest

from app.core.strictjson import JSONLimits, JSONRefused, JSONTooLarge, decode, depth_of, encode, find_problem

LIMITS = JSONLimits(max_depth=1000)


def deep(levels, leaf=None):
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def test_decode_accepts_plain_json():
    assert decode(b'{"input": {"a": [1, 2.5, "x", null, true]}}') == {"input": {"a": [1, 2.5, "x", None, True]}}


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_decode_refuses_nan_and_infinity(literal):
    with pytest.raises(JSONRefused, match="no NaN or Infinity"):
        decode(f'{{"input": {{"x": {literal}}}}}')


def test_decode_refuses_a_float_that_overflows_to_infinity():
    with pytest.raises(JSONRefused, match="out of range"):
        decode('{"input": 1e400}')


def test_decode_accepts_nesting_at_the_limit():
    text = '{"input": ' + "[" * 999 + "]" * 999 + "}"
    assert decode(text, LIMITS)["input"] == deep(998, [])


def test_decode_refuses_nesting_past_the_limit():
    text = '{"input": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(JSONRefused, match="nested deeper than 1000 levels"):
        decode(text, LIMITS)


def test_decode_ignores_brackets_inside_strings():
    text = json.dumps({"input": "[" * 5000 + '\\"{' * 100})
    assert decode(text, LIMITS)["input"].startswith("[[[")


def test_decode_refuses_an_integer_past_the_digit_limit():
    with pytest.raises(JSONRefused, match="integer of more than 4300 digits"):
        decode('{"input": ' + "9" * 5000 + "}", LIMITS)


def test_decode_accepts_an_integer_at_the_digit_limit():
    assert decode("-" + "9" * 4300, LIMITS) == -int("9" * 4300)


def test_decode_accepts_long_digit_runs_inside_strings():
    assert decode(json.dumps({"s": "1" * 5000}), LIMITS) == {"s": "1" * 5000}


def test_decode_refuses_invalid_utf8():
    with pytest.raises(JSONRefused, match="not UTF-8"):
        decode(b'{"input": "\xed\xa0\x80"}')


def test_decode_refuses_a_raw_control_character_in_a_string():
    with pytest.raises(JSONRefused, match="malformed JSON"):
        decode(b'{"input": "a\x00b"}')


def test_decode_keeps_escaped_nul_and_lone_surrogates():
    assert decode(r'{"a": "\u0000", "b": "\ud800"}') == {"a": "\x00", "b": "\ud800"}


def test_decode_names_where_malformed_json_breaks():
    with pytest.raises(JSONRefused, match=r"malformed JSON \(Expecting .* line 1 column 11\)"):
        decode('{"input": }')


def test_encode_round_trips_strictly():
    value = {"a": [1, 2.5, None, True, "é\ud800"], "b": {"c": "x" * 10}}
    text = encode(value)
    assert json.loads(text, parse_constant=lambda c: pytest.fail(c)) == value
    assert text.isascii()


def test_encode_names_the_path_of_bytes():
    with pytest.raises(JSONRefused) as refused:
        encode({"x": [0, 1, 2, b"abc"]})
    assert str(refused.value) == "Object of type bytes is not JSON serializable at output['x'][3]"


@pytest.mark.parametrize(
    "value, message",
    [
        ({"x": {1, 2}}, "Object of type set is not JSON serializable at output['x']"),
        (object(), "Object of type object is not JSON serializable at output"),
        ({"loss": math.nan}, "the float nan is not JSON (RFC 8259 has no NaN or Infinity) at output['loss']"),
        ([math.inf], "the float inf is not JSON (RFC 8259 has no NaN or Infinity) at output[0]"),
        ({"n": 10**5000}, "an integer of 5001 digits is over the limit of 4300 digits at output['n']"),
        ({(1, 2): "x"}, "keys must be str, int, float, bool or None, not tuple at output"),
    ],
)
def test_encode_refuses_what_is_not_strict_json(value, message):
    with pytest.raises(JSONRefused) as refused:
        encode(value, limits=LIMITS)
    assert str(refused.value) == message


def test_encode_refuses_nesting_past_the_limit_and_shortens_the_path():
    with pytest.raises(JSONRefused) as refused:
        encode(deep(5000), limits=LIMITS)
    assert str(refused.value) == (
        "nested deeper than 1000 levels at output[0][0][0][0][0][0]...(988 more)...[0][0][0][0][0][0]"
    )


def test_encode_accepts_nesting_at_the_limit():
    assert encode(deep(1000), limits=LIMITS).count("[") == 1000


def test_encode_names_a_circular_reference():
    loop: dict = {"a": {}}
    loop["a"]["b"] = loop
    with pytest.raises(JSONRefused, match=r"circular reference at output\['a'\]\['b'\]"):
        encode(loop, limits=LIMITS)


def test_encode_uses_the_root_name_given():
    with pytest.raises(JSONRefused, match=r"at chunk\[4\]\['t'\]"):
        encode({"t": b""}, root="chunk[4]")


def test_encode_caps_the_size_naming_size_and_cap():
    with pytest.raises(JSONTooLarge) as refused:
        encode("x" * 100, max_bytes=50)
    assert refused.value.size == 102 and refused.value.cap == 50
    assert str(refused.value) == "output is 102 bytes as JSON, over the cap of 50 bytes"


def test_encode_checks_a_lower_integer_limit_when_given():
    with pytest.raises(JSONRefused, match=r"1501 digits is over the limit of 1000 digits at output\['n'\]"):
        encode({"n": 10**1500}, limits=JSONLimits(max_int_digits=1000))


@pytest.mark.parametrize(
    "text, depth",
    [
        ("1", 0),
        ('"[[["', 0),
        ("[[], {}]", 2),
        ('{"a": "[[[\\\\\\"{{", "b": ["\\u005b\\\\", [["]]]"]]]}', 4),
        ('["\\\\", ["]"]]', 2),
        ('["", "[", "]", [[]]]', 3),
        ("[" * 3000 + "]" * 3000, 3000),
    ],
)
def test_depth_of_counts_brackets_outside_strings(text, depth):
    assert depth_of(text.encode()) == depth


def test_find_problem_is_none_for_strict_json():
    assert find_problem({"a": [1, {"b": None}]}) is None
