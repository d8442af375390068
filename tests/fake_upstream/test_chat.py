"""Chat completions on every flavor: deterministic answers, streams, tools, JSON modes, n, logprobs."""

from __future__ import annotations

import json

import httpx
import jsonschema
import openai
import pytest

from offramp.migrate.fake_upstream.testing import FakeUpstream
from tests.fake_upstream.conftest import MODELS, aclient, client

USER = [{"role": "user", "content": "What is the capital of France?"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
    },
}


def _no_thinking(flavor: str) -> dict:
    return {"thinking": {"type": "disabled"}} if flavor == "deepseek" else {}


def test_plain_answer_is_a_function_of_the_last_user_message(fake):
    c = client(fake)
    r = c.chat.completions.create(model=MODELS[fake.flavor], messages=USER)
    assert r.choices[0].message.content == "Echo: What is the capital of France?"
    assert r.choices[0].finish_reason == "stop"
    again = c.chat.completions.create(model=MODELS[fake.flavor], messages=USER)
    assert again.choices[0].message.content == r.choices[0].message.content
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0
    other = c.chat.completions.create(
        model=MODELS[fake.flavor], messages=[{"role": "user", "content": "bye"}]
    )
    assert other.choices[0].message.content == "Echo: bye"


async def test_async_client_gets_the_same_answer(fake):
    c = aclient(fake)
    r = await c.chat.completions.create(model=MODELS[fake.flavor], messages=USER)
    assert r.choices[0].message.content == "Echo: What is the capital of France?"
    stream = await c.chat.completions.create(model=MODELS[fake.flavor], messages=USER, stream=True)
    text = "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])
    assert text == r.choices[0].message.content


def test_stream_reassembles_to_the_non_stream_answer(fake):
    c = client(fake)
    chunks = list(c.chat.completions.create(model=MODELS[fake.flavor], messages=USER, stream=True))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "Echo: What is the capital of France?"
    assert len(chunks) > 3
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [ch.choices[0].finish_reason for ch in chunks if ch.choices][-1] == "stop"


