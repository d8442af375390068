"""Dict-level translation of Chat Completions between OpenAI's shape and a backend profile.

Pure functions on JSON dicts so the shadow proxy can reuse them without the client. Every change made to a request
is a `Change` (translated / dropped / emulated / warning): nothing is changed silently.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import threading
from collections import OrderedDict
from typing import Any, Literal

from pydantic import BaseModel, Field

from offramp.adapters.profiles import BackendProfile

Action = Literal["translated", "dropped", "emulated", "warning", "routed", "retried", "fallback"]


class Change(BaseModel):
    """One thing the adapter did to a call. `lossy` changes alter what the app asked for (strict mode refuses)."""

    action: Action
    field: str
    detail: str
    lossy: bool = False


class Emulation(BaseModel):
    """What the client must do around the backend call to honour the original request."""

    fan_out: int = Field(1, description="n>1 on a backend without n: make this many calls and merge choices.")
    json_schema: dict | None = Field(None, description="Validate the reply content against this schema.")
    json_retry: bool = Field(False, description="Retry once on blank/invalid JSON content.")
    require_tool_call: str | None = Field(None, description="tool_choice was downgraded: a tool call is expected.")
    thinking: bool = Field(False, description="Thinking is effectively on for this call.")
    app_wants_usage: bool = Field(False, description="Streaming: the app asked for include_usage itself.")
    legacy_functions: bool = Field(False, description="functions= was sent as tools: turn tool calls in the reply "
                                   "back into message.function_call.")


class Translation(BaseModel):
    body: dict
    changes: list[Change] = Field(default_factory=list)
    emulation: Emulation = Field(default_factory=Emulation)


class TranslationRecord(BaseModel):
    """What happened to one client call; on `response._offramp` and passed to hooks."""

    backend: str = "openai"
    kind: str = "openai"
    family: str = "default"
    endpoint: str = ""
    model_requested: str | None = None
    model_sent: str | None = None
    changes: list[Change] = Field(default_factory=list)
    attempts: int = 0
    status: int | None = None
    usage: dict | None = None
    cost: Any = None
    started_at: float = 0.0
    duration_s: float = 0.0
    stream: bool = False


class StrictModeError(ValueError):
    """A lossy change was needed but strict mode is on."""


class TranslationError(ValueError):
    """The request cannot be expressed on the backend at all."""


# ---------------------------------------------------------------- reasoning side cache

class ReasoningCache:
    """reasoning_content by tool-call id (and by reply text), for apps that rebuild assistant turns as dicts and
    lose the field.

    DeepSeek thinking mode 400s when an assistant turn with tool_calls comes back without its reasoning_content;
    V4.1 asks for the reasoning of every earlier assistant turn once the request carries `tools`, so turns
    without tool calls are remembered by a digest of their content.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self._data: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self.maxsize = maxsize

    def put(self, tool_call_ids: list[str], reasoning: str) -> None:
        with self._lock:
            for tid in tool_call_ids:
                self._data[tid] = reasoning
                self._data.move_to_end(tid)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def get(self, tool_call_ids: list[str]) -> str | None:
        with self._lock:
            for tid in tool_call_ids:
                if tid in self._data:
                    return self._data[tid]
        return None

    @staticmethod
    def content_key(content: Any) -> str | None:
        text = _text_of(content)
        return "content:" + hashlib.sha256(text.encode()).hexdigest()[:32] if text else None

    def put_content(self, content: Any, reasoning: str) -> None:
        key = self.content_key(content)
        if key is not None:
            self.put([key], reasoning)

    def get_content(self, content: Any) -> str | None:
        key = self.content_key(content)
        return self.get([key]) if key is not None else None


REASONING_CACHE = ReasoningCache()

_SAFE_USER = re.compile(r"[^A-Za-z0-9_-]")
FORCED = ("required",)
JSON_WORD = re.compile(r"json", re.IGNORECASE)


def sanitize_user_id(user: str) -> str:
    """DeepSeek user_id: [A-Za-z0-9_-], ≤ 512 bytes; stable, and distinct users stay distinct (hash suffix)."""
    clean = _SAFE_USER.sub("_", user)
    if clean == user and len(clean) <= 512:
        return clean
    digest = hashlib.sha256(user.encode()).hexdigest()[:16]
    return f"{clean[:480]}-{digest}"


def _reasoning_of(msg: dict) -> str | None:
    for key in ("reasoning_content", "reasoning"):
        val = msg.get(key)
        if isinstance(val, str):
            return val
    return None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _append_text(msg: dict, text: str) -> None:
    content = msg.get("content")
    if isinstance(content, list):
        msg["content"] = [*content, {"type": "text", "text": text}]
    else:
        msg["content"] = f"{content or ''}{text}"


