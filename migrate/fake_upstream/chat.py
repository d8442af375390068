"""Chat Completions: validation per flavor, the deterministic answer, and its JSON / SSE-chunk rendering."""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

from offramp.migrate.fake_upstream import synth
from offramp.migrate.fake_upstream.errors import ApiError
from offramp.migrate.fake_upstream.flavors import Flavor
from offramp.migrate.fake_upstream.options import FakeOptions


@dataclass
class Draw:
    """Per-request randomness: None when the request is answered canonically."""

    noise: random.Random | None
    degrade: random.Random | None  # None when no degradation is configured (the fast path)
    request_key: int

    def hit(self, probability: float) -> bool:
        return probability > 0 and self.degrade is not None and self.degrade.random() < probability


@dataclass
class Choice:
    index: int
    content: str | None
    reasoning: str | None
    tool_calls: list[dict] = field(default_factory=list)
    finish_reason: str = "stop"
    legacy: bool = False  # answer a tool call as the deprecated message.function_call


class PrefixCache:
    """Emulates prompt caching: a message prefix seen before counts as cached input tokens."""

    def __init__(self, limit: int = 200_000) -> None:
        self._seen: set[int] = set()
        self._limit = limit

    def lookup_and_store(self, model: str, messages: list[dict], token_counts: list[int]) -> int:
        if len(self._seen) > self._limit:
            self._seen.clear()
        key = synth.digest("cache", model)
        hit, running = 0, 0
        keys = []
        for message, tokens in zip(messages, token_counts, strict=True):
            key = synth.digest(key, json.dumps(message, sort_keys=True))
            running += tokens
            keys.append(key)
            if key in self._seen:
                hit = running
        self._seen.update(keys)
        return hit


# --- validation -----------------------------------------------------------------------------------------------


def schema_error(flavor: Flavor, loc: tuple, msg: str, value: object) -> ApiError:
    """llama-cpp-python: its pydantic request model's rejection, rendered as the HTTP 500 it really answers."""
    detail = {"type": "literal_error", "loc": ("body", *loc), "msg": msg, "input": value}
    return ApiError(flavor.schema_error_status, f"1 validation error:\n  {detail}\n", type="internal_server_error")


def _roles_error(flavor: Flavor, index: int, role: object) -> ApiError:
    if flavor.schema_error_status != 400:
        allowed = " or ".join(f"'{r}'" for r in sorted(flavor.roles))
        return schema_error(flavor, ("messages", index, "role"), f"Input should be {allowed}", role)
    if flavor.name == "deepseek":
        allowed = ", ".join(f"`{r}`" for r in ("system", "user", "assistant", "tool", "latest_reminder"))
        return ApiError(
            422,
            f"Failed to deserialize the JSON body into the target type: messages[{index}].role: "
            f"unknown variant `{role}`, expected one of {allowed}",
        )
    allowed = ", ".join(f"'{r}'" for r in sorted(flavor.roles))
    return ApiError(
        400,
        f"Invalid value: '{role}'. Supported values are: {allowed}.",
        param=f"messages[{index}].role",
        code="invalid_value",
    )


def resolve_model(flavor: Flavor, options: FakeOptions, model: object) -> str:
    models = options.models or list(flavor.models)
    if not isinstance(model, str) or not model:
        raise ApiError(400, "you must provide a model parameter", param="model")
    if options.models is None and flavor.accept_any_model:
        return model
    if model not in models:
        if flavor.name == "deepseek":
            raise ApiError(400, "Model Not Exist", param="model")
        if flavor.name == "vllm":
            raise ApiError(404, f"The model `{model}` does not exist.", param="model")
        raise ApiError(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )
    return model


