"""The DeepSeek facts of December 2026 end to end against the fake DeepSeek (V4.1 rules): retired ids answer 400,
legacy flash ids are V4.1 aliases, the reasoning of every earlier turn comes back when tools are given, an unset
max_tokens is not cut at DeepSeek's 8K default."""

from __future__ import annotations

import openai
import pytest
from adapter_helpers import call, config, make_client

SYNC_ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]
HI = [{"role": "user", "content": "Say hello"}]


@SYNC_ASYNC
async def test_a_retired_deepseek_id_is_never_sent_and_fails_naming_the_replacement(fakes, ds, oa, is_async):
    client = make_client(fakes, config(fakes, models='"gpt-4o" = "deepseek/deepseek-chat"'), is_async=is_async)
    with pytest.raises(openai.BadRequestError, match=r"'deepseek-chat'.*retired on 2026-07-24.*use 'deepseek-flash'"):
        await call(client, "chat.completions.create", model="gpt-4o", messages=HI)
    assert ds.requests == [] and oa.requests == []


@SYNC_ASYNC
async def test_a_retired_id_falls_back_when_a_fallback_is_configured(fakes, ds, oa, is_async):
    cfg = config(fakes, models='"gpt-4o" = "deepseek/deepseek-reasoner"', fallback='fallback = ["openai"]')
    res = await call(make_client(fakes, cfg, is_async=is_async), "chat.completions.create", model="gpt-4o",
                     messages=HI)
    assert ds.requests == [] and len(oa.requests) == 1 and res._offramp.backend == "openai"
    assert any(c.field == "model" and "retired" in c.detail for c in res._offramp.changes)


def test_a_legacy_flash_id_is_served_and_billed_as_deepseek_flash(fakes, ds):
    res = make_client(fakes, config(fakes)).chat.completions.create(model="gpt-4o", messages=HI)
    assert ds.requests[0].json["model"] == "deepseek-v4-flash"
    assert any(c.action == "warning" and "'deepseek-flash'" in c.detail for c in res._offramp.changes)
    assert res._offramp.cost.source.startswith("DS-PRICE-1017")


def test_unset_max_tokens_is_sent_as_the_model_maximum(fakes, ds):
    make_client(fakes, config(fakes)).chat.completions.create(model="gpt-4o", messages=HI)
    assert ds.requests[0].json["max_tokens"] == 393216


@SYNC_ASYNC
async def test_tools_after_a_plain_turn_whose_reasoning_the_app_dropped(fakes, ds, is_async):
    """V4.1 with tools wants the reasoning of EVERY earlier assistant turn. An app that keeps only `content`
    (the usual dict rebuild) works through the adapter, which remembers the reasoning; the bare SDK gets a 400."""
    cfg = config(fakes, models='"gpt-4o" = "deepseek/deepseek-flash"')
    client = make_client(fakes, cfg, is_async=is_async)
    think = {"reasoning_effort": "high"}  # the app asks for reasoning: thinking stays on
    first = await call(client, "chat.completions.create", model="gpt-4o", messages=HI, **think)
    history = [*HI, {"role": "assistant", "content": first.choices[0].message.content},
               {"role": "user", "content": "Now the weather in Paris"}]
    res = await call(client, "chat.completions.create", model="gpt-4o", messages=history, tools=TOOLS, **think)
    assert res.choices[0].message.tool_calls[0].function.name == "get_weather"
    sent = ds.requests[-1].json["messages"][1]
    assert sent["reasoning_content"] == first.choices[0].message.reasoning_content
    bare = openai.OpenAI(base_url=ds.base_url, api_key="k", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="reasoning_content"):
        bare.chat.completions.create(model="deepseek-flash", messages=history, tools=TOOLS)