def _is_forced(tool_choice: Any) -> bool:
    return tool_choice in FORCED or isinstance(tool_choice, dict)


def translate_chat_request(
    body: dict,
    profile: BackendProfile,
    *,
    strict: bool = False,
    reasoning_cache: ReasoningCache | None = None,
) -> Translation:
    """Rewrite an OpenAI Chat Completions request body for `profile`'s backend.

    Raises StrictModeError (strict and a lossy change is needed) or TranslationError (cannot be expressed).
    """
    cache = REASONING_CACHE if reasoning_cache is None else reasoning_cache
    # Copy-on-write, not deepcopy (a long conversation with images is megabytes, copied on every call): the
    # rules below replace top-level keys, and every message they touch is copied first (_translate_messages).
    out = dict(body)
    changes: list[Change] = []
    emu = Emulation()

    def change(action: Action, field: str, detail: str, lossy: bool = False) -> None:
        if strict and lossy:
            raise StrictModeError(
                f"strict mode: {field}: {detail} (backend {profile.kind}/{profile.family}); "
                "remove the parameter or turn strict off"
            )
        changes.append(Change(action=action, field=field, detail=detail, lossy=lossy))

    def drop(field: str, why: str) -> None:
        if field in out:
            change("dropped", field, f"not supported by {profile.kind}/{profile.family}: {why}", lossy=True)
            out.pop(field)

    # --- thinking (decided first: other rules depend on it)
    thinking = _decide_thinking(out, profile, change)

    # --- legacy functions= / function_call= (before the tool rules, which then apply to the converted tools)
    if not profile.legacy_functions:
        _functions_to_tools(out, profile, emu, change)

    # --- tool_choice forced while thinking
    tc = out.get("tool_choice")
    if thinking and _is_forced(tc) and not profile.tool_choice_forced_in_thinking:
        if "thinking" in body or "reasoning_effort" in body:
            out["tool_choice"] = "auto"
            emu.require_tool_call = _forced_name(tc)
            change("translated", "tool_choice", f"{json.dumps(tc)} → auto: thinking mode rejects a forced "
                   "tool_choice and the app asked for thinking; a tool call is still required", lossy=True)
        else:
            thinking = False
            _set_thinking(out, profile, False)
            change("translated", "thinking", "disabled for this call: forced tool_choice is rejected in thinking mode")

    if thinking:
        for field in profile.thinking_ignores:
            if field in out:
                out.pop(field)
                change("dropped", field, "ignored in thinking mode (removed so the request says what happens)")
        for field, (low, high) in profile.thinking_ranges.items():
            val = out.get(field)
            if isinstance(val, (int, float)) and not isinstance(val, bool) and not low <= val <= high:
                out[field] = min(max(val, low), high)
                change("translated", field, f"{val} → {out[field]}: in thinking mode {profile.kind}/"
                       f"{profile.family} takes {field} in [{low}, {high}] only", lossy=True)
    else:
        for field in profile.non_thinking_ignores:
            if field in out:
                out.pop(field)
                change("dropped", field, f"ignored without thinking ({profile.kind}/{profile.family} fixes it)",
                       lossy=True)

    # --- messages
    msgs = out.get("messages")
    if isinstance(msgs, list):
        with_tools = profile.tools and any(
            isinstance(t, dict) and t.get("type", "function") in profile.tool_types for t in out.get("tools") or [])
        out["messages"] = _translate_messages(msgs, profile, change, cache, with_tools=bool(with_tools))

    # --- max tokens
    if "max_completion_tokens" in out and not profile.max_completion_tokens:
        val = out.pop("max_completion_tokens")
        if "max_tokens" not in out:
            out["max_tokens"] = val
        change("translated", "max_completion_tokens", "renamed to max_tokens")
    limit = profile.max_output_tokens
    for key in ("max_tokens", "max_completion_tokens"):
        if limit and isinstance(out.get(key), int) and out[key] > limit:
            change("translated", key, f"clamped {out[key]} → {limit} (model maximum)", lossy=True)
            out[key] = limit
    if limit and profile.default_max_tokens and out.get("max_tokens") is None \
            and out.get("max_completion_tokens") is None:
        mode = ("max" if out.get("reasoning_effort") == "max" else "thinking") if thinking else "non_thinking"
        default = profile.default_max_tokens.get(mode)
        if default is not None and default < limit:
            out.pop("max_tokens", None)
            out["max_tokens"] = limit
            change("translated", "max_tokens", f"set to {limit}, the model maximum: OpenAI's default is the "
                   f"model's maximum, {profile.kind}/{profile.family} would stop at {default} tokens")

    # --- tools
    tools = out.get("tools")
    if isinstance(tools, list):
        if not profile.tools:
            drop("tools", "no tool calling")
            out.pop("tool_choice", None)
        else:
            kept = [t for t in tools if isinstance(t, dict) and t.get("type", "function") in profile.tool_types]
            for t in tools:
                if t not in kept:
                    change("dropped", "tools", f"tool of type {t.get('type')!r} (only "
                           f"{'/'.join(profile.tool_types)} tools are supported)", lossy=True)
            if profile.max_tools and len(kept) > profile.max_tools:
                raise TranslationError(f"tools: {len(kept)} tools exceed the {profile.max_tools} that "
                                       f"{profile.kind}/{profile.family} accepts")
            if kept:
                out["tools"] = kept
            else:
                out.pop("tools")
                for k in ("tool_choice", "parallel_tool_calls"):
                    out.pop(k, None)
    tc = out.get("tool_choice")
    if tc is not None:
        if not profile.tool_choice:
            if _is_forced(tc):
                emu.require_tool_call = _forced_name(tc)
            drop("tool_choice", "the backend ignores tool_choice")
        elif _is_forced(tc) and not profile.tool_choice_forced:
            out["tool_choice"] = "auto"
            emu.require_tool_call = _forced_name(tc)
            change("translated", "tool_choice", f"{json.dumps(tc)} → auto (forced tool_choice unsupported)",
                   lossy=True)
        elif tc == "required" and not profile.tool_choice_required:
            funcs = [t for t in out.get("tools") or [] if isinstance(t, dict) and t.get("type", "function") == "function"
                     and isinstance(t.get("function"), dict) and t["function"].get("name")]
            if len(funcs) == 1:  # the only tool, named: what "required" means then, and what the backend enforces
                name = funcs[0]["function"]["name"]
                out["tool_choice"] = {"type": "function", "function": {"name": name}}
                change("translated", "tool_choice", f'"required" → {name} named (the only tool; '
                       f"{profile.kind} enforces only a named tool_choice)")
            else:
                emu.require_tool_call = "*"
                change("warning", "tool_choice", f'"required" with {len(funcs)} tools: {profile.kind} does not '
                       "enforce it; the model may answer without a call", lossy=True)
    if not profile.parallel_tool_calls:
        drop("parallel_tool_calls", "the model decides how many calls to make")

    # --- n
    n = out.get("n")
    if isinstance(n, int) and n > 1 and not profile.n:
        emu.fan_out = n
        out.pop("n")
        change("emulated", "n", f"n={n}: fanned out into {n} calls, choices merged, usage summed")
    elif n == 1 and not profile.n:
        out.pop("n")

    # --- logprobs
    if not profile.logprobs:
        drop("logprobs", "no logprobs")
        drop("top_logprobs", "no logprobs")

    # --- user
    if "user" in out and profile.user_field != "user":
        user = out.pop("user")
        if profile.user_field == "user_id" and isinstance(user, str) and user:
            out["user_id"] = sanitize_user_id(user)
            change("translated", "user", "sent as user_id" + (" (sanitised)" if out["user_id"] != user else ""))
        else:
            change("dropped", "user", f"{profile.kind} has no per-user field", lossy=False)

    for field in profile.dropped_params:
        drop(field, "rejected or ignored by the backend")

    # --- structured output
    rf = out.get("response_format")
    if isinstance(rf, dict):
        _translate_response_format(out, rf, profile, emu, change)

    # --- streaming usage
    if out.get("stream"):
        opts = dict(out.get("stream_options") or {})
        emu.app_wants_usage = bool(opts.get("include_usage"))
        if not emu.app_wants_usage:
            opts["include_usage"] = True
            out["stream_options"] = opts
            changes.append(Change(action="translated", field="stream_options",
                                  detail="include_usage requested (usage is stripped again before the app sees it)"))
    emu.thinking = thinking
    return Translation(body=out, changes=changes, emulation=emu)