def thinking_enabled(flavor: Flavor, options: FakeOptions, model: str, body: dict) -> bool:
    if flavor.reasoning_field is None:
        return False
    if flavor.name == "vllm":
        kwargs = body.get("chat_template_kwargs") or {}
        for key in ("thinking", "enable_thinking"):
            if isinstance(kwargs, dict) and key in kwargs:
                return bool(kwargs[key])
        return options.vllm_thinking
    default = flavor.thinking_default.get(model, True)
    toggle = body.get("thinking")
    if isinstance(toggle, dict) and toggle.get("type") in ("enabled", "disabled"):
        return toggle["type"] == "enabled"
    return default


def function_tools(body: dict) -> list[dict]:
    tools = body.get("tools") or []
    return [
        t["function"]
        for t in tools
        if isinstance(t, dict) and t.get("type") == "function" and "function" in t
    ]


def validate(flavor: Flavor, options: FakeOptions, body: dict, model: str, thinking: bool) -> None:
    if flavor.strict_fields is not None:
        for key in body:
            if key not in flavor.strict_fields:
                raise ApiError(400, f"Unrecognized request argument supplied: {key}", param=key)
    messages = body.get("messages")
    if messages is None and flavor.messages_optional:
        messages = body["messages"] = []
    elif not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty array", param="messages")
    tool_call_ids: set[str] = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ApiError(400, f"messages[{i}] must be an object", param=f"messages[{i}]")
        role = message.get("role")
        if role not in flavor.roles:
            raise _roles_error(flavor, i, role)
        content = message.get("content")
        if isinstance(content, list):
            images = [p for p in content if isinstance(p, dict) and p.get("type") not in ("text", None)]
            if images and flavor.vision_models is not None and model not in flavor.vision_models:
                raise ApiError(
                    422,
                    f"Failed to deserialize the JSON body into the target type: messages[{i}]: "
                    f"unknown variant `{images[0].get('type')}`, expected `text`",
                )
            if images and flavor.image_roles is not None and role not in flavor.image_roles:
                raise ApiError(400, f"messages[{i}]: image input is only supported in user messages",
                               param=f"messages[{i}].content")
        if role == "assistant" and message.get("tool_calls"):
            for call in message["tool_calls"]:
                if isinstance(call, dict) and call.get("id"):
                    tool_call_ids.add(call["id"])
        if role == "assistant" and thinking and "reasoning_content" not in message and (
            (flavor.reasoning_echo == "tool_calls" and message.get("tool_calls"))
            or (flavor.reasoning_echo == "with_tools" and body.get("tools"))
        ):
            raise ApiError(400, "The `reasoning_content` in the thinking mode must be passed back to the API.")
        if role == "tool" and message.get("tool_call_id") not in tool_call_ids:
            raise ApiError(
                400,
                "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
                "'tool_calls'.",
                param=f"messages.[{i}].role",
            )
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else tool
            if flavor.name == "deepseek":
                raise ApiError(
                    422,
                    f"Failed to deserialize the JSON body into the target type: tools: unknown variant `{kind}`, "
                    "expected `function`",
                )
            if flavor.name == "vllm":
                raise ApiError(400, f"Unsupported tool type: {kind}", param="tools")
    names = [t.get("name") for t in function_tools(body)]
    choice = body.get("tool_choice")
    forced = choice == "required" or isinstance(choice, dict)
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if name not in names and flavor.schema_error_status != 400:
            raise ApiError(flavor.schema_error_status, f"Tool choice '{name}' not found in tools.",
                           type="internal_server_error")
        if name not in names:
            raise ApiError(
                400,
                f"Invalid value for 'tool_choice': function '{name}' is not in 'tools'.",
                param="tool_choice",
            )
    if forced and thinking and not flavor.forced_tool_choice_in_thinking:
        raise ApiError(400, "Thinking mode does not support this tool_choice", param="tool_choice")
    # vLLM treats an absent tool_choice as "auto" when tools are given.
    if (
        flavor.name == "vllm"
        and choice in (None, "auto")
        and body.get("tools")
        and not options.vllm_auto_tool_choice
    ):
        raise ApiError(
            400, '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set'
        )
    n = body.get("n", 1)
    if n is None:
        n = 1
    if not isinstance(n, int) or n < 1 or n > 128:
        raise ApiError(400, f"Invalid 'n': integer between 1 and 128 expected, got {n!r}", param="n")
    if n > 1 and not flavor.multi_n and not flavor.n_ignored:
        raise ApiError(400, "Invalid n value, currently only n = 1 is supported", param="n")
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        ftype = fmt.get("type")
        if ftype == "json_schema" and not flavor.json_schema and flavor.schema_error_status != 400:
            raise schema_error(flavor, ("response_format", "type"), "Input should be 'text' or 'json_object'", ftype)
        if ftype == "json_schema" and not flavor.json_schema:
            raise ApiError(400, "This response_format type is unavailable now", param="response_format")
        if ftype == "json_schema" and not isinstance((fmt.get("json_schema") or {}).get("schema"), dict):
            if flavor.name != "deepseek":
                raise ApiError(
                    400,
                    "Missing required parameter: 'response_format.json_schema.schema'.",
                    param="response_format.json_schema.schema",
                )
        if ftype == "json_object" and flavor.json_word_required:
            if not any("json" in synth.message_text(m).lower() for m in messages):
                raise ApiError(
                    400,
                    "'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                    "'json_object'.",
                    param="messages",
                )
        if ftype not in ("text", "json_object", "json_schema"):
            raise ApiError(
                400,
                f"Invalid value: '{ftype}'. Supported values are: 'text', 'json_object' and 'json_schema'.",
                param="response_format.type",
            )
    top = body.get("top_logprobs")
    if top is not None and (not isinstance(top, int) or not 0 <= top <= 20):
        raise ApiError(400, "top_logprobs must be an integer between 0 and 20", param="top_logprobs")
    if top is not None and not body.get("logprobs") and flavor.name == "openai":
        raise ApiError(400, "logprobs must be set to true if top_logprobs is set.", param="top_logprobs")
    if body.get("stream_options") is not None and not body.get("stream") and flavor.name != "llama-cpp-python":
        raise ApiError(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    if flavor.context_window is not None:
        prompt = prompt_tokens(body)
        if prompt >= flavor.context_window:  # llama-cpp-python: the prompt alone; max_tokens is then clamped
            limit = body.get("max_tokens")
            raise ApiError(
                400,
                f"This model's maximum context length is {flavor.context_window} tokens. However, you requested "
                f"{(limit or 0) + prompt} tokens ({prompt} in the messages, {limit} in the completion). Please "
                "reduce the length of the messages or completion.",
                param="messages",
                code="context_length_exceeded",
            )


# --- the answer -----------------------------------------------------------------------------------------------


def _tool_call(seed: int, key: int, index: int, fn: dict, user_text: str, rng: random.Random | None) -> dict:
    schema = fn.get("parameters") or {"type": "object", "properties": {}}
    args = synth.instance(schema, schema, fn.get("name", "arg"), user_text, rng)
    return {
        "id": f"call_{synth.digest(seed, key, index, fn.get('name')):016x}",
        "type": "function",
        "function": {"name": fn.get("name", ""), "arguments": json.dumps(args)},
    }


def _named(tools: list[dict], user_text: str) -> list[dict]:
    """The tools the user message asks for: by full name, or by a word of the name ("refund" names
    `request_refund`), so a question that needs several tools gets them all, as a real model would."""
    lowered = user_text.lower()
    words = set(re.findall(r"[a-z0-9]+", lowered))
    out = []
    for t in tools:
        name = (t.get("name") or "").lower()
        parts = [w for w in re.split(r"[^a-z0-9]+", name) if len(w) >= 4]
        if name and (name in lowered or any(w in words for w in parts)):
            out.append(t)
    return out


def _pick_tools(flavor: Flavor, body: dict, tools: list[dict], user_text: str) -> list[dict]:
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        return [t for t in tools if t.get("name") == name][:1]
    named = _named(tools, user_text)
    one_only = flavor.parallel_tool_calls and body.get("parallel_tool_calls") is False
    if flavor.multi_tool_calls and not one_only and len(named) > 1:
        return named
    return (named or tools)[:1]


def _tool_followup(messages: list[dict]) -> str | None:
    """After tool results the model answers in text, so agent loops terminate."""
    results = []
    for message in reversed(messages):
        if message.get("role") not in ("tool", "function"):
            break
        results.append(synth.message_text(message))
    return "Based on the tool results: " + "; ".join(reversed(results)) if results else None


def answer(flavor: Flavor, options: FakeOptions, body: dict, thinking: bool, draw: Draw) -> list[Choice]:
    messages: list[dict] = body["messages"]
    user_text = synth.last_user_text(messages)
    tools = function_tools(body)
    choice_param = body.get("tool_choice")
    legacy = flavor.legacy_functions and not tools and isinstance(body.get("functions"), list)
    if legacy:  # functions/function_call: the same model behaviour, answered in the old shape
        tools = [f for f in body["functions"] if isinstance(f, dict)]
        fcall = body.get("function_call")
        choice_param = {"type": "function", "function": fcall} if isinstance(fcall, dict) else fcall
        body = {**body, "tool_choice": choice_param, "parallel_tool_calls": False}
    fmt = body.get("response_format") if isinstance(body.get("response_format"), dict) else {}
    limit = (body.get("max_completion_tokens") if flavor.max_completion_tokens else None) or body.get(
        "max_tokens"
    )
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if isinstance(s, str) and s]
    n = 1 if flavor.n_ignored else body.get("n") or 1
    followup = _tool_followup(messages)
    out: list[Choice] = []
    for index in range(n):
        rng = draw.noise if index == 0 else random.Random(synth.digest(draw.request_key, index))
        reasoning = synth.reasoning_text(user_text) if thinking else None
        forced = choice_param == "required" or isinstance(choice_param, dict)
        calls_tools = isinstance(choice_param, dict) if flavor.tool_calls_need_named_choice else True
        if (tools and choice_param != "none" and calls_tools and (forced or followup is None)
                and not draw.hit(options.degrade.drop_tool)):
            picked = _pick_tools(flavor, body, tools, user_text)
            if draw.hit(options.degrade.wrong_tool):
                picked = [tools[(tools.index(picked[0]) + 1) % len(tools)]] if len(tools) > 1 else picked
                if len(tools) == 1:
                    picked = [{**picked[0], "parameters": {"type": "object", "properties": {}}}]
            calls = [
                _tool_call(options.seed, draw.request_key, i, fn, user_text, rng)
                for i, fn in enumerate(picked)
            ]
            if flavor.name == "llama-cpp-python":  # call__<i>_<name>_cmpl-<the completion's uuid>
                for i, call in enumerate(calls):
                    call["id"] = f"call__{i}_{call['function']['name']}_{completion_id(flavor, draw.request_key)[4:]}"
            if draw.hit(options.degrade.invalid_json):
                args = calls[0]["function"]["arguments"]
                calls[0]["function"]["arguments"] = args[: max(1, len(args) // 2)]
            content = "" if flavor.name == "deepseek" else None
            if legacy:
                out.append(Choice(index, content, reasoning, calls[:1], "function_call", legacy=True))
                continue
            out.append(Choice(index, content, reasoning, calls, "tool_calls"))
            continue
        is_json = fmt.get("type") in ("json_object", "json_schema")
        if fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {}
            content = synth.json_for_schema(schema, user_text, rng)
        elif fmt.get("type") == "json_object":
            prompt_schema = synth.schema_in_prompt(messages)
            if prompt_schema is not None:
                content = synth.json_for_schema(prompt_schema, user_text, rng)
            else:
                content = synth.json_object_answer(user_text, rng)
        else:
            content = followup or synth.answer_text(user_text, rng)
        finish = "stop"
        if is_json and draw.hit(options.degrade.invalid_json):
            content = content[: max(1, len(content) // 2)]
        if is_json and draw.hit(options.degrade.blank_json):
            content = "\n\n  "
        for s in stops:
            if s in content:
                content = content[: content.index(s)]
        if draw.hit(options.degrade.truncate):
            content, finish = content[: max(1, len(content) // 2)], "length"
        if isinstance(limit, int) and limit > 0 and synth.estimate_tokens(content) > limit:
            content, finish = content[: limit * 4], "length"
        out.append(Choice(index, content, reasoning, [], finish))
    return out


# --- rendering ------------------------------------------------------------------------------------------------


def prompt_tokens(body: dict) -> int:
    counts = [synth.estimate_tokens(synth.message_text(m)) + 4 for m in body["messages"]]
    return sum(counts) + (synth.estimate_tokens(json.dumps(body["tools"])) if body.get("tools") else 0) + 3


def usage(flavor: Flavor, body: dict, choices: list[Choice], cache: PrefixCache, model: str) -> dict:
    messages = body["messages"]
    counts = [synth.estimate_tokens(synth.message_text(m)) + 4 for m in messages]
    prompt = prompt_tokens(body)
    hit = cache.lookup_and_store(model, messages, counts) if flavor.cache_usage != "none" else 0
    reasoning = sum(synth.estimate_tokens(c.reasoning or "") for c in choices)
    completion = reasoning + sum(
        synth.estimate_tokens(c.content or "")
        + sum(synth.estimate_tokens(t["function"]["arguments"]) + 5 for t in c.tool_calls)
        for c in choices
    )
    base = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    if not flavor.usage_details:
        return base
    if flavor.cache_usage == "deepseek":
        return {
            **base,
            "prompt_tokens_details": {"cached_tokens": hit},  # "same value as prompt_cache_hit_tokens"
            "completion_tokens_details": {"reasoning_tokens": reasoning},
            "prompt_cache_hit_tokens": hit,
            "prompt_cache_miss_tokens": prompt - hit,
        }
    if flavor.cache_usage == "openai":
        cached = (hit // 128) * 128 if prompt >= 1024 else 0
        return {
            **base,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
    return {**base, "prompt_tokens_details": None}


def _logprobs(content: str, top: int, rng_key: int, reasoning: str | None = None) -> dict:
    entries = []
    for i, token in enumerate(synth.split_tokens(content)):
        lp = -round((synth.digest(rng_key, i) % 1000) / 10000, 4)
        alts = [
            {
                "token": f"{token.strip()}_{k}",
                "logprob": lp - 1.0 - k,
                "bytes": list(f"{token.strip()}_{k}".encode()),
            }
            for k in range(top)
        ]
        if top:
            alts[0] = {"token": token, "logprob": lp, "bytes": list(token.encode())}
        entries.append({"token": token, "logprob": lp, "bytes": list(token.encode()), "top_logprobs": alts})
    out: dict[str, Any] = {"content": entries, "refusal": None}
    if reasoning is not None:  # DeepSeek: logprobs cover the reasoning too
        out["reasoning_content"] = _logprobs(reasoning, top, synth.digest(rng_key, "reasoning"))["content"]
    return out


def _message(flavor: Flavor, choice: Choice) -> dict:
    msg: dict[str, Any] = {"role": "assistant", "content": choice.content}
    if flavor.name == "openai":
        msg["refusal"] = None
        msg["annotations"] = []
    if flavor.name == "vllm":
        msg.update(refusal=None, annotations=None, audio=None, function_call=None)
    if flavor.name == "llama-cpp-python" and choice.tool_calls:  # the first call twice: tool_calls and function_call
        fn = choice.tool_calls[0]["function"]
        return {"content": None, "tool_calls": choice.tool_calls, "role": "assistant",
                "function_call": {"name": fn["name"], "arguments": fn["arguments"]}}
    if flavor.reasoning_field and (choice.reasoning is not None or flavor.name == "vllm"):
        msg[flavor.reasoning_field] = choice.reasoning
    if choice.legacy and choice.tool_calls:
        fn = choice.tool_calls[0]["function"]
        msg["function_call"] = {"name": fn["name"], "arguments": fn["arguments"]}
    elif choice.tool_calls:
        msg["tool_calls"] = choice.tool_calls
    elif flavor.name == "vllm":
        msg["tool_calls"] = []
    return msg


def _wants_logprobs(flavor: Flavor, body: dict, thinking: bool) -> bool:
    return bool(body.get("logprobs")) and (flavor.logprobs_in_thinking or not thinking)


def completion_body(
    flavor: Flavor, body: dict, model: str, choices: list[Choice], usage_: dict, draw: Draw, thinking: bool
) -> dict:
    top = body.get("top_logprobs") or 0
    lp = _wants_logprobs(flavor, body, thinking)
    out: dict[str, Any] = {
        "id": completion_id(flavor, draw.request_key),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": c.index,
                "message": _message(flavor, c),
                "logprobs": _logprobs(c.content or "", top, synth.digest(draw.request_key, c.index),
                                      c.reasoning if flavor.name == "deepseek" else None)
                if lp
                else None,
                "finish_reason": c.finish_reason,
                **({"stop_reason": None} if flavor.name == "vllm" else {}),
            }
            for c in choices
        ],
        "usage": usage_,
    }
    if flavor.system_fingerprint:
        out["system_fingerprint"] = flavor.system_fingerprint
    if flavor.name == "openai":
        out["service_tier"] = "default"
    if flavor.name == "vllm":
        out.update(service_tier=None, system_fingerprint=None, prompt_logprobs=None, kv_transfer_params=None)
    return out


def completion_id(flavor: Flavor, key: int) -> str:
    """DeepSeek ids are UUIDs, llama-cpp-python's `chatcmpl-<uuid>`; OpenAI and vLLM use `chatcmpl-...`."""
    if flavor.name in ("deepseek", "llama-cpp-python"):
        h = f"{key:016x}{synth.digest(key):016x}"
        uuid = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"
        return uuid if flavor.name == "deepseek" else f"chatcmpl-{uuid}"
    return f"chatcmpl-{key:016x}"


def stream_chunks(
    flavor: Flavor, body: dict, model: str, choices: list[Choice], usage_: dict, draw: Draw, thinking: bool
) -> list[bytes]:
    """Every chunk's JSON in order (without `[DONE]`), shaped as the flavor sends them.

    The fields shared by all chunks are encoded once and spliced around each choice: streams are the bulk of
    the proxy benchmarks' traffic."""
    if flavor.name == "llama-cpp-python":
        return _llama_cpp_python_chunks(flavor, model, choices, draw)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    top = body.get("top_logprobs") or 0
    lp = _wants_logprobs(flavor, body, thinking)
    rfield = flavor.reasoning_field
    base: dict[str, Any] = {
        "id": completion_id(flavor, draw.request_key),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    if flavor.name == "openai":
        base["service_tier"] = "default"
    if flavor.system_fingerprint:
        base["system_fingerprint"] = flavor.system_fingerprint

    parts: list[dict] = []

    def chunk(index: int, delta: dict, finish: str | None = None, logprobs: dict | None = None) -> None:
        parts.append({"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish})

    for choice in choices:
        thinking_first = flavor.name == "deepseek" and choice.reasoning is not None
        first: dict[str, Any] = {
            "role": "assistant",
            "content": None if choice.tool_calls or thinking_first else "",
        }
        if flavor.name == "openai":
            first["refusal"] = None
        if rfield and choice.reasoning is not None:
            first[rfield] = ""
        chunk(choice.index, first)
        if choice.reasoning:
            for piece in synth.split_tokens(choice.reasoning):
                chunk(
                    choice.index,
                    {rfield: piece, "content": None} if flavor.name == "deepseek" else {rfield: piece},
                )
        if choice.legacy and choice.tool_calls:
            fn = choice.tool_calls[0]["function"]
            chunk(choice.index, {"function_call": {"name": fn["name"], "arguments": ""}})
            for start in range(0, len(fn["arguments"]), 24):
                chunk(choice.index, {"function_call": {"arguments": fn["arguments"][start : start + 24]}})
        for t_index, call in enumerate([] if choice.legacy else choice.tool_calls):
            head = {
                "index": t_index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            chunk(choice.index, {"tool_calls": [head]})
            args = call["function"]["arguments"]
            for start in range(0, len(args), 24):
                chunk(
                    choice.index,
                    {"tool_calls": [{"index": t_index, "function": {"arguments": args[start : start + 24]}}]},
                )
        if choice.content:
            key = synth.digest(draw.request_key, choice.index)
            for i, piece in enumerate(synth.split_tokens(choice.content)):
                logprobs = None
                if lp:
                    entry = _logprobs(piece, top, key)["content"][0]
                    entry["logprob"] = -round((synth.digest(key, i) % 1000) / 10000, 4)
                    logprobs = {"content": [entry], "refusal": None}
                delta: dict[str, Any] = {"content": piece}
                if flavor.name == "deepseek" and choice.reasoning is not None:
                    delta[rfield] = None
                chunk(choice.index, delta, logprobs=logprobs)
        last_delta: dict[str, Any] = (
            {"content": ""} if flavor.name == "deepseek" and not choice.tool_calls else {}
        )
        chunk(choice.index, last_delta, choice.finish_reason)

    head_bytes = json.dumps(base)[:-1].encode() + b', "choices": ['
    tail = b'], "usage": null}' if include_usage else b"]}"
    out = [head_bytes + json.dumps(p).encode() + tail for p in parts]
    usage_tail = b'], "usage": ' + json.dumps(usage_).encode() + b"}"
    if flavor.stream_usage == "last_chunk":
        if include_usage or flavor.stream_usage_without_flag:
            out[-1] = head_bytes + json.dumps(parts[-1]).encode() + usage_tail
    elif include_usage:
        out.append(head_bytes + usage_tail)
    return out


def _llama_cpp_python_chunks(flavor: Flavor, model: str, choices: list[Choice], draw: Draw) -> list[bytes]:
    """llama-cpp-python's stream (tests/fixtures/llamacpp/chat_stream*.json, chat_tool_call_stream.json): never
    usage; a tool call streams its arguments in pieces, each delta repeating the call's id and name and
    mirroring it as a `function_call`, between all-null deltas."""
    base = {"id": completion_id(flavor, draw.request_key), "model": model, "created": int(time.time()),
            "object": "chat.completion.chunk"}
    out = []

    def chunk(index: int, delta: dict, finish: str | None = None) -> None:
        out.append(json.dumps({**base, "choices": [
            {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}).encode())

    nulls = {"role": None, "content": None, "function_call": None, "tool_calls": None}
    for choice in choices:
        if choice.tool_calls:
            chunk(choice.index, {**nulls, "role": "assistant"})
            call = choice.tool_calls[0]
            name, args = call["function"]["name"], call["function"]["arguments"]
            for start in range(0, len(args), 4):
                piece = args[start : start + 4]
                chunk(choice.index, {**nulls, "function_call": {"name": name, "arguments": piece}, "tool_calls": [
                    {"index": 0, "id": call["id"], "type": "function",
                     "function": {"name": name, "arguments": piece}}]})
            chunk(choice.index, dict(nulls), choice.finish_reason)
            continue
        chunk(choice.index, {"role": "assistant"})
        for piece in synth.split_tokens(choice.content or ""):
            chunk(choice.index, {"content": piece})
        chunk(choice.index, {}, choice.finish_reason)
    return out
