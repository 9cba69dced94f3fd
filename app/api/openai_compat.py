"""OpenAI's wire shapes: the job input for a call, the body from a job, errors, SSE events.

A call to ``/openai/v1/<route>`` becomes a job whose input is
``{"openai_route": "/v1/<route>", "openai_input": <body or null>}`` (as RunPod's vLLM
worker expects). Errors always take OpenAI's shape,
``{"error": {"message", "type", "param", "code"}}``, with an HTTP status the official
client maps to its usual exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..core.job import Job
from ..core.states import JobStatus

DONE_EVENT = "data: [DONE]\n\n"

_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
    504: "timeout_error",
}
# Error types (OpenAI's and vLLM's spellings) that say which status they stand for.
_STATUS_BY_TYPE = {
    "invalid_request_error": 400,
    "badrequesterror": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "notfounderror": 404,
    "conflict_error": 409,
    "rate_limit_error": 429,
    "ratelimiterror": 429,
}


def job_input(route: str, body: Any) -> dict[str, Any]:
    """The job input for an OpenAI call (``route`` like ``/v1/chat/completions``)."""
    return {"openai_route": route, "openai_input": body}


def error_body(
    message: str, status: int, *, type_: str | None = None, param: str | None = None, code: Any = None
) -> dict[str, Any]:
    """OpenAI's error shape; ``type`` defaults from the status, ``code`` to the status."""
    return {
        "error": {
            "message": message,
            "type": type_ or _TYPE_BY_STATUS.get(status, "server_error" if status >= 500 else "api_error"),
            "param": param,
            "code": status if code is None else code,
        }
    }


def response_body(output: Any) -> Any:
    """The HTTP body for a finished job: its output as the handler shaped it.

    A generator handler (vLLM's worker) yields the whole response as its one chunk,
    so a one-item list is that item; no OpenAI response body is a bare list.
    """
    if isinstance(output, list) and len(output) == 1:
        return output[0]
    return output


# What each route's answer must hold for OpenAI's clients (a list under this key).
_BODY_LIST = {"/v1/chat/completions": "choices", "/v1/completions": "choices", "/v1/models": "data"}


def not_openai(route: str, body: Any) -> str | None:
    """Why ``body`` is not an OpenAI answer to ``route`` (say, an endpoint that is not OpenAI-compatible), or None."""
    key = _BODY_LIST.get(route)
    if key is None or (isinstance(body, dict) and isinstance(body.get(key), list)):
        return None
    return (
        f"the endpoint's handler answered {route} with something that is not an OpenAI response body "
        f"(it has no {key!r} list); this route needs an OpenAI-compatible handler, such as vLLM's worker"
    )


def _status_of(obj: dict[str, Any]) -> int:
    for name in ("code", "status", "status_code"):
        value = obj.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and 400 <= value <= 599:
            return value
    return _STATUS_BY_TYPE.get(str(obj.get("type", "")).lower(), 500)


def job_error(job: Job) -> tuple[dict[str, Any], int]:
    """OpenAI's error body and HTTP status for a job that did not complete."""
    if job.status is JobStatus.TIMED_OUT:
        return error_body(job.error or "the job timed out", 504), 504
    if job.status is JobStatus.CANCELLED:
        return error_body("the job was cancelled", 500), 500
    text = job.error or "the job failed"
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        parsed = parsed["error"]
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        # The handler answered with an OpenAI (or vLLM) error object: keep it as it is.
        status = _status_of(parsed)
        body = error_body(
            parsed["message"], status, type_=parsed.get("type"), param=parsed.get("param"), code=parsed.get("code")
        )
        return body, status
    if isinstance(parsed, dict) and "error_message" in parsed:
        # An exception in the handler (RunPod's error JSON).
        message = f"{parsed.get('error_type', 'Error')}: {parsed['error_message']}"
        return error_body(message, 500), 500
    return error_body(text, 500), 500


def sse_events(chunk: Any) -> Iterator[str]:
    """Server-sent events for one chunk.

    Text is relayed as it is (vLLM's worker yields ready-made ``data: ...`` lines);
    a list is a batch of chunks; anything else is one ``data:`` event of JSON.
    """
    if isinstance(chunk, str):
        yield chunk
    elif isinstance(chunk, list):
        for item in chunk:
            yield from sse_events(item)
    else:
        yield f"data: {json.dumps(chunk, separators=(',', ':'))}\n\n"
