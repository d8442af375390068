"""llama-cpp-python's recorded tool-call answers (tests/fixtures/llamacpp/, from the real server) come out of the
adapter's normalisation in OpenAI's shape: one of tool_calls / function_call, and a streamed call's id and name
once, so an app joining the pieces gets `get_weather`, not `get_weatherget_weather…`."""

from __future__ import annotations

import json
from pathlib import Path

from offramp.adapters import translate as tr
from offramp.adapters.profiles import load_profile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llamacpp"
PROFILE = load_profile("llama-cpp-python", "tiny")


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_message_keeps_tool_calls_and_drops_the_duplicate_function_call():
    body = _fixture("chat_tool_call")["body"]
    assert body["choices"][0]["message"]["function_call"]  # what the server sends
    msg = tr.normalize_chat_response(body, PROFILE)["choices"][0]["message"]
    assert "function_call" not in msg and msg["tool_calls"][0]["function"]["name"] == "get_weather"


def test_streamed_call_heads_come_once_and_the_pieces_join():
    lines = _fixture("chat_tool_call_stream")["sse"]
    chunks = [json.loads(ln[6:]) for ln in lines if ln.startswith("data: {")]
    norm = tr.StreamNormalizer(PROFILE, app_wants_usage=False)
    out = [c for chunk in chunks for c in norm.feed(chunk)]
    joined = {"id": "", "name": "", "arguments": ""}
    for chunk in out:
        delta = chunk["choices"][0]["delta"]
        assert "function_call" not in delta or delta["function_call"] is None
        for call in delta.get("tool_calls") or []:
            joined["id"] += call.get("id") or ""
            joined["name"] += (call.get("function") or {}).get("name") or ""
            joined["arguments"] += (call.get("function") or {}).get("arguments") or ""
    raw_id = next(c for c in chunks if c["choices"][0]["delta"].get("tool_calls"))["choices"][0]["delta"][
        "tool_calls"][0]["id"]
    assert joined["id"] == raw_id and joined["name"] == "get_weather"
    assert json.loads(joined["arguments"], strict=False)["city"]
    assert out[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_openai_style_stream_is_unchanged():
    """A backend that sends the head once (OpenAI, vLLM) passes through as it was."""
    norm = tr.StreamNormalizer(load_profile("vllm", "x"), app_wants_usage=False)
    head = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    piece = {"index": 0, "function": {"arguments": "{}"}}
    got = [norm.feed({"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [t]}}]})[0] for t in (head, piece)]
    assert [g["choices"][0]["delta"]["tool_calls"][0] for g in got] == [head, piece]


def test_a_500_that_is_a_rejection_is_a_400_sent_once(monkeypatch):
    """llama-cpp-python answers a request its schema rejects with HTTP 500; the adapter's retries on 500 would send
    it three times and the app would see a server fault. The profile names those messages: one call, a 400."""
    import pytest

    from offramp import adapters
    from offramp.adapters.config import parse_config
    from offramp.migrate.fake_upstream.testing import FakeUpstream

    with FakeUpstream("llama-cpp-python") as fake:
        cfg = parse_config(
            f'[backends.local]\nkind = "llama-cpp-python"\nbase_url = "{fake.base_url}"\ndefault_model = "tiny"\n'
            '[routes]\ndefault = "local"\n[retries]\nmax = 2\nbackoff_base = 0.01\n', "offramp.toml")
        client = adapters.OpenAI(api_key="sk-app", offramp_config=cfg)
        tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
        for stream in (False, True):
            fake.reset()
            with pytest.raises(adapters.BadRequestError) as exc:
                r = client.chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": "hi"}], tools=[tool], stream=stream,
                    tool_choice={"type": "function", "function": {"name": "get_time"}})
                list(r) if stream else None
            assert "Tool choice 'get_time' not found in tools." in str(exc.value)
            assert len([q for q in fake.requests if q.path.endswith("/chat/completions")]) == 1
        fake.reset()
        fake.script(status=500, times=1)  # a real fault is still retried
        r = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        assert r.choices[0].message.content and len(fake.requests) == 2


def test_required_with_one_tool_is_sent_named():
    """llama-cpp-python enforces only a named tool_choice; "required" with one tool means that tool, so the app's
    forced call happens. With several tools it cannot be chosen for the model: a lossy warning, no guess."""
    from offramp import adapters
    from offramp.adapters.config import parse_config
    from offramp.migrate.fake_upstream.testing import FakeUpstream

    def tool(name):
        return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}

    with FakeUpstream("llama-cpp-python") as fake:
        cfg = parse_config(f'[backends.local]\nkind = "llama-cpp-python"\nbase_url = "{fake.base_url}"\n'
                           'default_model = "tiny"\n[routes]\ndefault = "local"\n', "offramp.toml")
        client = adapters.OpenAI(api_key="sk-app", offramp_config=cfg)
        msgs = [{"role": "user", "content": "hi"}]
        r = client.chat.completions.create(model="gpt-4o", messages=msgs, tools=[tool("lookup")], tool_choice="required")
        assert r.choices[0].message.tool_calls[0].function.name == "lookup"
        assert fake.requests[-1].json["tool_choice"] == {"type": "function", "function": {"name": "lookup"}}
        r = client.chat.completions.create(model="gpt-4o", messages=msgs, tools=[tool("a_x"), tool("b_y")],
                                           tool_choice="required")
        assert not r.choices[0].message.tool_calls and fake.requests[-1].json["tool_choice"] == "required"
        assert any(c.field == "tool_choice" and c.lossy for c in r._offramp.changes)