def legacy_call_id(name: str, arguments: str) -> str:
    """A stable tool-call id for a legacy function call: the same call gets the same id on every turn, so the
    function result that follows can point at it and the reasoning side cache can find it."""
    return "call_fn_" + hashlib.sha256(f"{name}\0{arguments}".encode()).hexdigest()[:24]


def _functions_to_tools(out: dict, profile: BackendProfile, emu: Emulation, change) -> None:
    """functions/function_call (deprecated, OpenAI-only) → tools/tool_choice; history turns converted too."""
    functions = out.pop("functions", None)
    fcall = out.pop("function_call", None)
    if isinstance(functions, list):
        tools = list(out.get("tools") or [])
        names = {(t.get("function") or {}).get("name") for t in tools if isinstance(t, dict)}
        tools += [{"type": "function", "function": f} for f in functions
                  if isinstance(f, dict) and f.get("name") not in names]
        out["tools"] = tools
        emu.legacy_functions = True
        detail = f"{len(functions)} function(s) sent as tools; tool calls in the reply returned as function_call"
        if fcall is not None:
            if isinstance(fcall, dict):
                out["tool_choice"] = {"type": "function", "function": {"name": fcall.get("name")}}
            elif fcall in ("none", "auto"):
                out["tool_choice"] = fcall
            detail += f"; function_call {json.dumps(fcall)} sent as tool_choice"
        if profile.parallel_tool_calls and "parallel_tool_calls" not in out:
            out["parallel_tool_calls"] = False  # a legacy reply carries exactly one call
        change("translated", "functions", detail)
    elif fcall is not None:
        change("dropped", "function_call", "no functions were given", lossy=False)
    msgs = out.get("messages")
    if isinstance(msgs, list) and any(isinstance(m, dict) and (m.get("role") == "function" or m.get("function_call"))
                                      for m in msgs):
        out["messages"] = _legacy_turns_to_tools(msgs)
        change("translated", "messages", "function_call turns and function results sent as tool_calls / tool "
               "messages")


