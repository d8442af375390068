"""The openai SDK's Responses calls, unchanged, through `offramp.adapters` against a chat-only backend (the fake
vLLM: translated to Chat Completions) and a Responses-capable one (the fake DeepSeek: native, only differences
translated)."""

from __future__ import annotations

import json

import openai
import pytest
from adapter_helpers import call, config, make_client
from pydantic import BaseModel

MODELS = '"gpt-4o" = "vllm/deepseek-ai/DeepSeek-V4-Flash"\n"gpt-5" = "deepseek/deepseek-flash"'
BACKENDS = [("vllm", "gpt-4o"), ("deepseek", "gpt-5")]
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                   "additionalProperties": False},
}


def _client(fakes, is_async=False, extra=""):
    return make_client(fakes, config(fakes, extra, models=MODELS), is_async=is_async)


def _posts(fake):
    return [r for r in fake.requests if r.method == "POST"]


def _sent(fakes, backend):
    """What the backend received: the chat body on vLLM, the Responses body on DeepSeek."""
    reqs = _posts(fakes[backend])
    want = "/v1/chat/completions" if backend == "vllm" else "/v1/responses"
    assert [r.path for r in reqs] == [want] * len(reqs)
    return [r.json for r in reqs]


@pytest.mark.parametrize("backend,model", BACKENDS)
def test_create_plain(fakes, backend, model):
    c = _client(fakes)
    r = c.responses.create(model=model, input="hello there", instructions="Answer briefly.")
    assert r.output_text == "Echo: hello there"
    assert r.status == "completed" and r.object == "response" and r.id.startswith("resp_")
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens
    assert r.output[-1].type == "message" and r.output[-1].id.startswith("msg_")
    rec = r._offramp
    assert rec.backend == backend and rec.endpoint == "responses" and rec.usage
    assert any(ch.field == "api" for ch in rec.changes) is (backend == "vllm")
    (body,) = _sent(fakes, backend)
    if backend == "vllm":
        assert body["messages"] == [{"role": "system", "content": "Answer briefly."},
                                    {"role": "user", "content": "hello there"}]
        assert body["model"] == "deepseek-ai/DeepSeek-V4-Flash"
    else:  # native: the app's body, with DeepSeek's thinking default switched off (the app asked for none)
        assert body["input"] == "hello there" and body["instructions"] == "Answer briefly."
        assert body["reasoning"] == {"effort": "none"} and body["model"] == "deepseek-flash"
    assert not _posts(fakes["openai"])


@pytest.mark.parametrize("backend,model", BACKENDS)
def test_input_items_and_developer(fakes, backend, model):
    c = _client(fakes)
    r = c.responses.create(model=model, input=[
        {"role": "developer", "content": "Be terse."},
        {"role": "user", "content": [{"type": "input_text", "text": "what is this"},
                                     {"type": "input_image", "image_url": "https://example.com/cat.png",
                                      "detail": "auto"}]},
    ])
    assert r.output_text
    (body,) = _sent(fakes, backend)
    if backend == "vllm":
        assert body["messages"][0] == {"role": "system", "content": "Be terse."}
        assert body["messages"][1]["content"] == [{"type": "text", "text": "what is this"},
                                                  {"type": "image_url",
                                                   "image_url": {"url": "https://example.com/cat.png"}}]
    else:  # DeepSeek treats developer as user: sent as system
        assert body["input"][0] == {"role": "system", "content": "Be terse."}
        assert body["input"][1]["content"][1]["type"] == "input_image"


@pytest.mark.asyncio
@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("backend,model", BACKENDS)
async def test_stream_events(fakes, backend, model, is_async):
    c = _client(fakes, is_async)
    names, deltas = [], []
    if is_async:
        async with c.responses.stream(model=model, input="stream me please") as s:
            async for ev in s:
                names.append(ev.type)
                if ev.type == "response.output_text.delta":
                    deltas.append(ev.delta)
            final = await s.get_final_response()
    else:
        with c.responses.stream(model=model, input="stream me please") as s:
            for ev in s:
                names.append(ev.type)
                if ev.type == "response.output_text.delta":
                    deltas.append(ev.delta)
            final = s.get_final_response()
    assert names[0] == "response.created" and names[-1] == "response.completed"
    for name in ("response.output_item.added", "response.content_part.added", "response.output_text.done",
                 "response.output_item.done"):
        assert name in names
    assert len(deltas) > 1 and "".join(deltas) == final.output_text == "Echo: stream me please"
    assert final.usage is not None and final.usage.output_tokens > 0
    (body,) = _sent(fakes, backend)
    assert body["stream"] is True


