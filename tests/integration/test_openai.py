"""/openai/v1: the official openai client works against a live gateway and worker."""

import openai
import pytest
from openai import OpenAI

from app import create_app
from tests.helpers import API_KEY, ApiClient, wait_until

MESSAGES = [
    {"role": "system", "content": "You repeat."},
    {"role": "user", "content": "ignored"},
    {"role": "assistant", "content": "ignored"},
    {"role": "user", "content": "Hello there, how are you today?"},
]
LAST = "Hello there, how are you today?"


def client_for(gateway_url: str, endpoint: str = "echo-openai", key: str = API_KEY) -> OpenAI:
    return OpenAI(base_url=f"{gateway_url}/v2/{endpoint}/openai/v1", api_key=key, max_retries=0, timeout=60)


@pytest.fixture
def client(gateway_url):
    return client_for(gateway_url)


def test_chat_completion_repeats_the_last_user_message(client):
    completion = client.chat.completions.create(model="echo", messages=MESSAGES)
    assert completion.object == "chat.completion" and completion.model == "echo"
    assert completion.id.startswith("chatcmpl-")
    choice = completion.choices[0]
    assert choice.message.role == "assistant" and choice.message.content == LAST
    assert choice.finish_reason == "stop"
    assert completion.usage.completion_tokens == 6
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 6