def _legacy_turns_to_tools(msgs: list) -> list:
    result: list = []
    pending: list[tuple[str, str]] = []  # (function name, call id) not yet answered
    for msg in msgs:
        if not isinstance(msg, dict):
            result.append(msg)
            continue
        m = dict(msg)
        fc = m.pop("function_call", None)
        if m.get("role") == "assistant" and isinstance(fc, dict):
            name, args = str(fc.get("name") or ""), str(fc.get("arguments") or "")
            cid = legacy_call_id(name, args)
            m["tool_calls"] = [*(m.get("tool_calls") or []),
                               {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}]
            pending.append((name, cid))
        elif m.get("role") == "function":
            name = m.pop("name", None)
            match = next((p for p in reversed(pending) if p[0] == name), pending[-1] if pending else None)
            if match is None:  # a result with no call before it: keep the text, as context
                m = {"role": "user", "content": f"Result of function {name}: {_text_of(m.get('content'))}"}
            else:
                pending.remove(match)
                m = {"role": "tool", "tool_call_id": match[1], "content": m.get("content") or ""}
        result.append(m)
    return result


def tool_calls_to_function_call(message: dict) -> int:
    """Reply side of the legacy conversion: the first tool call becomes `function_call`. Returns how many further
    calls were dropped (the legacy shape holds one)."""
    calls = message.get("tool_calls") or []
    if not calls:
        return 0
    fn = (calls[0] or {}).get("function") or {}
    message["function_call"] = {"name": fn.get("name"), "arguments": fn.get("arguments") or ""}
    message["tool_calls"] = None
    return len(calls) - 1


def legacy_function_response(body: dict) -> int:
    """Turn tool calls back into `function_call` in a whole response; returns the number of calls dropped."""
    dropped = 0
    for ch in body.get("choices") or []:
        msg = ch.get("message")
        if isinstance(msg, dict) and msg.get("tool_calls"):
            dropped += tool_calls_to_function_call(msg)
            if ch.get("finish_reason") == "tool_calls":
                ch["finish_reason"] = "function_call"
    return dropped


def _forced_name(tc: Any) -> str:
    if isinstance(tc, dict):
        fn = tc.get("function") or {}
        return fn.get("name") or tc.get("name") or "*"
    return "*"


def _set_thinking(out: dict, profile: BackendProfile, on: bool, effort: str | None = None) -> None:
    if profile.thinking_control == "deepseek":
        out["thinking"] = {"type": "enabled" if on else "disabled"}
        if on and effort:
            out["reasoning_effort"] = effort
        else:
            out.pop("reasoning_effort", None)
    elif profile.thinking_control == "chat_template_kwargs":
        kw = dict(out.get("chat_template_kwargs") or {})
        kw["thinking"] = on
        kw["enable_thinking"] = on
        if on and effort:  # only where the profile maps efforts (DeepSeek V4's template reads it)
            kw["reasoning_effort"] = effort
        else:
            kw.pop("reasoning_effort", None)
        out["chat_template_kwargs"] = kw
        out.pop("reasoning_effort", None)
    elif profile.thinking_control == "reasoning_effort":
        if on and effort:
            out["reasoning_effort"] = effort
        elif not on:
            out["reasoning_effort"] = "none"