def test_openai_stream_usage_is_a_separate_final_chunk(fakes):
    c = client(fakes["openai"])
    chunks = list(
        c.chat.completions.create(
            model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0
    assert all(ch.usage is None for ch in chunks[:-1])
    plain = list(c.chat.completions.create(model="gpt-4o", messages=USER, stream=True))
    assert all(ch.usage is None and ch.choices for ch in plain)


def test_vllm_stream_usage_only_with_include_usage(fakes):
    c = client(fakes["vllm"])
    plain = list(c.chat.completions.create(model=MODELS["vllm"], messages=USER, stream=True))
    assert all(ch.usage is None for ch in plain)
    with_usage = list(
        c.chat.completions.create(
            model=MODELS["vllm"], messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert with_usage[-1].choices == [] and with_usage[-1].usage.completion_tokens > 0


def test_deepseek_stream_usage_rides_on_the_last_content_chunk_with_keepalives(fakes):
    fake = fakes["deepseek"]
    raw = httpx.post(
        f"{fake.base_url}/chat/completions",
        headers={"Authorization": "Bearer k"},
        json={"model": "deepseek-flash", "messages": USER, "stream": True, "thinking": {"type": "disabled"}},
    ).text
    assert raw.startswith(": keep-alive\n\n")
    events = [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: {")]
    assert raw.rstrip().endswith("data: [DONE]")
    last = events[-1]
    assert last["choices"][0]["finish_reason"] == "stop" and last["usage"]["prompt_cache_miss_tokens"] > 0
    assert all(e["choices"] for e in events), "no separate usage-only chunk"
    chunks = list(
        client(fake).chat.completions.create(
            model="deepseek-flash", messages=USER, stream=True, stream_options={"include_usage": True},
            extra_body={"thinking": {"type": "disabled"}}
        )
    )
    assert chunks[-1].usage.total_tokens > 0 and chunks[-1].choices[0].finish_reason == "stop"
    assert all(ch.usage is None for ch in chunks[:-1])


def test_deepseek_non_stream_json_has_leading_blank_lines(fakes):
    fake = fakes["deepseek"]
    raw = httpx.post(
        f"{fake.base_url}/chat/completions",
        headers={"Authorization": "Bearer k"},
        json={"model": "deepseek-flash", "messages": USER, "thinking": {"type": "disabled"}},
    ).content
    assert raw.startswith(b"\n") and json.loads(raw)["object"] == "chat.completion"


def test_deepseek_thinking_mode_reasoning_content_comes_before_content(fakes):
    c = client(fakes["deepseek"])
    r = c.chat.completions.create(model="deepseek-v4-flash", messages=USER)
    assert r.choices[0].message.reasoning_content == "Thinking about: What is the capital of France?"
    assert r.usage.completion_tokens_details.reasoning_tokens > 0
    assert r.usage.prompt_cache_hit_tokens + r.usage.prompt_cache_miss_tokens == r.usage.prompt_tokens
    chunks = list(c.chat.completions.create(model="deepseek-v4-flash", messages=USER, stream=True))
    kinds = [
        ("r" if getattr(ch.choices[0].delta, "reasoning_content", None) else "c")
        for ch in chunks
        if ch.choices[0].delta.content or getattr(ch.choices[0].delta, "reasoning_content", None)
    ]
    assert kinds == sorted(kinds, key=lambda k: k != "r") and "r" in kinds and "c" in kinds
    off = c.chat.completions.create(
        model="deepseek-v4-flash", messages=USER, extra_body={"thinking": {"type": "disabled"}}
    )
    assert "reasoning_content" not in (off.choices[0].message.model_extra or {})
    for retired in ("deepseek-chat", "deepseek-reasoner"):  # retired 2026-07-24: a hard 400, not an alias
        with pytest.raises(openai.BadRequestError, match="Model Not Exist"):
            c.chat.completions.create(model=retired, messages=USER)


def test_vllm_reasoning_field_is_named_reasoning(fakes):
    c = client(fakes["vllm"])
    think = {"chat_template_kwargs": {"thinking": True}}
    r = c.chat.completions.create(model=MODELS["vllm"], messages=USER, extra_body=think)
    extra = r.choices[0].message.model_extra
    assert extra["reasoning"].startswith("Thinking about") and "reasoning_content" not in extra
    off = c.chat.completions.create(model=MODELS["vllm"], messages=USER)
    assert off.choices[0].message.model_extra["reasoning"] is None, "thinking is off unless the template asks"
    stream = list(
        c.chat.completions.create(model=MODELS["vllm"], messages=USER, stream=True, extra_body=think)
    )
    assert any((ch.choices[0].delta.model_extra or {}).get("reasoning") for ch in stream)


def test_forced_named_tool_call_arguments_follow_the_schema(fake):
    c = client(fake)
    r = c.chat.completions.create(
        model=MODELS[fake.flavor],
        messages=USER,
        tools=[TIME, WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        extra_body=_no_thinking(fake.flavor),
    )
    (call,) = r.choices[0].message.tool_calls
    assert r.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    args = json.loads(call.function.arguments)
    jsonschema.validate(args, WEATHER["function"]["parameters"])
    again = c.chat.completions.create(
        model=MODELS[fake.flavor],
        messages=USER,
        tools=[TIME, WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        extra_body=_no_thinking(fake.flavor),
    )
    assert again.choices[0].message.tool_calls[0].function.arguments == call.function.arguments


def test_auto_tool_choice_calls_first_or_named_tool_then_answers_after_results(fake):
    c = client(fake)
    model = MODELS[fake.flavor]
    r = c.chat.completions.create(model=model, messages=USER, tools=[TIME, WEATHER])
    assert r.choices[0].message.tool_calls[0].function.name == "get_time"
    named = c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "use get_weather"}], tools=[TIME, WEATHER]
    )
    assert named.choices[0].message.tool_calls[0].function.name == "get_weather"
    msg = r.choices[0].message.model_dump(exclude_none=True)
    history = USER + [msg, {"role": "tool", "tool_call_id": msg["tool_calls"][0]["id"], "content": "12:00"}]
    follow = c.chat.completions.create(model=model, messages=history, tools=[TIME, WEATHER])
    assert follow.choices[0].message.content == "Based on the tool results: 12:00"
    assert not follow.choices[0].message.tool_calls


BOTH = [{"role": "user", "content": "What time is it in Tokyo, and what is the weather there?"}]


def _call_names(fake, messages=BOTH, **kw) -> list[str]:
    r = client(fake).chat.completions.create(model=MODELS[fake.flavor], messages=messages, tools=[TIME, WEATHER],
                                             **kw)
    calls = r.choices[0].message.tool_calls
    assert len({t.id for t in calls}) == len(calls)
    return [t.function.name for t in calls]


def test_openai_calls_every_named_tool_unless_parallel_tool_calls_is_false(fakes):
    """OpenAI: parallel function calling is on by default; `parallel_tool_calls=false` allows at most one."""
    oa = fakes["openai"]
    assert _call_names(oa) == ["get_time", "get_weather"]
    assert _call_names(oa, parallel_tool_calls=True) == ["get_time", "get_weather"]
    assert _call_names(oa, parallel_tool_calls=False) == ["get_time"]
    assert _call_names(oa, messages=[{"role": "user", "content": "use get_weather"}]) == ["get_weather"]
    assert _call_names(oa, messages=USER) == ["get_time"], "nothing named: one call to the first tool"


def test_deepseek_has_no_parallel_tool_calls_parameter_and_calls_every_named_tool(fakes):
    """DeepSeek documents no `parallel_tool_calls` (the adapter drops it); its models still make several calls
    in one turn when the request needs them."""
    ds = fakes["deepseek"]
    off = {"thinking": {"type": "disabled"}}
    assert _call_names(ds, extra_body=off) == ["get_time", "get_weather"]
    assert _call_names(ds, extra_body={**off, "parallel_tool_calls": False}) == ["get_time", "get_weather"]
    assert _call_names(ds, messages=USER, extra_body=off) == ["get_time"]


def test_vllm_ignores_parallel_tool_calls(fakes):
    vl = fakes["vllm"]
    q = [{"role": "user", "content": "Weather in Paris and the time in Tokyo?"}]
    both = _call_names(vl, messages=q)
    assert len(both) == 2, "the model calls every tool the request names"
    for flag in (True, False):
        assert _call_names(vl, messages=q, extra_body={"parallel_tool_calls": flag}) == both, "vLLM ignores the flag"


def test_a_tool_is_named_by_a_word_of_its_name(fakes):
    tools = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}}
             for n in ("lookup_order", "shipping_quote", "request_refund")]
    q = [{"role": "user", "content": "Where is my order, how much is shipping to FR, and can I get a refund?"}]
    for name in ("openai", "deepseek"):
        r = client(fakes[name]).chat.completions.create(model=MODELS[name], messages=q, tools=tools,
                                                          extra_body=_no_thinking(name))
        assert [t.function.name for t in r.choices[0].message.tool_calls] == [
            "lookup_order", "shipping_quote", "request_refund"]


def test_streamed_tool_call_reassembles(fake):
    c = client(fake)
    kw = dict(model=MODELS[fake.flavor], messages=USER, tools=[WEATHER], extra_body=_no_thinking(fake.flavor))
    whole = c.chat.completions.create(**kw).choices[0].message.tool_calls[0]
    args, name = "", None
    for ch in c.chat.completions.create(stream=True, **kw):
        for tc in (ch.choices[0].delta.tool_calls or []) if ch.choices else []:
            name = tc.function.name or name
            args += tc.function.arguments or ""
    assert name == "get_weather" and json.loads(args) == json.loads(whole.function.arguments)


def test_json_object_returns_json(fake):
    r = client(fake).chat.completions.create(
        model=MODELS[fake.flavor],
        response_format={"type": "json_object"},
        messages=[{"role": "system", "content": "Reply in JSON."}, *USER],
    )
    assert json.loads(r.choices[0].message.content)["input"] == "What is the capital of France?"


def test_json_schema_content_conforms(fakes):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "kind": {"enum": ["a", "b"]},
            "when": {"type": "string", "format": "date"},
            "score": {"type": "number", "minimum": 0, "maximum": 1},
            "ok": {"type": "boolean"},
            "child": {"$ref": "#/$defs/child"},
            "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "required": ["name", "tags", "kind", "when", "score", "ok", "child", "maybe"],
        "additionalProperties": False,
        "$defs": {"child": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}},
    }
    for name in ("openai", "vllm"):
        r = client(fakes[name]).chat.completions.create(
            model=MODELS[name],
            messages=USER,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": schema, "strict": True},
            },
        )
        jsonschema.validate(json.loads(r.choices[0].message.content), schema)


