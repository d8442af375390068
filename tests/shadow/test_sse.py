"""Rebuilding a completion from stream bytes, and the failure kinds a mirror leg records."""

from __future__ import annotations

import gzip
import json

import pytest

from offramp.shadow.sse import StreamError, assemble_chat, first_token_index
from offramp.shadow.upstream import decode_body, parse_response


def sse(*events) -> bytes:
    return b"".join(b"data: " + (e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n\n" for e in events)


def chunk(delta, finish=None, **kw):
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **kw}


def test_assemble_text_and_tool_calls():
    raw = sse(
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}), chunk({"content": "lo"}),
        chunk({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "get_", "arguments": '{"ci'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"name": "weather", "arguments": 'ty": "Paris"}'}}]}),
        chunk({}, "tool_calls"),
        {"object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 7}},
        b"[DONE]",
    )
    out = assemble_chat(raw)
    msg = out["choices"][0]["message"]
    assert msg["content"] == "Hello"
    assert msg["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert out["choices"][0]["finish_reason"] == "tool_calls" and out["usage"]["completion_tokens"] == 7


def test_cut_and_malformed_streams():
    with pytest.raises(StreamError) as e:
        assemble_chat(sse(chunk({"content": "Hel"})))
    assert e.value.kind == "stream_cut"
    with pytest.raises(StreamError) as e:
        assemble_chat(sse(chunk({"content": "Hel"})) + b"data: {not json\n\n")
    assert e.value.kind == "malformed_json"
    assert parse_response(b"<html>", stream=False, status=200).error == "malformed_json"
    assert parse_response(b'{"error": {}}', stream=False, status=503).error == "http_5xx"


def test_first_token_skips_role_only_chunk():
    parts = [sse(chunk({"role": "assistant", "content": ""})), b": keep-alive\n\n", sse(chunk({"content": "Hi"}))]
    assert first_token_index(parts) == 2


def test_compressed_primary_body_is_decoded_for_comparison():
    body = json.dumps({"choices": []}).encode()
    assert decode_body(gzip.compress(body), "gzip") == body
    assert decode_body(body, None) == body


def test_long_stream_and_split_tool_arguments_are_rebuilt_whole():
    words = [f"w{i} " for i in range(3000)]
    args = '{"city": "Paris", "days": [1, 2, 3], "note": "é ✓"}'
    raw = sse(
        chunk({"role": "assistant", "content": ""}),
        *[chunk({"content": w}) for w in words],
        chunk({"refusal": "no"}),
        *[chunk({"tool_calls": [{"index": 0, "id": "c1" if i == 0 else None,
                                  "function": {"name": "get_weather" if i == 0 else "", "arguments": args[i:i + 3]}}]})
          for i in range(0, len(args), 3)],
        chunk({}, "tool_calls"),
        b"[DONE]",
    )
    msg = assemble_chat(raw)["choices"][0]["message"]
    assert msg["content"] == "".join(words)
    assert list(msg) == ["role", "content", "refusal", "tool_calls"]  # fields in the order they arrived
    assert msg["tool_calls"][0]["id"] == "c1"
    assert msg["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": args}


def test_stream_framing_edge_cases():
    # A non-UTF-8 byte in a comment does not spoil a valid stream; CRLF framing and multi-line data events parse.
    raw = b": keep-alive \xff\r\n\r\n" + sse(chunk({"content": "Hi"}, "stop"))
    assert assemble_chat(raw)["choices"][0]["message"]["content"] == "Hi"
    raw = b'data: {"object": "chat.completion.chunk",\r\ndata: "choices": [{"index": 0, "delta": {"content": "A"},' \
          b' "finish_reason": "stop"}]}\r\n\r\ndata: [DONE]\r\n\r\n'
    assert assemble_chat(raw)["choices"][0]["message"]["content"] == "A"
    # Two JSON values in one event, or a scalar event, are malformed whatever comes around them.
    for bad in (b'data: {} {}\n\n', b"data: 5\n\n", b"data:\n\n"):
        with pytest.raises(StreamError) as e:
            assemble_chat(sse(chunk({"content": "a"})) + bad + sse(chunk({}, "stop"), b"[DONE]"))
        assert e.value.kind == "malformed_json"


def test_llama_cpp_python_streams():
    """Real captures (tests/fixtures/llamacpp/): a tool call whose id and name repeat in every delta assembles to
    one call named once; a stream cut by the server (role chunk, then [DONE], no finish_reason) is a cut."""
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "llamacpp"
    lines = json.loads((fixtures / "chat_tool_call_stream.json").read_text())["sse"]
    out = assemble_chat("\n".join(lines).encode())
    (call,) = out["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather" and call["id"].startswith("call__0_get_weather_")
    assert out["choices"][0]["finish_reason"] == "tool_calls"
    role = json.loads(lines[0][6:])
    with pytest.raises(StreamError) as e:
        assemble_chat(sse(role, b"[DONE]"))
    assert e.value.kind == "stream_cut"
