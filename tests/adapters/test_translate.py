"""The dict-level translation the client and the shadow proxy share: every rule, without any server."""

from __future__ import annotations

import pytest

from offramp.adapters.profiles import load_profile
from offramp.adapters.translate import (
    ReasoningCache,
    StreamNormalizer,
    StrictModeError,
    merge_fan_out,
    normalize_chat_response,
    sanitize_user_id,
    translate_chat_request,
)

V4 = load_profile("deepseek", "deepseek-v4-flash")
VLLM = load_profile("vllm", "any")
OLLAMA = load_profile("ollama", "llama3")
OPENAI = load_profile("openai", "gpt-4o")


def msgs(*texts):
    return [{"role": "user", "content": t} for t in texts]


def fields(t):
    return {(c.action, c.field) for c in t.changes}


def test_openai_profile_changes_nothing_but_stream_usage():
    body = {"model": "gpt-4o", "messages": [{"role": "developer", "content": "x"}], "seed": 1, "n": 2, "user": "u@x",
            "max_completion_tokens": 5, "response_format": {"type": "json_schema", "json_schema": {"name": "a",
                                                                                                   "schema": {}}}}
    t = translate_chat_request(body, OPENAI)
    assert t.body == body and t.changes == [] and t.emulation.fan_out == 1


def test_deepseek_request_shape():
    body = {"model": "deepseek-v4-flash", "messages": [{"role": "developer", "content": "be brief"}, *msgs("hi")],
            "max_completion_tokens": 64, "seed": 7, "logit_bias": {"1": 2}, "parallel_tool_calls": True,
            "user": "alice@example.com", "store": True, "metadata": {"a": "b"},
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}},
                      {"type": "custom", "custom": {"name": "c"}}]}
    t = translate_chat_request(body, V4)
    b = t.body
    assert b["messages"][0] == {"role": "system", "content": "be brief"}
    assert b["max_tokens"] == 64 and "max_completion_tokens" not in b
    for gone in ("seed", "logit_bias", "parallel_tool_calls", "store", "metadata", "user"):
        assert gone not in b
    assert b["user_id"] == sanitize_user_id("alice@example.com")
    assert [tool["type"] for tool in b["tools"]] == ["function"]
    assert b["thinking"] == {"type": "disabled"}
    assert ("dropped", "seed") in fields(t) and ("translated", "messages.role") in fields(t)
    assert ("dropped", "tools") in fields(t)
    assert body["messages"][0]["role"] == "developer"  # the input is not mutated


def test_user_id_sanitising_is_stable_and_distinct():
    assert sanitize_user_id("user_42") == "user_42"
    a, b = sanitize_user_id("a@x.com"), sanitize_user_id("a#x.com")
    assert a != b and a == sanitize_user_id("a@x.com")
    assert all(c.isalnum() or c in "-_" for c in a)
    assert len(sanitize_user_id("x" * 2000).encode()) <= 512


def test_strict_mode_refuses_lossy_changes_but_not_lossless_ones():
    ok = translate_chat_request({"model": "m", "messages": [{"role": "developer", "content": "x"}],
                                 "max_completion_tokens": 3}, V4, strict=True)
    assert ok.body["messages"][0]["role"] == "system"
    with pytest.raises(StrictModeError, match="seed"):
        translate_chat_request({"model": "m", "messages": msgs("x"), "seed": 1}, V4, strict=True)


def test_json_schema_emulated_with_schema_and_word_json_in_prompt():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    t = translate_chat_request({"model": "m", "messages": msgs("give a"), "response_format": {
        "type": "json_schema", "json_schema": {"name": "A", "schema": schema, "strict": True}}}, V4)
    assert t.body["response_format"] == {"type": "json_object"}
    last = t.body["messages"][-1]["content"]
    assert "json" in last and '"required":["a"]' in last
    assert t.emulation.json_schema == schema and t.emulation.json_retry
    native = translate_chat_request({"model": "m", "messages": msgs("x"), "response_format": {
        "type": "json_schema", "json_schema": {"name": "A", "schema": schema}}}, VLLM)
    assert native.body["response_format"]["type"] == "json_schema" and native.emulation.json_schema is None