def test_n_choices_and_logprobs(fakes):
    for name in ("openai", "vllm"):
        r = client(fakes[name]).chat.completions.create(
            model=MODELS[name], messages=USER, n=3, logprobs=True, top_logprobs=2
        )
        assert [c.index for c in r.choices] == [0, 1, 2]
        assert all(c.message.content for c in r.choices)
        tokens = r.choices[0].logprobs.content
        assert "".join(t.token for t in tokens) == r.choices[0].message.content
        assert all(len(t.top_logprobs) == 2 and t.logprob <= 0 for t in tokens)
    c = client(fakes["deepseek"])
    r = c.chat.completions.create(model="deepseek-flash", messages=USER, logprobs=True, extra_body={"thinking": {"type": "disabled"}})
    assert r.choices[0].logprobs.content
    # V4.1: logprobs in thinking mode too, and they cover the reasoning
    r = c.chat.completions.create(model="deepseek-flash", messages=USER, logprobs=True)
    assert r.choices[0].logprobs.content and r.choices[0].logprobs.model_extra["reasoning_content"]


def test_max_tokens_and_stop_cut_the_answer(fake):
    c = client(fake)
    r = c.chat.completions.create(model=MODELS[fake.flavor], messages=USER, max_tokens=2)
    assert r.choices[0].finish_reason == "length" and len(r.choices[0].message.content) <= 8
    r = c.chat.completions.create(model=MODELS[fake.flavor], messages=USER, stop=["capital"])
    assert r.choices[0].message.content == "Echo: What is the "