def _decide_thinking(out: dict, profile: BackendProfile, change) -> bool:
    """Effective thinking for this call. An app written for a non-reasoning OpenAI model gets thinking OFF on
    backends that default it on (DeepSeek V4): otherwise the same call silently costs reasoning tokens."""
    control = profile.thinking_control
    effort = out.get("reasoning_effort")
    explicit = out.get("thinking")
    if control == "deepseek":
        if isinstance(explicit, dict):
            return explicit.get("type") == "enabled"
        if effort is not None:
            mapped = profile.effort_map.get(str(effort), str(effort))
            on = mapped != "off"
            _set_thinking(out, profile, on, mapped if on else None)
            change("translated", "reasoning_effort", f"{effort} → thinking {'enabled, effort ' + mapped if on else 'disabled'}")
            return on
        if profile.thinking_default:
            _set_thinking(out, profile, False)
            change("translated", "thinking", "disabled: the app did not ask for reasoning (backend default is on)")
        return False
    if control == "chat_template_kwargs":
        if effort is not None:
            mapped = profile.effort_map.get(str(effort), str(effort))
            on = mapped not in ("off", "none")
            level = mapped if on and profile.effort_map else None
            _set_thinking(out, profile, on, level)
            change("translated", "reasoning_effort", f"{effort} → chat_template_kwargs.thinking={on}"
                   + (f", reasoning_effort={level}" if level else ""))
            return on
        kw = out.get("chat_template_kwargs") or {}
        return bool(kw.get("thinking", kw.get("enable_thinking", profile.thinking_default)))
    if control == "reasoning_effort":
        if effort is not None and profile.effort_map:
            mapped = profile.effort_map.get(str(effort), str(effort))
            if mapped != effort:
                out["reasoning_effort"] = mapped
                change("translated", "reasoning_effort", f"{effort} → {mapped}")
            return mapped not in ("none", "off")
        return effort is not None and effort != "none"
    if effort is not None:
        out.pop("reasoning_effort")
        change("dropped", "reasoning_effort", f"{profile.kind}/{profile.family} has no thinking switch", lossy=True)
    return profile.thinking_default


def _translate_messages(msgs: list, profile: BackendProfile, change, cache: ReasoningCache, *,
                        with_tools: bool = False) -> list:
    result = []
    n_dev = n_restored = n_stripped = n_all = 0
    for msg in msgs:
        if not isinstance(msg, dict):
            result.append(msg)
            continue
        m = dict(msg)
        if m.get("role") == "developer" and not profile.developer_role:
            m["role"] = "system"
            n_dev += 1
        if m.get("role") == "assistant":
            reasoning = _reasoning_of(m)
            had = "reasoning_content" in m or "reasoning" in m
            m.pop("reasoning_content", None)
            m.pop("reasoning", None)
            calls = m.get("tool_calls") or []
            mode = profile.reasoning_input
            if mode in ("required_on_tool_calls", "required_with_tools") and calls:
                if reasoning is None:
                    ids = [c.get("id") for c in calls if isinstance(c, dict) and c.get("id")]
                    reasoning = cache.get(ids)
                    n_restored += 1
                m["reasoning_content"] = reasoning if reasoning is not None else ""
            elif mode == "required_with_tools" and with_tools:
                if reasoning is None:
                    reasoning = cache.get_content(m.get("content"))
                    n_restored += 1
                m["reasoning_content"] = reasoning if reasoning is not None else ""
                n_all += 1
            elif mode == "reasoning" and reasoning is not None:
                m["reasoning"] = reasoning
            elif mode == "pass" and reasoning is not None:
                m["reasoning_content"] = reasoning
            elif had:
                n_stripped += 1
        result.append(m)
    if n_dev:
        change("translated", "messages.role", f"{n_dev} developer message(s) sent as system")
    if n_restored:
        change("translated", "messages.reasoning_content",
               f"restored on {n_restored} earlier assistant turn(s) (side cache, empty if unknown)")
    if n_all:
        change("translated", "messages.reasoning_content",
               f"sent on {n_all} earlier assistant turn(s) without tool calls: {profile.kind}/{profile.family} "
               "needs the reasoning of every earlier turn when the request carries tools")
    if n_stripped:
        change("translated", "messages.reasoning_content", f"removed from {n_stripped} earlier assistant turn(s)")
    return result