def test_json_object_gets_the_word_json_only_when_missing():
    t = translate_chat_request({"model": "m", "messages": msgs("list colours"),
                                "response_format": {"type": "json_object"}}, V4)
    assert "json" in t.body["messages"][-1]["content"]
    t2 = translate_chat_request({"model": "m", "messages": msgs("answer in JSON"),
                                 "response_format": {"type": "json_object"}}, V4)
    assert t2.body["messages"][-1]["content"] == "answer in JSON"


def test_n_fan_out_where_backend_has_no_n():
    t = translate_chat_request({"model": "m", "messages": msgs("x"), "n": 3}, V4)
    assert "n" not in t.body and t.emulation.fan_out == 3
    assert translate_chat_request({"model": "m", "messages": msgs("x"), "n": 3}, VLLM).body["n"] == 3


PRO = load_profile("deepseek", "deepseek-v4-pro")
FLASH = load_profile("deepseek", "deepseek-flash")


@pytest.mark.parametrize("profile", [V4, FLASH, PRO], ids=lambda p: p.family)
@pytest.mark.parametrize("effort,thinking,sent", [
    ("none", {"type": "disabled"}, None), ("minimal", {"type": "enabled"}, "low"),
    ("low", {"type": "enabled"}, "low"), ("medium", {"type": "enabled"}, "high"),
    ("high", {"type": "enabled"}, "high"), ("xhigh", {"type": "enabled"}, "high"),  # V4.1: xhigh → high, not max
    ("max", {"type": "enabled"}, "max"),
])
def test_reasoning_effort_maps_to_deepseek_thinking(profile, effort, thinking, sent):
    t = translate_chat_request({"model": "m", "messages": msgs("x"), "reasoning_effort": effort}, profile)
    assert t.body["thinking"] == thinking and t.body.get("reasoning_effort") == sent


def test_v41_flash_sampling_rules():
    """V4.1 Flash: temperature has no effect in thinking mode; top_p works ONLY in thinking mode, within
    0.95–1.0; the penalties are no-ops in every mode; logprobs work in both modes."""
    t = translate_chat_request({"model": "m", "messages": msgs("x"), "reasoning_effort": "high",
                                "temperature": 0.2, "top_p": 0.5, "presence_penalty": 1, "logprobs": True,
                                "top_logprobs": 3}, V4)
    assert "temperature" not in t.body and "presence_penalty" not in t.body
    assert t.body["top_p"] == 0.95 and t.body["logprobs"] is True and t.body["top_logprobs"] == 3
    clamp = next(c for c in t.changes if c.field == "top_p")
    assert clamp.lossy and "0.95" in clamp.detail
    assert translate_chat_request({"model": "m", "messages": msgs("x"), "reasoning_effort": "high",
                                   "top_p": 0.98}, V4).body["top_p"] == 0.98
    t2 = translate_chat_request({"model": "m", "messages": msgs("x"), "temperature": 0.2, "top_p": 0.5,
                                 "frequency_penalty": 0.5, "logprobs": True}, V4)
    assert t2.body["temperature"] == 0.2 and t2.body["logprobs"] is True  # thinking off: temperature works
    assert "top_p" not in t2.body and "frequency_penalty" not in t2.body  # fixed at 1.0 / no effect
    assert {("dropped", "top_p"), ("dropped", "frequency_penalty")} <= fields(t2)
    assert all(c.lossy for c in t2.changes if c.field in ("top_p", "frequency_penalty"))
    with pytest.raises(StrictModeError, match="top_p"):
        translate_chat_request({"model": "m", "messages": msgs("x"), "top_p": 0.5}, V4, strict=True)


