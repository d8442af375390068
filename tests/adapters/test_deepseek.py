"""Every translation rule end to end against the fake DeepSeek (V4 quirks: 400 on developer, json_schema, n>1,
forced tool_choice in thinking, missing reasoning_content), sync and async, streaming and not."""

from __future__ import annotations

import json

import openai
import pytest
from adapter_helpers import call, collect, config, make_client
from pydantic import BaseModel

SYNC_ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "weather",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}}]


def text_of(result, stream):
    if stream:
        by_index: dict[int, str] = {}
        for chunk in result:
            for ch in chunk.choices:
                by_index[ch.index] = by_index.get(ch.index, "") + (ch.delta.content or "")
        return [by_index[i] for i in sorted(by_index)]
    return [c.message.content for c in result.choices]


async def run(client, stream, **kwargs):
    res = await call(client, "chat.completions.create", stream=stream, **kwargs)
    return await collect(res) if stream else res


@SYNC_ASYNC
@STREAM
async def test_openai_shaped_call_is_translated_for_deepseek(fakes, ds, oa, is_async, stream):
    records = []
    client = make_client(fakes, config(fakes), is_async=is_async, on_call=records.append)
    res = await run(client, stream, model="gpt-4o", max_completion_tokens=50, seed=3, user="alice@example.com",
                    logit_bias={"42": 1}, parallel_tool_calls=False, tools=TOOLS,
                    messages=[{"role": "developer", "content": "Be brief."},
                              {"role": "user", "content": "Say hello"}])
    assert len(oa.requests) == 0 and len(ds.requests) == 1
    sent = ds.requests[0].json
    assert sent["model"] == "deepseek-v4-flash"
    assert sent["messages"][0]["role"] == "system"
    assert sent["max_tokens"] == 50 and "max_completion_tokens" not in sent
    assert "seed" not in sent and "logit_bias" not in sent and "parallel_tool_calls" not in sent
    assert sent["user_id"].startswith("alice_example_com") and "user" not in sent
    assert sent["thinking"] == {"type": "disabled"}
    if stream:
        assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in res)
        assert all(c.usage is None for c in res)  # the app did not ask for usage
    else:
        assert isinstance(res, openai.types.chat.ChatCompletion) and res.choices[0].message.tool_calls
        rec = res._offramp
        assert rec.backend == "deepseek" and rec.model_sent == "deepseek-v4-flash"
        assert {("dropped", "seed"), ("translated", "messages.role")} <= {(c.action, c.field) for c in rec.changes}
    assert len(records) == 1 and records[0].usage and records[0].cost.usd > 0


def test_openai_key_never_reaches_deepseek(fakes, ds):
    from offramp.migrate.fake_upstream.testing import key_fingerprint

    client = make_client(fakes, config(fakes))
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert ds.requests[0].key_fingerprint == key_fingerprint("sk-deepseek-test")


@SYNC_ASYNC
@STREAM
async def test_n_is_fanned_out(fakes, ds, is_async, stream):
    client = make_client(fakes, config(fakes), is_async=is_async)
    res = await run(client, stream, model="gpt-4o", n=3, messages=[{"role": "user", "content": "hi"}],
                    **({"stream_options": {"include_usage": True}} if stream else {}))
    assert len(ds.requests) == 3 and all("n" not in r.json for r in ds.requests)
    assert len(text_of(res, stream)) == 3
    usage = res[-1].usage if stream else res.usage
    assert usage.prompt_tokens > 0 and usage.prompt_tokens % 3 == 0  # three identical prompts, summed
    if not stream:
        assert [c.index for c in res.choices] == [0, 1, 2]


@SYNC_ASYNC
@STREAM
async def test_stream_usage_shape_is_what_the_app_asked_for(fakes, ds, is_async, stream):
    ds.reset()
    client = make_client(fakes, config(fakes), is_async=is_async)
    res = await run(client, True, model="gpt-4o", messages=[{"role": "user", "content": "hi there"}],
                    stream_options={"include_usage": True})
    # OpenAI's shape: usage only on a final choices=[] chunk, with cached tokens where OpenAI reports them
    assert res[-1].choices == [] and res[-1].usage.prompt_tokens > 0
    assert res[-1].usage.prompt_tokens_details.cached_tokens is not None
    assert all(c.usage is None for c in res[:-1])


@SYNC_ASYNC
async def test_keepalives_and_blank_lines_are_ignored(fakes, ds, is_async):
    from offramp.migrate.fake_upstream.testing import FakeUpstream

    with FakeUpstream("deepseek", keepalives=5) as noisy:
        cfg = config(fakes, models='"gpt-4o" = "deepseek/deepseek-v4-flash"')
        cfg.backends["deepseek"].base_url = noisy.base_url
        client = make_client(fakes, cfg, is_async=is_async)
        chunks = await run(client, True, model="gpt-4o", messages=[{"role": "user", "content": "hello"}])
        assert "".join(text_of(chunks, True)) == "".join(text_of(await run(client, False, model="gpt-4o",
                                                                           messages=[{"role": "user",
                                                                                      "content": "hello"}]), False))


@SYNC_ASYNC
async def test_stream_total_deadline_despite_keepalives(fakes, is_async):
    from offramp.migrate.fake_upstream.testing import FakeUpstream

    with FakeUpstream("deepseek", keepalives=2, chunk_ms=150) as slow:
        cfg = config(fakes, "[timeouts]\nstream_total = 0.3")
        cfg.backends["deepseek"].base_url = slow.base_url
        client = make_client(fakes, cfg, is_async=is_async)
        stream = await call(client, "chat.completions.create", model="gpt-4o", stream=True,
                            messages=[{"role": "user", "content": "tell me a long story about many things"}])
        with pytest.raises(openai.APIError, match="total deadline of 0.3s"):
            await collect(stream)