def _schema_instruction(schema: dict, name: str | None) -> str:
    return (
        "\n\nReply with one json object only (no prose, no code fences) that conforms to this JSON schema"
        f"{' named ' + name if name else ''}:\n{json.dumps(schema, separators=(',', ':'), sort_keys=False)}"
    )


def _last_prompt_message(out: dict) -> dict | None:
    for m in reversed(out.get("messages") or []):
        if isinstance(m, dict) and m.get("role") in ("user", "system"):
            return m
    return None


def _translate_response_format(out: dict, rf: dict, profile: BackendProfile, emu: Emulation, change) -> None:
    kind = rf.get("type")
    if kind == "json_schema" and not profile.json_schema:
        spec = rf.get("json_schema") or {}
        schema = spec.get("schema") or {}
        target = _last_prompt_message(out)
        if target is None:
            raise TranslationError("response_format: json_schema needs a user or system message to carry the schema")
        _append_text(target, _schema_instruction(schema, spec.get("name")))
        if profile.json_object:
            out["response_format"] = {"type": "json_object"}
        else:
            out.pop("response_format")
        emu.json_schema = schema
        emu.json_retry = True
        change("emulated", "response_format",
               "json_schema → " + ("json_object" if profile.json_object else "prompt only")
               + " + schema in the prompt; reply validated against the schema, one retry")
        return
    if kind == "json_object":
        if not profile.json_object:
            out.pop("response_format")
            target = _last_prompt_message(out)
            if target is not None:
                _append_text(target, "\n\nReply with one json object only.")
            emu.json_schema = {"type": "object"}
            emu.json_retry = True
            change("emulated", "response_format", "json_object → instruction in the prompt, reply validated")
            return
        if profile.json_needs_word:
            texts = " ".join(_text_of(m.get("content")) for m in out.get("messages") or []
                             if isinstance(m, dict) and m.get("role") in ("system", "user", "developer"))
            if not JSON_WORD.search(texts):
                target = _last_prompt_message(out)
                if target is not None:
                    _append_text(target, "\n\nReply in json.")
                    change("emulated", "messages", "added the word 'json' to the prompt (json_object requires it)")
        if profile.json_blank_possible:
            emu.json_retry = True
            emu.json_schema = emu.json_schema or {"type": "object"}


# ---------------------------------------------------------------- responses

def normalize_usage(usage: dict | None, profile: BackendProfile) -> dict | None:
    """OpenAI-shaped usage: cache hits in prompt_tokens_details.cached_tokens (DeepSeek fields kept alongside)."""
    if not isinstance(usage, dict):
        return usage
    u = dict(usage)
    if "prompt_cache_hit_tokens" in u:
        details = dict(u.get("prompt_tokens_details") or {})
        details.setdefault("cached_tokens", u["prompt_cache_hit_tokens"])
        u["prompt_tokens_details"] = details
    return u


def _normalize_reasoning(obj: dict, cache: ReasoningCache | None) -> None:
    if "reasoning" in obj and "reasoning_content" not in obj:
        obj["reasoning_content"] = obj.pop("reasoning")
    elif "reasoning" in obj:
        obj.pop("reasoning")
    if cache is not None and isinstance(obj.get("reasoning_content"), str):
        if obj.get("tool_calls"):
            ids = [c.get("id") for c in obj["tool_calls"] if isinstance(c, dict) and c.get("id")]
            cache.put(ids, obj["reasoning_content"])
        else:
            cache.put_content(obj.get("content"), obj["reasoning_content"])


def normalize_chat_response(body: dict, profile: BackendProfile, *, reasoning_cache: ReasoningCache | None = None
                            ) -> dict:
    """Backend response → OpenAI shape: reasoning on `message.reasoning_content` whatever the backend calls it,
    cached tokens where OpenAI reports them. Also remembers reasoning by tool-call id for the next turn."""
    cache = REASONING_CACHE if reasoning_cache is None else reasoning_cache
    out = dict(body)
    choices = []
    for ch in out.get("choices") or []:
        ch = dict(ch)
        if isinstance(ch.get("message"), dict):
            ch["message"] = dict(ch["message"])
            _normalize_reasoning(ch["message"], cache)
            if profile.reasoning_field != "none":
                ch["message"].setdefault("reasoning_content", None)
            if ch["message"].get("tool_calls"):  # OpenAI sends one or the other; llama-cpp-python sends both
                ch["message"].pop("function_call", None)
        choices.append(ch)
    if "choices" in out:
        out["choices"] = choices
    if "usage" in out:
        out["usage"] = normalize_usage(out["usage"], profile)
    return out