@pytest.mark.parametrize(
    "kwargs, status, needle",
    [
        (
            {"messages": [{"role": "developer", "content": "be brief"}, *USER]},
            422,
            "unknown variant `developer`",
        ),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "object"}},
                }
            },
            400,
            "This response_format type is unavailable now",
        ),
        ({"response_format": {"type": "json_object"}}, 400, "must contain the word 'json'"),
        ({"n": 2}, 400, "only n = 1"),
        (
            {"tools": [WEATHER], "tool_choice": "required"},
            400,
            "Thinking mode does not support this tool_choice",
        ),
        ({"model": "gpt-4o"}, 400, "Model Not Exist"),
    ],
)
def test_deepseek_rejects_what_the_real_api_rejects(fakes, kwargs, status, needle):
    c = client(fakes["deepseek"])
    with pytest.raises(openai.APIStatusError) as info:
        c.chat.completions.create(**{"model": "deepseek-v4-flash", "messages": USER, **kwargs})
    assert info.value.status_code == status and needle in info.value.message
    body = info.value.body
    assert set(body) == {"message", "type", "param", "code"}


def test_deepseek_forced_tool_choice_works_without_thinking(fakes):
    c = client(fakes["deepseek"])
    r = c.chat.completions.create(
        model="deepseek-flash", messages=USER, tools=[WEATHER], tool_choice="required", extra_body={"thinking": {"type": "disabled"}}
    )
    assert r.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_deepseek_requires_reasoning_content_on_tool_call_turns_in_thinking_mode(fakes):
    c = client(fakes["deepseek"])
    first = c.chat.completions.create(model="deepseek-v4-flash", messages=USER, tools=[WEATHER])
    msg = first.choices[0].message.model_dump(exclude_none=True)
    tool = {"role": "tool", "tool_call_id": msg["tool_calls"][0]["id"], "content": "sunny"}
    stripped = {k: v for k, v in msg.items() if k != "reasoning_content"}
    with pytest.raises(
        openai.BadRequestError, match="The `reasoning_content` in the thinking mode must be passed back to the API"
    ):
        c.chat.completions.create(
            model="deepseek-v4-flash", messages=[*USER, stripped, tool], tools=[WEATHER]
        )
    ok = c.chat.completions.create(model="deepseek-v4-flash", messages=[*USER, msg, tool], tools=[WEATHER])
    assert ok.choices[0].message.content == "Based on the tool results: sunny"
    assert ok.usage.prompt_cache_hit_tokens > 0, "the repeated prefix counts as a cache hit"
    off = c.chat.completions.create(
        model="deepseek-v4-flash",
        messages=[*USER, stripped, tool],
        tools=[WEATHER],
        extra_body={"thinking": {"type": "disabled"}},
    )
    assert off.choices[0].message.content


