"""Dict-level Responses ↔ Chat Completions translation (shared with the shadow proxy) and the conversation store."""

from __future__ import annotations

import pytest

from offramp.adapters import responses as rs
from offramp.adapters.conversations import ConversationStore


def test_items_to_messages_reasoning_calls_and_outputs():
    items = [
        {"type": "message", "role": "user", "content": "hi"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "content": [{"type": "reasoning_text", "text": "think"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
        {"type": "function_call", "call_id": "c1", "name": "a", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "b", "arguments": "{\"x\":1}"},
        {"type": "function_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "one"}]},
        {"type": "function_call_output", "call_id": "c2", "output": "two"},
    ]
    msgs = rs.items_to_messages(items, "sys")
    assert msgs[0] == {"role": "system", "content": "sys"}
    assert msgs[2] == {"role": "assistant", "content": "Let me check.", "reasoning_content": "think",
                       "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
                                      {"id": "c2", "type": "function",
                                       "function": {"name": "b", "arguments": "{\"x\":1}"}}]}
    assert msgs[3:] == [{"role": "tool", "tool_call_id": "c1", "content": "one"},
                        {"role": "tool", "tool_call_id": "c2", "content": "two"}]


@pytest.mark.parametrize("item,where", [
    ({"type": "item_reference", "id": "msg_1"}, "item_reference"),
    ({"type": "web_search_call", "id": "ws_1"}, "'web_search_call'"),
    ({"role": "user", "content": [{"type": "input_file", "file_url": "https://x/y.pdf"}]}, "file_url"),
    ({"role": "tool", "content": "x"}, "input[0].role"),
])
def test_untranslatable_items_name_the_field(item, where):
    with pytest.raises(rs.ResponsesError, match=r"input\[0\]") as err:
        rs.to_chat({"model": "m", "input": [item]})
    assert where in str(err.value)


def test_to_chat_fields():
    chat, notes = rs.to_chat({
        "model": "m", "input": "q", "stream": True, "max_output_tokens": 9, "temperature": 0.2, "user": "u1",
        "tool_choice": {"type": "allowed_tools", "mode": "required", "tools": []},
        "tools": [{"type": "function", "name": "f", "parameters": {}, "strict": True}],
        "text": {"format": {"type": "json_object"}, "verbosity": "low"}, "truncation": "auto", "store": False,
    })
    assert chat["stream_options"] == {"include_usage": True} and chat["max_completion_tokens"] == 9
    assert chat["tools"] == [{"type": "function", "function": {"name": "f", "parameters": {}, "strict": True}}]
    assert chat["tool_choice"] == "required" and chat["response_format"] == {"type": "json_object"}
    assert chat["verbosity"] == "low" and chat["user"] == "u1" and "store" not in chat
    assert notes == ["truncation: no Chat Completions equivalent, not sent"]


def test_from_chat_incomplete_usage_and_calls():
    chat = {"id": "x", "model": "m", "created": 5, "choices": [{"index": 0, "finish_reason": "length", "message": {
        "role": "assistant", "content": "partial", "reasoning_content": "r",
        "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14,
                  "prompt_tokens_details": {"cached_tokens": 6}, "completion_tokens_details": {"reasoning_tokens": 2}}}
    resp = rs.from_chat(chat, {"model": "gpt-4o", "store": False}, "resp_1")
    assert resp["status"] == "incomplete" and resp["incomplete_details"] == {"reason": "max_output_tokens"}
    assert [o["type"] for o in resp["output"]] == ["reasoning", "message", "function_call"]
    assert resp["output"][2]["call_id"] == "call_9" and resp["store"] is False and resp["created_at"] == 5
    assert resp["usage"] == {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 6, "cache_write_tokens": 0},
                             "output_tokens": 4, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 14}
    assert rs.usage_to_chat(resp["usage"])["prompt_tokens_details"] == {"cached_tokens": 6}


def _chunk(delta=None, finish=None, usage=None):
    c = {"id": "c", "model": "m", "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}
    if usage:
        c = {"id": "c", "model": "m", "choices": [], "usage": usage}
    return c


def test_stream_converter_orders_items_and_indexes():
    conv = rs.ChatStreamToResponses({"model": "gpt-4o"}, "resp_s")
    evs = []
    for ch in [_chunk({"role": "assistant", "reasoning_content": "hm"}), _chunk({"content": "Hel"}),
               _chunk({"content": "lo"}),
               _chunk({"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "f", "arguments": "{\"a\""}}]}),
               _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ":1}"}}]}),
               _chunk({"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "g", "arguments": "{}"}}]}),
               _chunk(finish="tool_calls"), _chunk(usage={"prompt_tokens": 3, "completion_tokens": 2})]:
        evs += conv.feed(ch)
    evs += conv.finish()
    names = [n for n, _ in evs]
    assert names[:2] == ["response.created", "response.in_progress"] and names[-1] == "response.completed"
    added = [(d["output_index"], d["item"]["type"]) for n, d in evs if n == "response.output_item.added"]
    assert added == [(0, "reasoning"), (1, "message"), (2, "function_call"), (3, "function_call")]
    done = {d["output_index"]: d["item"] for n, d in evs if n == "response.output_item.done"}
    assert done[1]["content"][0]["text"] == "Hello" and done[2]["arguments"] == "{\"a\":1}"
    assert done[2]["call_id"] == "call_a" and done[3]["name"] == "g"
    assert [d["sequence_number"] for _, d in evs] == list(range(len(evs)))
    final = evs[-1][1]["response"]
    assert final["usage"]["input_tokens"] == 3 and [o["id"] for o in final["output"]] == [
        d["item"]["id"] for n, d in evs if n == "response.output_item.done"]


def test_builtin_tools_found_in_tools_and_tool_choice():
    body = {"tools": [{"type": "function", "name": "f"}, {"type": "file_search"}],
            "tool_choice": {"type": "web_search_preview"}}
    assert rs.builtin_tools(body) == ["file_search", "web_search_preview"]
    with pytest.raises(rs.BuiltinToolError, match="'file_search' is not available on backend 'x'"):
        rs.check_builtin_tools(body, [], "'x'")


def test_store_ttl_lru_and_sqlite(tmp_path):
    s = ConversationStore(ttl=10, max_entries=2)
    s.put("a", {"items": [1]}, now=100)
    assert s.get("a", now=109) == {"items": [1]} and s.get("a", now=111) is None
    for k in ("a", "b", "c"):
        s.put(k, {"k": k}, now=200)
    assert s.get("a", now=201) is None and s.get("c", now=201) == {"k": "c"}  # least recently used dropped
    path = str(tmp_path / "c.sqlite")
    one = ConversationStore(ttl=10, path=path)
    one.put("r", {"items": ["x"]}, now=100)
    two = ConversationStore(ttl=10, path=path)  # another process naming the same file
    assert two.get("r", now=105) == {"items": ["x"]} and two.get("r", now=120) is None
    assert two.delete("r") and one.get("r", now=105) is None