def test_v4_pro_keeps_top_p_without_thinking_and_drops_it_with():
    t = translate_chat_request({"model": "m", "messages": msgs("x"), "top_p": 0.5}, PRO)
    assert t.body["top_p"] == 0.5
    t2 = translate_chat_request({"model": "m", "messages": msgs("x"), "top_p": 0.5, "reasoning_effort": "max"}, PRO)
    assert "top_p" not in t2.body and t2.body["reasoning_effort"] == "max"


def test_unset_max_tokens_becomes_the_model_maximum_on_deepseek():
    """OpenAI's default output limit is the model's maximum; DeepSeek's is 8K without thinking: an app that never
    set max_tokens must not be cut at 8K."""
    t = translate_chat_request({"model": "m", "messages": msgs("x")}, V4)
    assert t.body["max_tokens"] == 393216
    change = next(c for c in t.changes if c.field == "max_tokens")
    assert "8192" in change.detail and not change.lossy
    assert translate_chat_request({"model": "m", "messages": msgs("x"), "max_tokens": 100}, V4).body["max_tokens"] == 100
    assert translate_chat_request({"model": "m", "messages": msgs("x"), "max_completion_tokens": 50},
                                  V4).body["max_tokens"] == 50
    assert "max_tokens" not in translate_chat_request({"model": "m", "messages": msgs("x")}, VLLM).body


def test_with_tools_v41_gets_the_reasoning_of_every_earlier_assistant_turn():
    """DeepSeek V4.1: when the request carries `tools`, the reasoning_content of ALL earlier assistant turns,
    including turns without tool calls, must come back (else 400); without tools it is ignored, so it is dropped
    from plain turns."""
    cache = ReasoningCache()
    cache.put_content("It is 4.", "2 + 2 = 4")
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    history = [*msgs("2+2?"), {"role": "assistant", "content": "It is 4."},
               {"role": "user", "content": "and now call f"},
               {"role": "assistant", "content": "Hello", "reasoning_content": "kept"},
               {"role": "assistant", "content": "never seen"}]
    t = translate_chat_request({"model": "m", "messages": history, "tools": tools}, V4, reasoning_cache=cache)
    out = t.body["messages"]
    assert [m.get("reasoning_content") for m in out if m["role"] == "assistant"] == ["2 + 2 = 4", "kept", ""]
    assert any("every earlier turn" in c.detail for c in t.changes)
    plain = translate_chat_request({"model": "m", "messages": history}, V4, reasoning_cache=cache)
    assert all("reasoning_content" not in m for m in plain.body["messages"])
    # the V3.2/V4 rule (tool-call turns only) stays where a profile says so
    old = translate_chat_request({"model": "deepseek-reasoner", "messages": history, "tools": tools},
                                 load_profile("deepseek", "deepseek-reasoner"), reasoning_cache=cache)
    assert all("reasoning_content" not in m for m in old.body["messages"])