def failed_finish_reason(body: dict, profile: BackendProfile) -> str | None:
    """A finish reason that means the generation failed (retry it), never a success."""
    for ch in body.get("choices") or []:
        if ch.get("finish_reason") in profile.retryable_finish_reasons:
            return ch["finish_reason"]
    return None


def sum_usage(a: dict | None, b: dict | None) -> dict | None:
    if not a:
        return copy.deepcopy(b) if b else a
    if not b:
        return a
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, bool):
            continue
        if isinstance(v, (int, float)):
            out[k] = (out.get(k) or 0) + v
        elif isinstance(v, dict):
            out[k] = sum_usage(out.get(k) if isinstance(out.get(k), dict) else None, v)
    return out


def merge_fan_out(bodies: list[dict]) -> dict:
    """n calls → one response with n choices (re-indexed) and summed usage."""
    merged = dict(bodies[0])
    choices, usage = [], None
    for body in bodies:
        for ch in body.get("choices") or []:
            ch = dict(ch)
            ch["index"] = len(choices)
            choices.append(ch)
        usage = sum_usage(usage, body.get("usage"))
    merged["choices"] = choices
    if usage is not None:
        merged["usage"] = usage
    return merged


def normalize_chat_chunk(chunk: dict, profile: BackendProfile) -> dict:
    """One stream chunk → OpenAI shape, statelessly (reasoning field name, cached-token usage). For a whole stream,
    where usage must also move to OpenAI's final `choices: []` chunk, use StreamNormalizer."""
    out = dict(chunk)
    choices = []
    for ch in out.get("choices") or []:
        ch = dict(ch)
        if isinstance(ch.get("delta"), dict):
            ch["delta"] = dict(ch["delta"])
            _normalize_reasoning(ch["delta"], None)
        choices.append(ch)
    if "choices" in out:
        out["choices"] = choices
    if out.get("usage"):
        out["usage"] = normalize_usage(out["usage"], profile)
    return out


