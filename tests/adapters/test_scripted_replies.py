"""Replies the fake cannot script (a reply that fails validation once, then passes; a finish_reason of
insufficient_system_resource) through a scripted inner transport under the Offramp transport."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from adapter_helpers import call, collect
from pydantic import BaseModel

from offramp import adapters
from offramp.adapters.config import parse_config

SYNC_ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
CFG = """
[backends.deepseek]
kind = "deepseek"
base_url = "http://deepseek.test/v1"
api_key_env = "DS_KEY"
[routes.models]
"gpt-4o" = "deepseek/deepseek-v4-flash"
[retries]
max = 2
backoff_base = 0.001
"""


def completion(content, finish="stop"):
    return {"id": "x", "object": "chat.completion", "created": 1, "model": "deepseek-v4-flash",
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content, "reasoning_content": None}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13,
                      "prompt_cache_hit_tokens": 4, "prompt_cache_miss_tokens": 6}}


def scripted(replies, is_async):
    seen = []

    def handler(request):
        seen.append(json.loads(request.content))
        status, body = replies.pop(0)
        if isinstance(body, str):
            return httpx2.Response(status, content=body.encode(), headers={"content-type": "text/event-stream"})
        return httpx2.Response(status, json=body)

    transport = httpx2.MockTransport(handler)
    http = httpx2.AsyncClient(transport=transport) if is_async else httpx2.Client(transport=transport)
    cls = adapters.AsyncOpenAI if is_async else adapters.OpenAI
    client = cls(api_key="sk-openai", http_client=http, offramp_config=parse_config(CFG, "offramp.toml"))
    return client, seen


class Person(BaseModel):
    name: str
    age: int


@SYNC_ASYNC
async def test_parse_retries_once_on_invalid_reply_then_succeeds(is_async):
    client, seen = scripted([(200, completion('{"name": "Bob"}')), (200, completion('{"name": "Bob", "age": 41}'))],
                            is_async)
    res = await call(client, "chat.completions.parse", model="gpt-4o", response_format=Person,
                     messages=[{"role": "user", "content": "Who is Bob?"}])
    assert res.choices[0].message.parsed == Person(name="Bob", age=41)
    assert len(seen) == 2 and seen[0]["response_format"] == {"type": "json_object"}
    assert [c.action for c in res._offramp.changes].count("retried") == 1


@SYNC_ASYNC
async def test_blank_json_object_reply_is_retried_once_then_clear_error(is_async):
    client, seen = scripted([(200, completion("   ")), (200, completion("\n"))], is_async)
    with pytest.raises(openai.UnprocessableEntityError, match="blank content"):
        await call(client, "chat.completions.create", model="gpt-4o", response_format={"type": "json_object"},
                   messages=[{"role": "user", "content": "json please"}])
    assert len(seen) == 2


@SYNC_ASYNC
async def test_insufficient_system_resource_is_retried_never_success(is_async):
    client, seen = scripted([(200, completion("half", "insufficient_system_resource")), (200, completion("full"))],
                            is_async)
    res = await call(client, "chat.completions.create", model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert res.choices[0].message.content == "full" and len(seen) == 2
    client, _ = scripted([(200, completion("cut", "insufficient_system_resource"))] * 3, is_async)
    with pytest.raises(openai.InternalServerError, match="insufficient_system_resource"):
        await call(client, "chat.completions.create", model="gpt-4o", messages=[{"role": "user", "content": "x"}])


@SYNC_ASYNC
async def test_insufficient_system_resource_in_a_stream_raises(is_async):
    chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "par"}, "finish_reason": "insufficient_system_resource"}]}
    client, _ = scripted([(200, f": keep-alive\n\ndata: {json.dumps(chunk)}\n\ndata: [DONE]\n\n")], is_async)
    stream = await call(client, "chat.completions.create", model="gpt-4o", stream=True,
                        messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.APIError, match="insufficient_system_resource"):
        await collect(stream)


@SYNC_ASYNC
async def test_reasoning_field_of_vllm_shape_is_exposed_as_reasoning_content(is_async):
    body = completion("answer")
    body["choices"][0]["message"] = {"role": "assistant", "content": "answer", "reasoning": "thought"}
    client, _ = scripted([(200, body)], is_async)
    res = await call(client, "chat.completions.create", model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert res.choices[0].message.reasoning_content == "thought"
    assert res.usage.prompt_tokens_details.cached_tokens == 4