class Person(BaseModel):
    name: str
    age: int


@SYNC_ASYNC
async def test_parse_is_emulated_and_fails_clearly_after_one_retry(fakes, ds, is_async):
    # Both answers (scripted) miss the schema: exactly one retry, then a clear error.
    client = make_client(fakes, config(fakes), is_async=is_async)
    ds.script(content='{"name": "Bob"}', times=2)
    with pytest.raises(openai.UnprocessableEntityError, match="does not match the requested JSON schema after 1 retry"):
        await call(client, "chat.completions.parse", model="gpt-4o", response_format=Person,
                   messages=[{"role": "user", "content": "Who is Bob?"}])
    assert len(ds.requests) == 2
    sent = ds.requests[0].json
    assert sent["response_format"] == {"type": "json_object"}
    assert '"age"' in sent["messages"][-1]["content"] and "json" in sent["messages"][-1]["content"]


@SYNC_ASYNC
async def test_json_schema_stream_is_sent_as_json_object(fakes, ds, is_async):
    client = make_client(fakes, config(fakes), is_async=is_async)
    fmt = {"type": "json_schema", "json_schema": {"name": "P", "schema": Person.model_json_schema()}}
    chunks = await run(client, True, model="gpt-4o", response_format=fmt,
                       messages=[{"role": "user", "content": "Who is Bob?"}])
    assert json.loads("".join(text_of(chunks, True)))
    assert ds.requests[0].json["response_format"] == {"type": "json_object"}


def tool_names(res, stream):
    if stream:
        return [tc.function.name for c in res if c.choices for tc in (c.choices[0].delta.tool_calls or [])
                if tc.function and tc.function.name]
    return [tc.function.name for tc in res.choices[0].message.tool_calls or []]


@SYNC_ASYNC
@STREAM
async def test_forced_tool_choice_turns_thinking_off_for_the_call(fakes, ds, is_async, stream):
    client = make_client(fakes, config(fakes), is_async=is_async)
    res = await run(client, stream, model="gpt-4o", tools=TOOLS, messages=[{"role": "user", "content": "Paris?"}],
                    tool_choice={"type": "function", "function": {"name": "get_weather"}})
    assert tool_names(res, stream) == ["get_weather"]
    assert ds.requests[0].json["thinking"] == {"type": "disabled"}


@SYNC_ASYNC
@STREAM
async def test_forced_tool_choice_with_explicit_thinking_is_downgraded(fakes, ds, is_async, stream):
    records = []
    client = make_client(fakes, config(fakes), is_async=is_async, on_call=records.append)
    res = await run(client, stream, model="gpt-4o", tools=TOOLS, reasoning_effort="high",
                    messages=[{"role": "user", "content": "get_weather for Paris"}], tool_choice="required")
    assert ds.requests[0].json["tool_choice"] == "auto" and ds.requests[0].json["thinking"]["type"] == "enabled"
    assert tool_names(res, stream) == ["get_weather"]
    assert any(c.field == "tool_choice" and c.lossy for c in records[0].changes)


@SYNC_ASYNC
@STREAM
async def test_reasoning_round_trip_across_a_tool_loop(fakes, ds, is_async, stream):
    """Thinking on: the app rebuilds the assistant turn as a plain dict (no reasoning_content); DeepSeek would
    400 — the side cache restores it."""
    client = make_client(fakes, config(fakes), is_async=is_async)
    messages = [{"role": "user", "content": "What is the get_weather in Paris?"}]
    first = await run(client, stream, model="gpt-4o", tools=TOOLS, reasoning_effort="high", messages=messages)
    if stream:
        reasoning = "".join(c.choices[0].delta.reasoning_content or "" for c in first if c.choices)
        calls = [tc for c in first if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
        call_id, name, args = calls[0].id, calls[0].function.name, calls[0].function.arguments
    else:
        msg = first.choices[0].message
        reasoning = msg.reasoning_content  # exposed on the SDK message
        call_id, name, args = msg.tool_calls[0].id, msg.tool_calls[0].function.name, msg.tool_calls[0].function.arguments
    assert reasoning
    messages += [{"role": "assistant", "content": None,
                  "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}]},
                 {"role": "tool", "tool_call_id": call_id, "content": "18C"}]
    second = await run(client, stream, model="gpt-4o", tools=TOOLS, reasoning_effort="high", messages=messages)
    assert ds.requests[1].json["messages"][1]["reasoning_content"] == reasoning
    assert "18C" in "".join(text_of(second, stream))


@SYNC_ASYNC
async def test_strict_mode_raises_before_sending(fakes, ds, is_async):
    client = make_client(fakes, config(fakes, "[settings]\nstrict = true"), is_async=is_async)
    with pytest.raises(openai.BadRequestError, match="strict mode: seed"):
        await run(client, False, model="gpt-4o", seed=1, messages=[{"role": "user", "content": "x"}])
    assert ds.requests == []
    ok = await run(client, False, model="gpt-4o", messages=[{"role": "developer", "content": "x"},
                                                            {"role": "user", "content": "y"}])
    assert ok.choices[0].message.content


@SYNC_ASYNC
async def test_a_stream_cut_mid_way_raises_an_openai_error(fakes, ds, is_async):
    ds.script(cut_after=2)
    client = make_client(fakes, config(fakes), is_async=is_async)
    stream = await call(client, "chat.completions.create", model="gpt-4o", stream=True,
                        messages=[{"role": "user", "content": "tell me a long story about many things"}])
    with pytest.raises(openai.APIError, match="broke off"):
        await collect(stream)