class StreamNormalizer:
    """Chunk-by-chunk normalisation of one (possibly fanned-out) chat stream.

    Usage is collected wherever the backend puts it (last content chunk on DeepSeek, a `choices: []` chunk on
    OpenAI/vLLM) and re-emitted the way the app asked: a final OpenAI-style usage chunk if it asked for
    include_usage, nothing otherwise.
    """

    def __init__(self, profile: BackendProfile, *, app_wants_usage: bool,
                 reasoning_cache: ReasoningCache | None = None, legacy_functions: bool = False,
                 collect_content: bool = False) -> None:
        self.profile = profile
        self.app_wants_usage = app_wants_usage
        self.legacy_functions = legacy_functions
        self.collect_content = collect_content
        self.content: dict[int, list[str]] = {}  # choice index → content pieces (when collect_content)
        self.tool_choices: set[int] = set()  # choices that answered with a tool call
        self.dropped_calls = 0  # legacy functions: tool calls beyond the first, which function_call cannot hold
        self._legacy: dict[int, list[str]] = {}  # choice index → [name, arguments] of its function_call
        self.cache = REASONING_CACHE if reasoning_cache is None else reasoning_cache
        self.usage: dict | None = None
        self.index_offset = 0
        self._stream_usage: dict | None = None
        self._first: dict | None = None
        self._max_index = -1
        self._reasoning: dict[int, list[str]] = {}
        self._replies: dict[int, list[str]] = {}  # content of choices that reasoned (for the reasoning cache)
        self._tool_ids: dict[int, list[str]] = {}
        self._tool_heads: dict[tuple[int, int], tuple[str | None, str | None]] = {}  # (choice, call) → (id, name)
        self.failed_reason: str | None = None

    def next_stream(self) -> None:
        """Start the next fan-out stream: its choices are appended after the previous stream's."""
        self._end_stream()
        self.index_offset = self._max_index + 1

    def _end_stream(self) -> None:
        if self._stream_usage is not None:
            self.usage = sum_usage(self.usage, self._stream_usage)
            self._stream_usage = None
        for idx, parts in self._reasoning.items():
            ids = list(self._tool_ids.get(idx) or [])
            if idx in self._legacy:
                ids.append(legacy_call_id(*self._legacy[idx]))
            if ids:
                self.cache.put(ids, "".join(parts))
            elif idx in self._replies:
                self.cache.put_content("".join(self._replies[idx]), "".join(parts))
        self._reasoning, self._tool_ids, self._legacy, self._replies = {}, {}, {}, {}
        self._tool_heads = {}

    def feed(self, chunk: dict) -> list[dict]:
        if self._first is None:
            self._first = {k: chunk.get(k) for k in ("id", "object", "created", "model", "system_fingerprint")}
        usage = chunk.get("usage")
        if usage:
            self._stream_usage = normalize_usage(usage, self.profile)
        choices = chunk.get("choices")
        if not choices:
            return []  # separate usage chunk: re-emitted at the end
        out = dict(chunk)
        out["id"] = self._first.get("id") or chunk.get("id")
        new_choices = []
        for ch in choices:
            ch = dict(ch)
            idx = int(ch.get("index", 0)) + self.index_offset
            ch["index"] = idx
            self._max_index = max(self._max_index, idx)
            delta = ch.get("delta")
            if isinstance(delta, dict):
                delta = dict(delta)
                if "reasoning" in delta and "reasoning_content" not in delta:
                    delta["reasoning_content"] = delta.pop("reasoning")
                elif "reasoning" in delta:
                    delta.pop("reasoning")
                if self.profile.reasoning_field != "none":
                    delta.setdefault("reasoning_content", None)
                if isinstance(delta.get("reasoning_content"), str):
                    self._reasoning.setdefault(idx, []).append(delta["reasoning_content"])
                if delta.get("tool_calls"):
                    delta.pop("function_call", None)  # both at once (llama-cpp-python): OpenAI sends one
                    delta["tool_calls"] = self._once_per_call(idx, delta["tool_calls"])
                for call in delta.get("tool_calls") or []:
                    if isinstance(call, dict) and call.get("id"):
                        self._tool_ids.setdefault(idx, []).append(call["id"])
                if delta.get("tool_calls"):
                    self.tool_choices.add(idx)
                    if self.legacy_functions:
                        self._to_function_call(idx, delta)
                if isinstance(delta.get("content"), str):
                    if self.collect_content:
                        self.content.setdefault(idx, []).append(delta["content"])
                    if idx in self._reasoning:
                        self._replies.setdefault(idx, []).append(delta["content"])
                ch["delta"] = delta
            if self.legacy_functions and ch.get("finish_reason") == "tool_calls":
                ch["finish_reason"] = "function_call"
            if ch.get("finish_reason") in self.profile.retryable_finish_reasons:
                self.failed_reason = ch["finish_reason"]
            new_choices.append(ch)
        out["choices"] = new_choices
        if self.app_wants_usage:
            out["usage"] = None
        else:
            out.pop("usage", None)
        return [out]

    def _once_per_call(self, idx: int, calls: list) -> list:
        """OpenAI sends a call's id, type and name in its first delta only, and clients join every later piece
        onto them; llama-cpp-python repeats them in every delta (the joined name would read get_weatherget_…)."""
        out = []
        for call in calls:
            if not isinstance(call, dict):
                out.append(call)
                continue
            call, fn = dict(call), call.get("function")
            key = (idx, int(call.get("index") or 0))
            if key not in self._tool_heads:
                self._tool_heads[key] = (call.get("id"), fn.get("name") if isinstance(fn, dict) else None)
            else:
                head_id, head_name = self._tool_heads[key]
                if call.get("id") is not None and call["id"] == head_id:
                    call.pop("id")
                    call.pop("type", None)
                if isinstance(fn, dict) and fn.get("name") is not None and fn["name"] == head_name:
                    call["function"] = {k: v for k, v in fn.items() if k != "name"}
            out.append(call)
        return out

    @property
    def choices_seen(self) -> int:
        return self._max_index + 1

    def _to_function_call(self, idx: int, delta: dict) -> None:
        """Legacy functions: the first tool call's deltas become `function_call` deltas; later calls are dropped."""
        fc: dict = {}
        for call in delta.pop("tool_calls") or []:
            if not isinstance(call, dict):
                continue
            if call.get("index", 0) != 0:
                if call.get("id"):
                    self.dropped_calls += 1
                continue
            fn = call.get("function") or {}
            acc = self._legacy.setdefault(idx, ["", ""])
            if fn.get("name"):
                fc["name"] = fn["name"]
                acc[0] += fn["name"]
            if fn.get("arguments") is not None:
                fc["arguments"] = fc.get("arguments", "") + fn["arguments"]
                acc[1] += fn["arguments"]
        if fc:
            fc.setdefault("arguments", "")
            delta["function_call"] = fc

    def finish(self) -> list[dict]:
        self._end_stream()
        if not self.app_wants_usage or self.usage is None or self._first is None:
            return []
        final = {k: v for k, v in self._first.items() if v is not None}
        final["object"] = "chat.completion.chunk"
        final["choices"] = []
        final["usage"] = self.usage
        return [final]
