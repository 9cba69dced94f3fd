"""The OpenAI-compatible routes under ``/v2/<endpoint_id>/openai/v1/``: each call is a job.

Point the official ``openai`` client's ``base_url`` here. Without ``stream`` the call
waits for its job and answers the handler's output; with ``"stream": true`` it relays
the handler's chunks as server-sent events while they are produced. Every error on
these routes, the gateway's own included, is in OpenAI's shape.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Generator, Iterator
from typing import Any

import flask
from flask import current_app, request
from marshmallow import INCLUDE, Schema, fields

from ...core.errors import NotFound
from ...core.job import Job
from ...core.limits import Operation
from ...core.states import JobStatus
from ..blueprint import Blueprint
from ..gateway import Gateway, current_gateway
from ..openai_compat import DONE_EVENT, error_body, job_error, job_input, not_openai, response_body, sse_events
from ..schemas import StrictBoolean
from ..waiting import IDLE_S, Update, follow_chunks


class OpenAIBlueprint(Blueprint):
    """Documents every error of its routes in OpenAI's shape instead of jobgate's."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._prepare_openai_errors_doc)

    @staticmethod
    def _prepare_openai_errors_doc(doc: dict[str, Any], doc_info: Any, **_: Any) -> dict[str, Any]:
        for status in doc.get("responses", {}):
            if str(status) == "default" or str(status)[0] in "45":
                doc["responses"][status] = {
                    "description": "Error, in OpenAI's shape",
                    "content": {"application/json": {"schema": OpenAIErrorSchema}},
                }
        return doc


_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class OpenAIRequestSchema(Schema):
    """An OpenAI request body: checked where jobgate reads it, forwarded whole to the handler."""

    class Meta:
        unknown = INCLUDE

    model = fields.String(metadata={"description": "Model name, as the handler knows it"})
    stream = StrictBoolean(metadata={"description": "Relay chunks as text/event-stream"})


class ChatCompletionRequestSchema(OpenAIRequestSchema):
    messages = fields.List(fields.Dict(), required=True, metadata={"description": "The conversation"})


class CompletionRequestSchema(OpenAIRequestSchema):
    prompt = fields.Raw(required=True, metadata={"description": "A prompt, or a list of prompts"})


class OpenAIErrorDetailSchema(Schema):
    message = fields.String(required=True)
    type = fields.String(required=True)
    param = fields.String(allow_none=True)
    code = fields.Raw(allow_none=True, metadata={"description": "HTTP status, or the handler's code"})


class OpenAIErrorSchema(Schema):
    error = fields.Nested(OpenAIErrorDetailSchema, required=True)


log = logging.getLogger(__name__)

blp = OpenAIBlueprint(
    "openai",
    __name__,
    url_prefix="/v2/<endpoint_id>/openai",
    description="OpenAI-compatible calls, each run as a job on the endpoint's queue",
)

ANY_JSON = {"anyOf": [{"type": t} for t in ("object", "array", "string", "number", "boolean")], "nullable": True}
# One server-sent event, as OpenAPI before 3.2 describes an event stream: the schema of each
# event (its fields as the SSE format names them), not of the stream as a whole.
SSE_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "description": "A chunk as JSON (as the handler shaped it), or `[DONE]` last"},
        "event": {"type": "string", "description": "Always `message`"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}
_ANSWER = {
    "200": {
        "description": "The handler's output as the body, as the handler shaped it; with `stream`, "
        "its chunks as server-sent events ending with `data: [DONE]`",
        # Any JSON: the body is exactly what the handler returned.
        "content": {"application/json": {"schema": ANY_JSON}, "text/event-stream": {"schema": SSE_EVENT}},
    },
    # Rendered in OpenAI's error shape by OpenAIBlueprint.
    "502": {"description": "The handler's answer is not an OpenAI response body (not an OpenAI-compatible endpoint)"},
}


def _json(body: Any, status: int, job_id: str | None = None) -> flask.Response:
    # json.dumps rather than jsonify: the handler's key order is kept as it shaped it.
    response = current_app.response_class(json.dumps(body), status=status, mimetype="application/json")
    if job_id:
        response.headers["X-Request-Id"] = job_id
    return response


@blp.after_app_request
def openai_error_shape(response: flask.Response) -> flask.Response:
    """Render the gateway's own errors under /openai/ (key, endpoint, route, body, limits) in OpenAI's shape."""
    if "/openai/" not in request.path:
        return response
    if response.status_code >= 400 and response.is_json and not response.is_streamed:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            fields_ = body.get("errors")
            param = next(iter(fields_)) if isinstance(fields_, dict) and fields_ else None
            response.set_data(json.dumps(error_body(body["error"], response.status_code, param=param)))
    return response