def test_deepseek_v41_with_tools_wants_the_reasoning_of_every_earlier_assistant_turn(fakes):
    """V4.1: when the request carries `tools`, every earlier assistant turn must carry its reasoning_content,
    also turns without tool calls; without `tools` none is needed."""
    c = client(fakes["deepseek"])
    first = c.chat.completions.create(model="deepseek-flash", messages=USER)
    plain = {"role": "assistant", "content": first.choices[0].message.content}  # reasoning dropped by the app
    history = [*USER, plain, {"role": "user", "content": "And the weather there?"}]
    with pytest.raises(openai.BadRequestError, match="reasoning_content"):
        c.chat.completions.create(model="deepseek-flash", messages=history, tools=[WEATHER])
    assert c.chat.completions.create(model="deepseek-flash", messages=history).choices[0].message.content
    echoed = [*USER, {**plain, "reasoning_content": first.choices[0].message.reasoning_content}, history[-1]]
    r = c.chat.completions.create(model="deepseek-flash", messages=echoed, tools=[WEATHER])
    assert r.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_deepseek_images_only_on_flash_ids_and_in_user_messages(fakes):
    c = client(fakes["deepseek"])
    image = [{"type": "text", "text": "what is this?"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]
    for model in ("deepseek-flash", "deepseek-v4-flash", "deepseek-v4-flash-vision-exp"):  # legacy ids: V4.1
        assert c.chat.completions.create(model=model, messages=[{"role": "user", "content": image}]).choices
    with pytest.raises(openai.UnprocessableEntityError):
        c.chat.completions.create(model="deepseek-v4-pro", messages=[{"role": "user", "content": image}])
    with pytest.raises(openai.BadRequestError, match="only supported in user messages"):
        c.chat.completions.create(model="deepseek-flash", messages=[{"role": "system", "content": image}, *USER])


def test_openai_rejects_unknown_arguments_and_orphan_tool_messages(fakes):
    c = client(fakes["openai"])
    with pytest.raises(openai.BadRequestError, match="Unrecognized request argument supplied: thinking"):
        c.chat.completions.create(model="gpt-4o", messages=USER, extra_body={"thinking": {"type": "enabled"}})
    with pytest.raises(openai.BadRequestError, match="must be a response to a preceeding message"):
        c.chat.completions.create(
            model="gpt-4o", messages=[*USER, {"role": "tool", "tool_call_id": "x", "content": "1"}]
        )


def test_vllm_flat_errors_and_unknown_model():
    with FakeUpstream("vllm", vllm_error_style="flat") as fake:
        r = httpx.post(f"{fake.base_url}/chat/completions", json={"model": "nope", "messages": USER})
        assert r.status_code == 404
        assert r.json() == {
            "object": "error",
            "message": "The model `nope` does not exist.",
            "type": "NotFoundError",
            "param": "model",
            "code": 404,
        }
    with FakeUpstream("vllm", vllm_auto_tool_choice=False) as fake:
        with pytest.raises(openai.BadRequestError, match="enable-auto-tool-choice"):
            client(fake).chat.completions.create(
                model=MODELS["vllm"], messages=USER, tools=[WEATHER], tool_choice="auto"
            )


def test_auth_is_required_where_the_real_service_requires_it(fakes):
    r = httpx.post(f"{fakes['openai'].base_url}/chat/completions", json={"model": "gpt-4o", "messages": USER})
    assert r.status_code == 401 and "API key" in r.json()["error"]["message"]
    r = httpx.post(
        f"{fakes['vllm'].base_url}/chat/completions", json={"model": MODELS["vllm"], "messages": USER}
    )
    assert r.status_code == 200
    with FakeUpstream("openai", api_key="sk-right") as fake:
        with pytest.raises(openai.AuthenticationError) as err:
            client(fake).chat.completions.create(model="gpt-4o", messages=USER)
        assert "****-key" in err.value.message and "sk-test-key" not in err.value.message
        short = openai.OpenAI(base_url=fake.base_url, api_key="sk-1", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as err:
            short.chat.completions.create(model="gpt-4o", messages=USER)
        assert "sk-1" not in err.value.message
        assert [r.key_hint for r in fake.requests] == ["-key", None]


def test_requests_are_recorded_without_the_key(fakes):
    fake = fakes["openai"]
    client(fake).chat.completions.create(model="gpt-4o", messages=USER, temperature=0.5)
    (req,) = fake.requests
    assert req.method == "POST" and req.path == "/v1/chat/completions"
    assert req.json["temperature"] == 0.5 and req.json["messages"] == USER
    assert req.headers["Authorization"] == "<redacted>" and req.key_hint == "-key"
    assert "sk-test-key" not in json.dumps(req.to_dict())


FUNCTION = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                  "required": ["city"]}}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_openai_answers_legacy_functions_with_function_call(fakes, stream):
    c = client(fakes["openai"])
    kw = {"model": "gpt-4o", "functions": [FUNCTION], "function_call": {"name": "get_weather"},
          "messages": [{"role": "user", "content": "Paris?"}]}
    if stream:
        chunks = list(c.chat.completions.create(stream=True, **kw))
        calls = [ch.choices[0].delta.function_call for ch in chunks if ch.choices and ch.choices[0].delta.function_call]
        name = "".join(fc.name or "" for fc in calls)
        args = "".join(fc.arguments or "" for fc in calls)
        assert not any(ch.choices[0].delta.tool_calls for ch in chunks if ch.choices)
        assert chunks[-1].choices[0].finish_reason == "function_call"
    else:
        res = c.chat.completions.create(**kw)
        msg = res.choices[0].message
        assert msg.tool_calls is None and res.choices[0].finish_reason == "function_call"
        name, args = msg.function_call.name, msg.function_call.arguments
    assert name == "get_weather" and "city" in json.loads(args)
    followup = c.chat.completions.create(
        model="gpt-4o", functions=[FUNCTION],
        messages=[*kw["messages"], {"role": "assistant", "content": None,
                                    "function_call": {"name": name, "arguments": args}},
                  {"role": "function", "name": "get_weather", "content": "sunny"}])
    assert followup.choices[0].message.content == "Based on the tool results: sunny"


def test_deepseek_and_vllm_ignore_legacy_functions(fakes):
    for flavor, model in (("deepseek", "deepseek-flash"), ("vllm", "deepseek-ai/DeepSeek-V4-Flash")):
        res = client(fakes[flavor]).chat.completions.create(
            model=model, functions=[FUNCTION], function_call="auto", messages=[{"role": "user", "content": "hi"}])
        assert res.choices[0].message.function_call is None and res.choices[0].message.content == "Echo: hi"