@pytest.mark.parametrize("backend,model", BACKENDS)
def test_create_stream_true_sequence_numbers(fakes, backend, model):
    c = _client(fakes)
    events = list(c.responses.create(model=model, input="count me", stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    done = [e for e in events if e.type == "response.completed"][0]
    assert done.response.output_text == "Echo: count me" and done.response.usage.input_tokens > 0


class Weather(BaseModel):
    city: str
    temperature_c: float
    sunny: bool


@pytest.mark.asyncio
@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize("backend,model", BACKENDS)
async def test_parse_text_format(fakes, backend, model, is_async):
    c = _client(fakes, is_async)
    r = await call(c, "responses.parse", model=model, input="weather in Paris", text_format=Weather)
    assert isinstance(r.output_parsed, Weather)
    (body,) = _sent(fakes, backend)
    if backend == "vllm":
        rf = body["response_format"]
        assert rf["type"] == "json_schema" and rf["json_schema"]["name"] == "Weather"
        assert rf["json_schema"]["schema"]["required"] == ["city", "temperature_c", "sunny"]
    else:  # DeepSeek's Responses endpoint takes json_schema natively: nothing emulated
        assert body["text"]["format"]["type"] == "json_schema" and "response_format" not in body
        assert "JSON" not in json.dumps(body["input"])


@pytest.mark.parametrize("backend,model", BACKENDS)
def test_function_tool_round_trip_by_previous_response_id(fakes, backend, model):
    c = _client(fakes)
    first = c.responses.create(model=model, input="What is the weather in Paris?", tools=[WEATHER])
    (fc,) = [o for o in first.output if o.type == "function_call"]
    assert fc.name == "get_weather" and "city" in json.loads(fc.arguments) and fc.call_id
    second = c.responses.create(model=model, previous_response_id=first.id, tools=[WEATHER], input=[
        {"type": "function_call_output", "call_id": fc.call_id, "output": '{"temp": 21}'}])
    assert second.output_text == 'Based on the tool results: {"temp": 21}'
    assert second.previous_response_id == first.id
    bodies = _sent(fakes, backend)
    if backend == "vllm":
        assert bodies[0]["tools"] == [{"type": "function", "function": {
            k: WEATHER[k] for k in ("name", "description", "parameters")}}]
        msgs = bodies[1]["messages"]
        assert msgs[-2]["role"] == "assistant" and msgs[-2]["tool_calls"][0]["id"] == fc.call_id
        assert msgs[-1] == {"role": "tool", "tool_call_id": fc.call_id, "content": '{"temp": 21}'}
    else:  # the stateless backend gets the whole conversation as input items, no previous_response_id
        assert "previous_response_id" not in bodies[1]
        types = [i.get("type", "message") for i in bodies[1]["input"]]
        assert types == ["message", "function_call", "function_call_output"]


@pytest.mark.parametrize("backend,model", BACKENDS)
def test_function_tool_round_trip_by_items(fakes, backend, model):
    """Stateless style (store=False): the app sends the output items back itself."""
    c = _client(fakes)
    q = [{"role": "user", "content": "Weather in Rome?"}]
    first = c.responses.create(model=model, input=q, tools=[WEATHER], tool_choice="required", store=False)
    fc = first.output[-1]
    assert fc.type == "function_call"
    with pytest.raises(openai.BadRequestError, match="not in Offramp's conversation store"):
        c.responses.create(model=model, input="again", previous_response_id=first.id)
    items = q + [o.model_dump(exclude_none=True) for o in first.output] + [
        {"type": "function_call_output", "call_id": fc.call_id, "output": "sunny"}]
    second = c.responses.create(model=model, input=items, tools=[WEATHER])
    assert second.output_text == "Based on the tool results: sunny"
    if backend == "deepseek":  # forced tool_choice is rejected in thinking mode: thinking stays off
        assert _sent(fakes, backend)[0]["reasoning"] == {"effort": "none"}


@pytest.mark.parametrize("backend,model", BACKENDS)
def test_stream_function_call(fakes, backend, model):
    c = _client(fakes)
    with c.responses.stream(model=model, input="Weather in Oslo?", tools=[WEATHER]) as s:
        events = list(s)
        final = s.get_final_response()
    names = [e.type for e in events]
    assert "response.function_call_arguments.delta" in names and "response.function_call_arguments.done" in names
    (fc,) = [o for o in final.output if o.type == "function_call"]
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert json.loads(args) == json.loads(fc.arguments) and fc.name == "get_weather"
    done = [e for e in events if e.type == "response.function_call_arguments.done"][0]
    assert done.arguments == fc.arguments
    # the streamed response is stored too: the tool result chains onto it
    nxt = c.responses.create(model=model, previous_response_id=final.id, input=[
        {"type": "function_call_output", "call_id": fc.call_id, "output": "cold"}])
    assert nxt.output_text == "Based on the tool results: cold"


@pytest.mark.asyncio
@pytest.mark.parametrize("backend,model", BACKENDS)
async def test_previous_response_id_chain(fakes, backend, model):
    c = _client(fakes, is_async=True)
    r1 = await c.responses.create(model=model, input="my name is Ada", instructions="Be kind.")
    r2 = await c.responses.create(model=model, input="what is my name", previous_response_id=r1.id)
    r3 = await c.responses.create(model=model, input="and again", previous_response_id=r2.id)
    assert r3.output_text == "Echo: and again" and r3.previous_response_id == r2.id
    bodies = _sent(fakes, backend)
    if backend == "vllm":
        # instructions are not carried over by previous_response_id (as on OpenAI); every turn is
        roles = [(m["role"], m["content"]) for m in bodies[2]["messages"]]
        assert roles == [("user", "my name is Ada"), ("assistant", "Echo: my name is Ada"),
                         ("user", "what is my name"), ("assistant", "Echo: what is my name"),
                         ("user", "and again")]
    else:
        texts = [i["content"] if i.get("role") == "user" else i["content"][0]["text"] for i in bodies[2]["input"]]
        assert texts == ["my name is Ada", "Echo: my name is Ada", "what is my name", "Echo: what is my name",
                         "and again"]
    got = await c.responses.retrieve(r2.id)  # answered from the local store: the backend keeps nothing
    assert got.output_text == r2.output_text and got.id == r2.id
    listed = await c.responses.input_items.list(r2.id)
    assert [(i.type, i.role, i.content[0].text) for i in listed.data] == [("message", "user", "what is my name")]
    assert r2.model_dump()["id"] == r2.id and got._offramp.backend == "offramp"
    await c.responses.delete(r2.id)
    with pytest.raises(openai.BadRequestError, match="previous_response_id"):
        await c.responses.create(model=model, input="x", previous_response_id=r2.id)


@pytest.mark.parametrize("backend,model", BACKENDS)
def test_reasoning_items(fakes, backend, model):
    """Reasoning on: a reasoning item with the text; sent back on the next turn the way the backend wants it."""
    c = _client(fakes)
    r = c.responses.create(model=model, input="think about 2+2", reasoning={"effort": "high"})
    (item,) = [o for o in r.output if o.type == "reasoning"]
    assert item.content and item.content[0].type == "reasoning_text" and item.content[0].text
    assert r.output[-1].type == "message"
    c.responses.create(model=model, input="and 3+3", previous_response_id=r.id, reasoning={"effort": "high"})
    bodies = _sent(fakes, backend)
    if backend == "vllm":  # vLLM: thinking via chat_template_kwargs, reasoning re-sent as `reasoning`
        assert bodies[0]["chat_template_kwargs"]["thinking"] is True
        assert bodies[1]["messages"][1]["reasoning"] == item.content[0].text
    else:
        assert bodies[0]["reasoning"] == {"effort": "high"}
        assert bodies[1]["input"][1]["type"] == "reasoning"


@pytest.mark.parametrize("backend,model", BACKENDS)
@pytest.mark.parametrize("tool", [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_1"]},
                                  {"type": "code_interpreter", "container": {"type": "auto"}},
                                  {"type": "computer_use_preview", "display_width": 1024, "display_height": 768,
                                   "environment": "browser"}])
def test_builtin_tool_is_a_clear_400(fakes, backend, model, tool):
    c = _client(fakes)
    with pytest.raises(openai.BadRequestError) as err:
        c.responses.create(model=model, input="search the web", tools=[WEATHER, tool])
    msg = str(err.value)
    assert f"built-in tool {tool['type']!r}" in msg and f"backend {backend!r}" in msg
    assert err.value.code == "unsupported_builtin_tool" and err.value.param == "tools"
    assert not _posts(fakes[backend]) and not _posts(fakes["openai"])


def test_builtin_tool_falls_back_to_openai(fakes):
    cfg = config(fakes, models=MODELS, fallback='fallback = ["openai"]')
    c = make_client(fakes, cfg)
    r = c.responses.create(model="gpt-4o", input="news today", tools=[{"type": "web_search"}])
    assert r.output_text and [p.path for p in _posts(fakes["openai"])] == ["/v1/responses"]
    assert not _posts(fakes["vllm"])


def test_sqlite_store_shared_between_clients(fakes, tmp_path):
    extra = '[responses]\nstore = "conv.sqlite"\nttl = 600\n'
    (tmp_path / "offramp.toml").write_text("")
    cfg = config(fakes, extra, models=MODELS)
    cfg.path = str(tmp_path / "offramp.toml")
    first = make_client(fakes, cfg).responses.create(model="gpt-4o", input="remember me")
    from offramp.adapters.conversations import reset_stores

    reset_stores()  # a new process would start with nothing in memory
    second = make_client(fakes, cfg).responses.create(model="gpt-4o", input="ok", previous_response_id=first.id)
    assert second.output_text == "Echo: ok" and (tmp_path / "conv.sqlite").is_file()
    assert [m["content"] for m in _posts(fakes["vllm"])[-1].json["messages"]] == ["remember me",
                                                                                 "Echo: remember me", "ok"]


def test_openai_default_route_is_untouched(fakes):
    """Unrouted models still go to OpenAI natively, with OpenAI's own state."""
    c = _client(fakes)
    r1 = c.responses.create(model="gpt-4.1", input="hi")
    r2 = c.responses.create(model="gpt-4.1", input="again", previous_response_id=r1.id)
    assert r2.output_text == "Echo: again"
    assert [p.json.get("previous_response_id") for p in _posts(fakes["openai"])] == [None, r1.id]


@pytest.mark.parametrize("backend,model", BACKENDS)
def test_stream_cut_mid_way_raises_and_stores_nothing(fakes, backend, model):
    c = _client(fakes, extra="")
    fakes[backend].script(cut_after=4)
    seen, ids = [], []
    with pytest.raises(openai.APIError, match="broke off"):
        with c.responses.stream(model=model, input="a long answer please") as s:
            for ev in s:
                seen.append(ev.type)
                if ev.type == "response.created":
                    ids.append(ev.response.id)
    assert seen and "response.completed" not in seen
    with pytest.raises(openai.BadRequestError, match="not in Offramp's conversation store"):
        c.responses.create(model=model, input="go on", previous_response_id=ids[0])


@pytest.mark.parametrize("backend,model", BACKENDS)
def test_backend_errors_reach_the_app_as_openai_errors(fakes, backend, model):
    c = _client(fakes)
    fakes[backend].script(status=400, message="bad things", times=1)
    with pytest.raises(openai.BadRequestError, match="bad things"):
        c.responses.create(model=model, input="x")
    fakes[backend].script(status=429, times=1)  # retried like any other call, then answered
    assert c.responses.create(model=model, input="retry me").output_text == "Echo: retry me"


def test_strict_mode_refuses_a_dropped_field(fakes):
    c = _client(fakes, extra="[settings]\nstrict = true\n")
    with pytest.raises(openai.BadRequestError, match="strict mode: truncation"):
        c.responses.create(model="gpt-4o", input="x", truncation="auto")
    assert not _posts(fakes["vllm"])
    r = _client(fakes).responses.create(model="gpt-4o", input="x", truncation="auto")
    assert [(ch.action, ch.field) for ch in r._offramp.changes if ch.lossy] == [("dropped", "truncation")]


@pytest.mark.parametrize("backend,model", BACKENDS)
def test_max_output_tokens_gives_an_incomplete_response(fakes, backend, model):
    c = _client(fakes)
    q = "tell me a long story about dragons and knights"
    r = c.responses.create(model=model, input=q, max_output_tokens=3)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    assert r.output_text and len(r.output_text) < len("Echo: " + q)
    events = list(c.responses.create(model=model, input=q, max_output_tokens=3, stream=True))
    assert events[-1].type == "response.incomplete" and events[-1].response.output_text == r.output_text


class GetWeather(BaseModel):
    city: str
    days: int


@pytest.mark.parametrize("backend,model", BACKENDS)
def test_parse_pydantic_function_tool(fakes, backend, model):
    c = _client(fakes)
    r = c.responses.parse(model=model, input="Forecast for Lyon", tools=[openai.pydantic_function_tool(GetWeather)])
    (fc,) = [o for o in r.output if o.type == "function_call"]
    assert isinstance(fc.parsed_arguments, GetWeather) and fc.name == "GetWeather"
    (body,) = _sent(fakes, backend)
    tool = body["tools"][0]["function"] if backend == "vllm" else body["tools"][0]
    assert tool["strict"] is True and tool["parameters"]["required"] == ["city", "days"]