def test_reasoning_of_a_plain_reply_is_remembered_for_the_next_turn():
    cache = ReasoningCache()
    normalize_chat_response({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris.",
                                                                   "reasoning_content": "capital of France"}}]},
                            V4, reasoning_cache=cache)
    assert cache.get_content("Paris.") == "capital of France"
    n = StreamNormalizer(V4, app_wants_usage=False, reasoning_cache=cache)
    for delta in ({"reasoning_content": "think"}, {"content": "Ber"}, {"content": "lin."}):
        n.feed({"id": "x", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    n.finish()
    assert cache.get_content("Berlin.") == "think"


def test_vllm_deepseek_template_gets_the_effort_level():
    t = translate_chat_request({"model": "m", "messages": msgs("x"), "reasoning_effort": "xhigh"}, VLLM)
    assert t.body["chat_template_kwargs"] == {"thinking": True, "enable_thinking": True, "reasoning_effort": "max"}
    assert "reasoning_effort" not in t.body
    off = translate_chat_request({"model": "m", "messages": msgs("x"), "reasoning_effort": "none"}, VLLM)
    assert off.body["chat_template_kwargs"] == {"thinking": False, "enable_thinking": False}


def test_forced_tool_choice_in_thinking_mode():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    forced = {"type": "function", "function": {"name": "f"}}
    # default thinking (app did not ask for it): thinking off, the forced choice is kept
    t = translate_chat_request({"model": "m", "messages": msgs("x"), "tools": tools, "tool_choice": forced,
                                "thinking": {"type": "enabled"}}, V4)
    assert t.body["tool_choice"] == "auto" and t.body["thinking"] == {"type": "enabled"}
    assert t.emulation.require_tool_call == "f"
    t2 = translate_chat_request({"model": "deepseek-reasoner", "messages": msgs("x"), "tools": tools,
                                 "tool_choice": "required"}, load_profile("deepseek", "deepseek-reasoner"))
    assert t2.body["tool_choice"] == "required" and ("translated", "thinking") in fields(t2)


def test_reasoning_content_resent_on_tool_call_turns_and_from_cache():
    cache = ReasoningCache()
    cache.put(["call_1"], "I should call f")
    history = [*msgs("x"),
               {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
                                                                     "function": {"name": "f", "arguments": "{}"}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "42"},
               {"role": "assistant", "content": "done", "reasoning_content": "old"},
               {"role": "assistant", "content": None, "tool_calls": [{"id": "call_9", "type": "function",
                                                                     "function": {"name": "f", "arguments": "{}"}}]}]
    t = translate_chat_request({"model": "m", "messages": history}, V4, reasoning_cache=cache)
    out = t.body["messages"]
    assert out[1]["reasoning_content"] == "I should call f"
    assert "reasoning_content" not in out[3]
    assert out[4]["reasoning_content"] == ""  # unknown: empty string, never missing
    v = translate_chat_request({"model": "m", "messages": [{"role": "assistant", "content": "a",
                                                            "reasoning_content": "r"}]}, VLLM)
    assert v.body["messages"][0] == {"role": "assistant", "content": "a", "reasoning": "r"}


def test_ollama_ignores_tool_choice_and_has_no_n():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    t = translate_chat_request({"model": "m", "messages": msgs("x"), "tools": tools, "tool_choice": "required",
                                "n": 2, "logit_bias": {}}, OLLAMA)
    assert "tool_choice" not in t.body and t.emulation.require_tool_call == "*"
    assert t.emulation.fan_out == 2 and "logit_bias" not in t.body


def test_stream_always_requests_usage_and_remembers_what_app_asked():
    t = translate_chat_request({"model": "m", "messages": msgs("x"), "stream": True}, V4)
    assert t.body["stream_options"] == {"include_usage": True} and not t.emulation.app_wants_usage
    t2 = translate_chat_request({"model": "m", "messages": msgs("x"), "stream": True,
                                 "stream_options": {"include_usage": True}}, V4)
    assert t2.emulation.app_wants_usage


def test_normalize_response_reasoning_and_cache_usage():
    cache = ReasoningCache()
    body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": None, "reasoning": "hmm",
                                                  "tool_calls": [{"id": "c1", "type": "function",
                                                                  "function": {"name": "f", "arguments": "{}"}}]}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 6,
                      "prompt_cache_miss_tokens": 4}}
    out = normalize_chat_response(body, V4, reasoning_cache=cache)
    assert out["choices"][0]["message"]["reasoning_content"] == "hmm"
    assert "reasoning" not in out["choices"][0]["message"]
    assert out["usage"]["prompt_tokens_details"]["cached_tokens"] == 6
    assert cache.get(["c1"]) == "hmm"


