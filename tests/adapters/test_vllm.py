"""Self-hosted vLLM (fake flavor): `reasoning` field normalised, native json_schema, no auth, embeddings."""

from __future__ import annotations

import pytest
from adapter_helpers import call, collect, config, make_client
from pydantic import BaseModel

SYNC_ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
VLLM_MAP = '"gpt-4o" = "vllm/deepseek-ai/DeepSeek-V4-Flash"'


class Person(BaseModel):
    name: str
    age: int


@SYNC_ASYNC
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_reasoning_is_exposed_as_reasoning_content(fakes, vl, is_async, stream):
    client = make_client(fakes, config(fakes, models=VLLM_MAP), is_async=is_async)
    res = await call(client, "chat.completions.create", model="gpt-4o", stream=stream, reasoning_effort="high",
                     messages=[{"role": "developer", "content": "think"}, {"role": "user", "content": "why?"}])
    sent = vl.requests[0].json
    assert sent["chat_template_kwargs"]["thinking"] is True and "reasoning_effort" not in sent
    assert sent["messages"][0]["role"] == "system"
    assert "Authorization" not in vl.requests[0].headers and "authorization" not in vl.requests[0].headers
    if stream:
        chunks = await collect(res)
        assert "".join(c.choices[0].delta.reasoning_content or "" for c in chunks if c.choices)
        assert not any(getattr(c.choices[0].delta, "reasoning", None) for c in chunks if c.choices)
    else:
        assert res.choices[0].message.reasoning_content
        assert getattr(res.choices[0].message, "reasoning", None) is None


@SYNC_ASYNC
async def test_parse_uses_native_structured_output(fakes, vl, is_async):
    client = make_client(fakes, config(fakes, models=VLLM_MAP), is_async=is_async)
    res = await call(client, "chat.completions.parse", model="gpt-4o", response_format=Person,
                     messages=[{"role": "user", "content": "Who is Bob?"}])
    assert isinstance(res.choices[0].message.parsed, Person)
    assert vl.requests[0].json["response_format"]["type"] == "json_schema" and len(vl.requests) == 1


@SYNC_ASYNC
async def test_reasoning_sent_back_as_reasoning_on_vllm(fakes, vl, is_async):
    client = make_client(fakes, config(fakes, models=VLLM_MAP), is_async=is_async)
    await call(client, "chat.completions.create", model="gpt-4o", messages=[
        {"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "reasoning_content": "r"},
        {"role": "user", "content": "c"}])
    assert vl.requests[0].json["messages"][1] == {"role": "assistant", "content": "b", "reasoning": "r"}