def test_streamed_chat_completion_deltas_join_to_the_message(client):
    chunks = list(client.chat.completions.create(model="echo", messages=MESSAGES, stream=True))
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len(chunks) >= 6  # word by word
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == LAST
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_streamed_chat_completion_can_end_with_usage(client):
    chunks = list(
        client.chat.completions.create(
            model="echo", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 6


def test_max_tokens_cuts_the_answer_with_finish_reason_length(client):
    completion = client.chat.completions.create(model="echo", messages=MESSAGES, max_tokens=2)
    assert completion.choices[0].message.content == "Hello there,"
    assert completion.choices[0].finish_reason == "length"


def test_completion_repeats_the_prompt(client):
    completion = client.completions.create(model="echo", prompt="Once upon a time")
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "Once upon a time"
    assert completion.usage.completion_tokens == 4


def test_streamed_completion_pieces_join_to_the_prompt(client):
    chunks = list(client.completions.create(model="echo", prompt="Once upon a time", stream=True))
    assert "".join(c.choices[0].text for c in chunks) == "Once upon a time"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_models_list_holds_the_echo_model(client):
    assert [m.id for m in client.models.list()] == ["echo"]


def test_unknown_model_raises_the_clients_not_found_error(client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-nope", messages=MESSAGES)
    assert caught.value.status_code == 404
    assert "gpt-nope" in caught.value.message
    assert caught.value.body["param"] == "model"


def test_streamed_call_that_fails_at_once_raises_with_its_status(client):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-nope", messages=MESSAGES, stream=True)


def test_request_the_handler_rejects_raises_bad_request_error(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="echo", messages=[{"role": "system", "content": "x"}])
    assert caught.value.body["param"] == "messages"


def test_wrong_key_raises_authentication_error(gateway_url):
    with pytest.raises(openai.AuthenticationError) as caught:
        client_for(gateway_url, key="not-a-key").models.list()
    assert caught.value.body["type"] == "authentication_error"


def test_unknown_endpoint_raises_not_found_error(gateway_url):
    with pytest.raises(openai.NotFoundError) as caught:
        client_for(gateway_url, endpoint="no-such-endpoint").models.list()
    assert "no-such-endpoint" in caught.value.message


def test_stream_chunks_reach_the_caller_before_the_job_ends(gateway_url, api):
    stream = client_for(gateway_url, endpoint="slow-openai").chat.completions.create(
        model="echo", messages=MESSAGES, stream=True
    )
    chunks = iter(stream)
    assert next(chunks).choices[0].delta.content == "first"
    job_id = stream.response.headers["x-request-id"]
    assert api.get(f"/v2/slow-openai/status/{job_id}").get_json()["status"] == "IN_PROGRESS"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == " second"
    assert api.get(f"/v2/slow-openai/status/{job_id}").get_json()["status"] == "COMPLETED"


def job_input_of(api, response) -> dict:
    """The input of the job behind an OpenAI call (echo's output is its input)."""
    return api.get(f"/v2/echo/requests/{response.headers['X-Request-Id']}").get_json()["input"]


def test_job_input_is_the_openai_route_and_the_body(api):
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.5}
    r = api.post("/v2/echo/openai/v1/chat/completions", json=body)
    assert job_input_of(api, r) == {"openai_route": "/v1/chat/completions", "openai_input": body}


def test_models_job_input_is_null(api):
    r = api.get("/v2/echo/openai/v1/models")
    assert job_input_of(api, r) == {"openai_route": "/v1/models", "openai_input": None}


def test_a_handler_answer_that_is_not_an_openai_body_is_a_502_saying_so(api):
    r = api.post("/v2/echo/openai/v1/chat/completions", json={"model": "m", "messages": []})
    error = r.get_json()["error"]
    assert r.status_code == 502 and error["type"] == "server_error" and error["code"] == 502
    assert "not an OpenAI response body" in error["message"] and "'choices'" in error["message"]


def test_the_openai_client_on_a_non_openai_endpoint_raises_instead_of_returning_nothing(gateway_url):
    with pytest.raises(openai.InternalServerError) as raised:
        client_for(gateway_url, endpoint="echo").chat.completions.create(model="m", messages=MESSAGES)
    assert raised.value.status_code == 502 and "not an OpenAI response body" in str(raised.value)


def test_answer_carries_the_job_id(api):
    r = api.post("/v2/echo-openai/openai/v1/completions", json={"model": "echo", "prompt": "x"})
    job_id = r.headers["X-Request-Id"]
    assert api.get(f"/v2/echo-openai/status/{job_id}").get_json()["status"] == "COMPLETED"


def test_handler_that_cannot_load_is_500_in_openai_shape(api):
    r = api.post("/v2/broken/openai/v1/completions", json={"model": "echo", "prompt": "x"})
    assert r.status_code == 500
    error = r.get_json()["error"]
    assert error["type"] == "server_error" and "does_not_exist" in error["message"]


def test_invalid_body_is_400_in_openai_shape_naming_the_field(api):
    r = api.post("/v2/echo-openai/openai/v1/chat/completions", json={"model": "echo", "messages": "hi"})
    assert r.status_code == 400
    error = r.get_json()["error"]
    assert error["param"] == "messages" and error["type"] == "invalid_request_error"
    assert error["code"] == 400 and "messages" in error["message"]


def test_unknown_route_is_404_in_openai_shape(api):
    r = api.post("/v2/echo-openai/openai/v1/embeddings", json={"model": "echo", "input": "x"})
    assert r.status_code == 404
    assert "embeddings" in r.get_json()["error"]["message"]


def test_missing_key_is_401_in_openai_shape(app):
    r = ApiClient(app, key=None).get("/v2/echo-openai/openai/v1/models")
    assert r.status_code == 401 and r.get_json()["error"]["type"] == "authentication_error"


@pytest.fixture(scope="module")
def impatient(settings, worker):
    """A gateway that waits only 1 s for an OpenAI answer."""
    return ApiClient(create_app(settings.replace(openai_wait_ms=1000)))


@pytest.mark.parametrize("stream", [False, True])
def test_no_answer_in_time_is_504_and_the_job_is_cancelled(impatient, stream):
    r = impatient.post(
        "/v2/unserved/openai/v1/chat/completions", json={"model": "echo", "messages": MESSAGES, "stream": stream}
    )
    assert r.status_code == 504 and r.get_json()["error"]["type"] == "timeout_error"
    job = impatient.get(f"/v2/unserved/status/{r.headers['X-Request-Id']}").get_json()
    assert job["status"] == "CANCELLED"


def test_caller_leaving_a_stream_cancels_the_job(app):
    http = app.test_client()
    r = http.post(
        "/v2/slow-openai/openai/v1/chat/completions",
        buffered=False,
        headers={"Authorization": f"Bearer {API_KEY}"},
        json={"model": "echo", "messages": MESSAGES, "stream": True},
    )
    assert r.headers["Content-Type"].startswith("text/event-stream")
    assert next(r.response).startswith(b"data: ")
    job_id = r.headers["X-Request-Id"]
    r.close()
    api = ApiClient(app)
    assert wait_until(lambda: api.get(f"/v2/slow-openai/status/{job_id}").get_json()["status"] == "CANCELLED")


def test_openapi_document_lists_the_openai_routes(api):
    paths = api.get("/openapi.json").get_json()["paths"]
    assert {
        "/v2/{endpoint_id}/openai/v1/chat/completions",
        "/v2/{endpoint_id}/openai/v1/completions",
        "/v2/{endpoint_id}/openai/v1/models",
    } <= paths.keys()


def test_handler_returning_only_an_error_fails_the_job_with_it(api):
    r = api.post(
        "/v2/echo-openai/runsync",
        json={"input": {"openai_route": "/v1/completions", "openai_input": {"model": "nope", "prompt": "x"}}},
    )
    job = r.get_json()
    assert job["status"] == "FAILED" and "output" not in job
    assert '"code": 404' in job["error"]


def test_a_generator_handlers_single_chunk_is_the_body(gateway_url):
    completion = client_for(gateway_url, "vllm-style").chat.completions.create(model="echo", messages=MESSAGES)
    assert completion.choices[0].message.content == "one two"


def test_ready_made_sse_text_is_relayed_as_it_is_with_one_done(api, gateway_url):
    r = api.post(
        "/v2/vllm-style/openai/v1/chat/completions", json={"model": "echo", "messages": MESSAGES, "stream": True}
    )
    assert r.get_data(as_text=True).count("data: [DONE]") == 1
    chunks = client_for(gateway_url, "vllm-style").chat.completions.create(model="echo", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "one two"


def test_failure_mid_stream_raises_the_clients_api_error(gateway_url):
    chunks = iter(
        client_for(gateway_url, "vllm-style").chat.completions.create(
            model="fail-midway", messages=MESSAGES, stream=True
        )
    )
    assert next(chunks).choices[0].delta.content == "a"
    with pytest.raises(openai.APIError, match="the engine died"):
        next(chunks)
