"""What a handler produces, checked where it is produced: strict JSON, within the caps.

An output, a stream chunk, a progress value or an error object that cannot be stored as
strict JSON (bytes, a set, NaN, nesting past JOBGATE_JSON_MAX_DEPTH, an output past
JOBGATE_MAX_OUTPUT_BYTES) fails its job at once with RunPod's error shape, ``error_type``
OutputNotJSON or OutputTooLarge. The task then returns normally: Celery acknowledges the
message and nothing runs the handler again for a bug in what it returned.
"""

from __future__ import annotations

import socket
from typing import Any

from app.core.job import error_text
from app.core.settings import Settings
from app.core.strictjson import JSONLimits, JSONRefused, JSONTooLarge, RawJSON, encode

OUTPUT_NOT_JSON = "OutputNotJSON"
OUTPUT_TOO_LARGE = "OutputTooLarge"


def runpod_error(error_type: str, message: str, worker_id: str) -> str:
    """RunPod's error text for a failed handler: a JSON string /status shows as ``error``."""
    return error_text(error_type, message, hostname=socket.gethostname(), worker_id=worker_id)


class OutputRefused(Exception):
    """Something the handler produced cannot be stored; its job fails with this error."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type
        self.message = message

    def error(self, worker_id: str) -> str:
        return runpod_error(self.error_type, self.message, worker_id)


def refusal(exc: JSONRefused, what: str) -> OutputRefused:
    """The job's error for ``what`` (``output``, ``stream chunk``...) refused by the encoder."""
    if isinstance(exc, JSONTooLarge):
        return OutputRefused(
            OUTPUT_TOO_LARGE,
            f"{exc} (JOBGATE_MAX_OUTPUT_BYTES); store large results elsewhere (S3) and return their address",
        )
    return OutputRefused(OUTPUT_NOT_JSON, f"{what} is not JSON: {exc}")


class OutputChecker:
    """Encodes what a handler produces under the settings' limits, or raises OutputRefused."""

    def __init__(self, settings: Settings):
        self.limits = JSONLimits(max_depth=settings.json_max_depth)
        self.max_output_bytes = settings.max_output_bytes

    def _encode(self, value: Any, root: str, what: str, max_bytes: int = 0) -> RawJSON:
        try:
            return RawJSON(encode(value, root=root, limits=self.limits, max_bytes=max_bytes))
        except JSONRefused as exc:
            raise refusal(exc, what) from None

    def output(self, value: Any) -> RawJSON:
        """A job's output (capped at JOBGATE_MAX_OUTPUT_BYTES)."""
        return self._encode(value, "output", "output", self.max_output_bytes)

    def chunk(self, value: Any, index: int) -> RawJSON:
        """Stream chunk number ``index`` (its 1 MiB cap is the job store's)."""
        return self._encode(value, f"chunk[{index}]", "stream chunk")

    def progress(self, value: Any) -> RawJSON:
        """A progress_update value."""
        return self._encode(value, "progress", "progress value", self.max_output_bytes)
