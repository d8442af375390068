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
