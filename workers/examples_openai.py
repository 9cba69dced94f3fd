"""``echo-openai``: an LLM-shaped example handler for the /openai/v1 routes.

It answers the way a vLLM-style worker does (same ids, objects, choices, usage,
finish reasons and delta chunks), so the official ``openai`` client parses it:
a chat completion repeats the last user message, a completion repeats its prompt,
and the models list holds one model, ``echo``. With ``"stream": true`` it returns
an async generator of chunks, one word at a time.

It is an ``async def`` handler, as vLLM's worker is, so that one process serves many
requests at once (``max_concurrency = 64`` in endpoints.toml). ``echo_delay_ms`` in the
request body (an extension; the openai client sends it with ``extra_body``) waits that long
before each streamed word, standing in for a model's decoding steps.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

MODEL = "echo"
# A word with the spaces before it; a trailing run of spaces is a piece of its own, so the
# pieces always join back to the exact text.
_WORD = re.compile(r"\s*\S+|\s+")


async def echo_openai(job: dict[str, Any]) -> Any:
    """Answer ``{"openai_route", "openai_input"}`` as an OpenAI-compatible server would."""
    data = job["input"] if isinstance(job["input"], dict) else {}
    route = data.get("openai_route")
    body = data.get("openai_input") or {}
    if route == "/v1/models":
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "jobgate"}]}
    if route not in ("/v1/chat/completions", "/v1/completions"):
        return _error(f"unknown route {route!r}", 404, "NotFoundError")
    if not isinstance(body, dict):
        return _error("the request body must be a JSON object", 400)
    if body.get("model") != MODEL:
        return _error(f"The model `{body.get('model')}` does not exist.", 404, "NotFoundError", param="model")
    if route == "/v1/chat/completions":
        text = _last_user_message(body.get("messages"))
        if text is None:
            return _error("messages must hold at least one user message with text content", 400, param="messages")
        prompt_words = sum(
            len(_WORD.findall(_content_text(m.get("content")))) for m in body["messages"] if isinstance(m, dict)
        )
        return _Reply(body, "chat", [text], prompt_words).answer()
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        return _error("prompt must be a string or a list of strings", 400, param="prompt")
    return _Reply(body, "text", prompts, sum(len(_WORD.findall(p)) for p in prompts)).answer()


def _words_in(choice: dict[str, Any]) -> bool:
    return bool(choice.get("text") or (choice.get("delta") or {}).get("content"))


def _error(message: str, code: int, type_: str = "BadRequestError", param: str | None = None) -> dict[str, Any]:
    # vLLM's ErrorResponse: 'code' is the HTTP status the gateway answers with.
    return {"error": {"object": "error", "message": message, "type": type_, "param": param, "code": code}}


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _last_user_message(messages: Any) -> str | None:
    if not isinstance(messages, list):
        return None
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return None


class _Reply:
    """The echoed text(s) of one request, shaped as a response or as stream chunks."""

    def __init__(self, body: dict[str, Any], kind: str, texts: list[str], prompt_tokens: int):
        self.body, self.kind = body, kind
        self.created = int(time.time())
        self.id = ("chatcmpl-" if kind == "chat" else "cmpl-") + uuid.uuid4().hex
        self.object = "chat.completion" if kind == "chat" else "text_completion"
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        self.words: list[list[str]] = []
        self.finish: list[str] = []
        for text in texts:
            words = _WORD.findall(text)
            cut = isinstance(limit, int) and 0 <= limit < len(words)
            self.words.append(words[:limit] if cut else words)
            self.finish.append("length" if cut else "stop")
        self.usage = {"prompt_tokens": prompt_tokens, "completion_tokens": sum(len(w) for w in self.words)}
        self.usage["total_tokens"] = self.usage["prompt_tokens"] + self.usage["completion_tokens"]

    def answer(self) -> Any:
        return self.stream() if self.body.get("stream") is True else self.response()

    async def stream(self) -> AsyncIterator[dict[str, Any]]:
        """The chunks; each word after ``echo_delay_ms`` (0: only a yield to the other requests)."""
        delay = self.body.get("echo_delay_ms")
        delay_s = delay / 1000 if isinstance(delay, int | float) and 0 < delay <= 10_000 else 0
        for chunk in self.chunks():
            if any(_words_in(choice) for choice in chunk["choices"]):
                await asyncio.sleep(delay_s)
            else:
                await asyncio.sleep(0)
            yield chunk

    def _head(self, object_: str) -> dict[str, Any]:
        return {"id": self.id, "object": object_, "created": self.created, "model": MODEL}

    def response(self) -> dict[str, Any]:
        choices = []
        for index, (words, finish) in enumerate(zip(self.words, self.finish)):
            text = "".join(words)
            if self.kind == "chat":
                choices.append(
                    {
                        "index": index,
                        "message": {"role": "assistant", "content": text},
                        "logprobs": None,
                        "finish_reason": finish,
                    }
                )
            else:
                choices.append({"index": index, "text": text, "logprobs": None, "finish_reason": finish})
        return {**self._head(self.object), "choices": choices, "usage": self.usage}

    def chunks(self) -> Iterator[dict[str, Any]]:
        object_ = "chat.completion.chunk" if self.kind == "chat" else "text_completion"
        for index, (words, finish) in enumerate(zip(self.words, self.finish)):
            if self.kind == "chat":
                yield {
                    **self._head(object_),
                    "choices": [
                        {
                            "index": index,
                            "delta": {"role": "assistant", "content": ""},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                }
            for word in words:
                yield {**self._head(object_), "choices": [self._piece(index, word, None)]}
            yield {**self._head(object_), "choices": [self._piece(index, None, finish)]}
        options = self.body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage"):
            yield {**self._head(object_), "choices": [], "usage": self.usage}

    def _piece(self, index: int, word: str | None, finish: str | None) -> dict[str, Any]:
        if self.kind == "chat":
            delta = {} if word is None else {"content": word}
            return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {"index": index, "text": word or "", "logprobs": None, "finish_reason": finish}