def test_merge_fan_out_reindexes_and_sums_usage():
    a = {"id": "a", "choices": [{"index": 0, "message": {"content": "x"}}],
         "usage": {"prompt_tokens": 3, "completion_tokens": 1, "prompt_tokens_details": {"cached_tokens": 1}}}
    b = {"id": "b", "choices": [{"index": 0, "message": {"content": "y"}}],
         "usage": {"prompt_tokens": 3, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 0}}}
    m = merge_fan_out([a, b])
    assert [c["index"] for c in m["choices"]] == [0, 1] and m["id"] == "a"
    assert m["usage"]["completion_tokens"] == 3 and m["usage"]["prompt_tokens_details"]["cached_tokens"] == 1


def test_stream_normalizer_moves_deepseek_usage_to_a_final_chunk():
    n = StreamNormalizer(V4, app_wants_usage=True)
    first = n.feed({"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
                    "choices": [{"index": 0, "delta": {"reasoning_content": "r"}, "finish_reason": None}]})
    last = n.feed({"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 5, "completion_tokens": 1, "prompt_cache_hit_tokens": 2,
                             "prompt_cache_miss_tokens": 3}})
    assert first[0]["usage"] is None and last[0]["usage"] is None
    final = n.finish()
    assert final[0]["choices"] == [] and final[0]["usage"]["prompt_tokens_details"]["cached_tokens"] == 2
    quiet = StreamNormalizer(V4, app_wants_usage=False)
    out = quiet.feed({"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 1}})
    assert "usage" not in out[0] and quiet.finish() == [] and quiet.usage == {"prompt_tokens": 1}


def test_normalize_chat_chunk_is_stateless():
    from offramp.adapters.translate import normalize_chat_chunk

    out = normalize_chat_chunk({"choices": [{"index": 0, "delta": {"reasoning": "r"}}],
                                "usage": {"prompt_tokens": 3, "prompt_cache_hit_tokens": 1}}, VLLM)
    assert out["choices"][0]["delta"] == {"reasoning_content": "r"}
    assert out["usage"]["prompt_tokens_details"]["cached_tokens"] == 1


RICH_PROFILES = [V4, load_profile("deepseek", "deepseek-chat"), VLLM, OLLAMA, load_profile("llamacpp", "any"),
                 load_profile("sglang", "any")]


@pytest.mark.parametrize("profile", RICH_PROFILES, ids=lambda p: f"{p.kind}-{p.family}")
@pytest.mark.parametrize("rf", [{"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
                                {"type": "json_object"}], ids=["json_schema", "json_object"])
@pytest.mark.parametrize("legacy", [True, False], ids=["functions", "tools"])
def test_translation_never_mutates_the_callers_body(profile, rf, legacy):
    """The proxy and the engine keep the original for the next backend in the chain: no rule may write into it."""
    import copy

    body = {"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": False}, "n": 3, "logprobs": True,
            "reasoning_effort": "low", "chat_template_kwargs": {"x": 1}, "user": "alice@example.com",
            "response_format": rf, "max_completion_tokens": 10**6, "parallel_tool_calls": True,
            "functions": [{"name": "f", "parameters": {}}], "function_call": {"name": "f"},
            "tools": [{"type": "function", "function": {"name": "g", "parameters": {}}},
                      {"type": "custom", "custom": {"name": "c"}}],
            "messages": [{"role": "developer", "content": [{"type": "text", "text": "be brief"}]},
                         {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                         {"role": "assistant", "content": None, "reasoning": "r",
                          "tool_calls": [{"id": "call_1", "type": "function",
                                          "function": {"name": "g", "arguments": "{}"}}]},
                         {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
                         {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
                         {"role": "function", "name": "f", "content": "done"},
                         {"role": "user", "content": "and now?"}]}
    if not legacy:  # legacy turns are converted on copies first: without them the message rules meet the input
        body = {k: v for k, v in body.items() if k not in ("functions", "function_call")}
        body["messages"] = [m for m in body["messages"] if "function_call" not in m and m["role"] != "function"]
    before = copy.deepcopy(body)
    t = translate_chat_request(body, profile)
    assert body == before
    assert t.body != before  # the rules did apply (to the copy)
