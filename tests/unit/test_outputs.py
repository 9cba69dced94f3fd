"""What a handler produces is encoded strictly, and a refusal is RunPod's error naming the problem."""

from __future__ import annotations

import json
import math

import pytest

from app.core.settings import Settings
from app.core.strictjson import RawJSON
from workers.outputs import OUTPUT_NOT_JSON, OUTPUT_TOO_LARGE, OutputChecker, OutputRefused

CHECKER = OutputChecker(Settings(max_output_bytes=100, json_max_depth=10))


def test_an_output_is_encoded_once_as_raw_json():
    encoded = CHECKER.output({"a": [1, "é"]})
    assert isinstance(encoded, RawJSON) and json.loads(encoded) == {"a": [1, "é"]}


@pytest.mark.parametrize(
    "produce, error_type, message",
    [
        (lambda c: c.output({"x": b""}), OUTPUT_NOT_JSON, "output is not JSON: Object of type bytes"),
        (lambda c: c.chunk([math.nan], 3), OUTPUT_NOT_JSON, "stream chunk is not JSON: the float nan"),
        (lambda c: c.progress({"p": {1}}), OUTPUT_NOT_JSON, "progress value is not JSON: Object of type set"),
        (lambda c: c.output([[[[[[[[[[[]]]]]]]]]]]), OUTPUT_NOT_JSON, "nested deeper than 10 levels"),
        (lambda c: c.output("x" * 200), OUTPUT_TOO_LARGE, "output is 202 bytes as JSON, over the cap of 100 bytes"),
    ],
)
def test_a_refusal_names_what_and_where(produce, error_type, message):
    with pytest.raises(OutputRefused) as refused:
        produce(CHECKER)
    assert refused.value.error_type == error_type
    assert message in refused.value.message


def test_a_refusal_renders_as_runpod_s_error_shape():
    with pytest.raises(OutputRefused) as refused:
        CHECKER.output({"x": b""})
    error = json.loads(refused.value.error("w-1"))
    assert error["error_type"] == "OutputNotJSON" and error["worker_id"] == "w-1"
    assert error["error_message"].endswith("at output['x']")


def test_a_chunk_has_no_output_cap_of_its_own():
    assert json.loads(CHECKER.chunk("x" * 200, 0)) == "x" * 200