def _call(endpoint_id: str, route: str, body: Any, stream: bool) -> flask.Response:
    g = current_gateway()
    job = g.dispatcher.submit(g.endpoint(endpoint_id), {"input": job_input(route, body)}, sync=True)
    if stream:
        return _stream(g, job)
    wait_ms = g.settings.openai_wait_ms
    job = g.wait_for(job.endpoint, job.id, wait_ms)
    if not job.status.is_terminal():
        return _gave_up(g, job)
    if job.status is JobStatus.COMPLETED:
        answer = response_body(job.output)
        problem = not_openai(route, answer)
        if problem is not None:
            # A 200 would hand the client a body whose fields are all None: a bad gateway, said plainly.
            return _json(error_body(problem, 502), 502, job.id)
        return _json(answer, 200, job.id)
    return _json(*job_error(job), job.id)


def _gave_up(g: Gateway, job: Job) -> flask.Response:
    # Nobody will read this job's answer: stop it rather than let it hold a worker.
    g.dispatcher.cancel(job)
    message = f"no answer from the endpoint within {g.settings.openai_wait_ms} ms"
    return _json(error_body(message, 504), 504, job.id)


def _stream(g: Gateway, job: Job) -> flask.Response:
    """Wait for the first chunks (or the end), then relay the rest as they come."""
    wait_s = g.settings.openai_wait_ms / 1000
    deadline = time.monotonic() + wait_s
    updates = follow_chunks(g.store, g.waiter, job.id, idle_s=min(IDLE_S, wait_s))
    first: Update | None = None
    for update in updates:
        if update.chunks or update.ended:
            first = update
            break
        if time.monotonic() >= deadline:
            break
    if first is None:
        updates.close()
        return _gave_up(g, job)
    if not first.chunks:
        # Ended before streaming anything: a failure still gets its HTTP status.
        updates.close()
        final = g.store.get(job.id)
        if final is None:
            raise NotFound(f"job {job.id} expired before it answered")
        if final.status is not JobStatus.COMPLETED:
            return _json(*job_error(final), job.id)
        output = response_body(final.output)
        first = Update([] if output in (None, []) else [output], final.status)
    response = current_app.response_class(
        _relay(g, job, first, updates), status=200, mimetype="text/event-stream", headers=_STREAM_HEADERS
    )
    response.headers["X-Request-Id"] = job.id
    return response


def _relay(g: Gateway, job: Job, update: Update, updates: Generator[Update, None, None]) -> Iterator[str]:
    ended = done_sent = False
    try:
        while True:
            for chunk in update.chunks:
                for event in sse_events(chunk):
                    # Text chunks may carry their own end line; JSON events cannot hold a raw newline.
                    done_sent = done_sent or "\ndata: [DONE]" in "\n" + event
                    yield event
            if update.ended:
                break
            if not update.chunks:
                yield ": keep-alive\n\n"
            update = next(updates)
        ended = True
        if update.status is JobStatus.COMPLETED:
            if not done_sent:
                yield DONE_EVENT
        else:
            final = g.store.get(job.id)
            body = job_error(final)[0] if final else error_body("the job expired", 404)
            yield f"data: {json.dumps(body)}\n\n"
    finally:
        updates.close()
        if not ended:
            # The caller went away mid-stream: stop generating for nobody.
            try:
                g.dispatcher.cancel(job)
            except Exception as exc:  # already unwinding; the job still ends by its time limit
                log.warning("could not cancel job %s after its caller left: %s", job.id, exc)


@blp.route("/v1/chat/completions", methods=["POST"])
@blp.operation(Operation.OPENAI)
@blp.arguments(ChatCompletionRequestSchema)
@blp.doc(responses=_ANSWER)
def openai_chat_completions(body: dict[str, Any], endpoint_id: str) -> flask.Response:
    """Chat completion: a job with input ``{"openai_route": "/v1/chat/completions", "openai_input": body}``."""
    return _call(endpoint_id, "/v1/chat/completions", body, bool(body.get("stream")))


@blp.route("/v1/completions", methods=["POST"])
@blp.operation(Operation.OPENAI)
@blp.arguments(CompletionRequestSchema)
@blp.doc(responses=_ANSWER)
def openai_completions(body: dict[str, Any], endpoint_id: str) -> flask.Response:
    """Text completion: a job with input ``{"openai_route": "/v1/completions", "openai_input": body}``."""
    return _call(endpoint_id, "/v1/completions", body, bool(body.get("stream")))


@blp.route("/v1/models", methods=["GET"])
@blp.operation(Operation.OPENAI)
@blp.doc(
    responses={
        "200": {
            "description": "The handler's models list, as it shaped it",
            "content": {"application/json": {"schema": ANY_JSON}},
        },
        "502": {"description": "The handler's answer is not an OpenAI models list"},
    }
)
def openai_models(endpoint_id: str) -> flask.Response:
    """Models list: a job with input ``{"openai_route": "/v1/models", "openai_input": null}``."""
    return _call(endpoint_id, "/v1/models", None, False)
