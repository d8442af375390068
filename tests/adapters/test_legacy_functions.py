"""Legacy `functions=` / `function_call=` on a backend that only takes tools (profile `legacy_functions = false`):
sent as tools / tool_choice, the reply turned back into `message.function_call`, history turns converted."""

from __future__ import annotations

import json

import pytest
from adapter_helpers import call, collect, config, make_client

SYNC_ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
FUNCTIONS = [{"name": "get_weather", "description": "weather",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


async def ask(client, stream, **kw):
    res = await call(client, "chat.completions.create", model="gpt-4o", functions=FUNCTIONS, stream=stream, **kw)
    if not stream:
        msg = res.choices[0].message
        assert msg.tool_calls is None
        return msg.function_call.name, msg.function_call.arguments, res.choices[0].finish_reason, \
            msg.reasoning_content
    chunks = await collect(res)
    name = "".join(c.choices[0].delta.function_call.name or "" for c in chunks
                   if c.choices and c.choices[0].delta.function_call)
    args = "".join(c.choices[0].delta.function_call.arguments or "" for c in chunks
                   if c.choices and c.choices[0].delta.function_call)
    assert not any(c.choices[0].delta.tool_calls for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    reasoning = "".join(c.choices[0].delta.reasoning_content or "" for c in chunks if c.choices)
    return name, args, finish[-1], reasoning


@SYNC_ASYNC
@STREAM
async def test_functions_are_sent_as_tools_and_answered_as_function_call(fakes, ds, is_async, stream):
    client = make_client(fakes, config(fakes), is_async=is_async)
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    name, args, finish, _ = await ask(client, stream, messages=messages, function_call={"name": "get_weather"})
    assert name == "get_weather" and "city" in json.loads(args) and finish == "function_call"
    sent = ds.requests[0].json
    assert "functions" not in sent and "function_call" not in sent
    assert sent["tools"] == [{"type": "function", "function": FUNCTIONS[0]}]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert sent["thinking"] == {"type": "disabled"}  # forced choice: thinking off for the call

    # the app's next turn, in the legacy shape: DeepSeek would reject role "function" (422)
    messages += [{"role": "assistant", "content": None, "function_call": {"name": name, "arguments": args}},
                 {"role": "function", "name": "get_weather", "content": '{"temp_c": 18}'}]
    res = await call(client, "chat.completions.create", model="gpt-4o", functions=FUNCTIONS, messages=messages)
    assert res.choices[0].message.content.startswith("Based on the tool results")
    sent = ds.requests[1].json["messages"]
    call_id = sent[1]["tool_calls"][0]["id"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": name, "arguments": args} and "function_call" not in sent[1]
    assert sent[2] == {"role": "tool", "tool_call_id": call_id, "content": '{"temp_c": 18}'}
    assert any(c.field == "functions" and c.action == "translated" for c in res._offramp.changes)


@SYNC_ASYNC
@STREAM
async def test_reasoning_survives_a_legacy_function_loop(fakes, ds, is_async, stream):
    """Thinking on: the legacy call has no id, so Offramp keys its reasoning by a stable id of the call."""
    client = make_client(fakes, config(fakes), is_async=is_async)
    messages = [{"role": "user", "content": "What is the get_weather in Paris?"}]
    name, args, _, reasoning = await ask(client, stream, messages=messages, reasoning_effort="high")
    assert name == "get_weather" and reasoning
    messages += [{"role": "assistant", "content": None, "function_call": {"name": name, "arguments": args}},
                 {"role": "function", "name": "get_weather", "content": "sunny"}]
    res = await call(client, "chat.completions.create", model="gpt-4o", functions=FUNCTIONS, messages=messages,
                     reasoning_effort="high")
    assert res.choices[0].message.content.startswith("Based on the tool results")
    assert ds.requests[1].json["messages"][1]["reasoning_content"] == reasoning


@SYNC_ASYNC
async def test_backends_that_take_functions_get_them_unchanged(fakes, oa, is_async):
    client = make_client(fakes, config(fakes), is_async=is_async)
    await call(client, "chat.completions.create", model="gpt-4o-mini", functions=FUNCTIONS, function_call="auto",
               messages=[{"role": "user", "content": "hi"}])
    sent = oa.requests[0].json
    assert sent["functions"] == FUNCTIONS and sent["function_call"] == "auto" and "tools" not in sent


def test_translation_rules_on_dicts():
    from offramp.adapters.profiles import load_profile
    from offramp.adapters.translate import legacy_call_id, translate_chat_request

    body = {"model": "m", "functions": FUNCTIONS, "function_call": "none",
            "messages": [{"role": "user", "content": "x"},
                         {"role": "assistant", "content": None, "function_call": {"name": "a", "arguments": "{}"}},
                         {"role": "assistant", "content": None, "function_call": {"name": "b", "arguments": "{}"}},
                         {"role": "function", "name": "a", "content": "A"},
                         {"role": "function", "name": "b", "content": "B"},
                         {"role": "function", "name": "c", "content": "C"}]}
    t = translate_chat_request(body, load_profile("vllm"))
    out = t.body
    assert out["tool_choice"] == "none" and "parallel_tool_calls" not in out and t.emulation.legacy_functions
    assert [m.get("tool_call_id") for m in out["messages"][3:5]] == [legacy_call_id("a", "{}"),
                                                                     legacy_call_id("b", "{}")]
    assert out["messages"][5] == {"role": "user", "content": "Result of function c: C"}  # nothing to answer
    assert "functions" in translate_chat_request(body, load_profile("openai")).body
