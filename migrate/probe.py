"""`migrate probe`: learn what an OpenAI-compatible server supports by asking it, and write the answer as a
backend profile (`adapters.profiles.BackendProfile` TOML) the adapter can route with.

Each check is one or two small requests through the openai SDK; a check that errors says why. The API key is
read from the environment variable the user names and is never printed or written.
"""

from __future__ import annotations

import datetime as _dt
import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

PROMPT = [{"role": "user", "content": "Reply with one short sentence: what is 2 + 2?"}]
TOOL_A = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TOOL_B = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Time in a timezone",
        "parameters": {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]},
    },
}
CUSTOM_TOOL = {"type": "custom", "custom": {"name": "raw_text", "description": "free-form input"}}
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}, "unit": {"type": "string"}},
    "required": ["answer", "unit"],
    "additionalProperties": False,
}
PNG_1PX = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAA"
    "AElFTkSuQmCC"
)
OPTIONAL_PARAMS: dict[str, Any] = {
    "seed": 1,
    "logit_bias": {"50256": -100},
    "service_tier": "auto",
    "store": False,
    "metadata": {"probe": "1"},
    "prediction": {"type": "content", "content": "4"},
}
# capability -> (method, path, body) sent with an empty/minimal body: 404 means "not served", any other answer
# (usually 400 for the missing fields) means the endpoint exists.
ENDPOINTS: dict[str, tuple[str, str]] = {
    "embeddings": ("post", "/embeddings"),
    "images": ("post", "/images/generations"),
    "audio": ("post", "/audio/transcriptions"),
    "fine_tuning": ("get", "/fine_tuning/jobs"),
    "assistants": ("get", "/assistants"),
    "batches": ("get", "/batches"),
    "moderations": ("post", "/moderations"),
    "files": ("get", "/files"),
    "responses": ("post", "/responses"),
    "completions": ("post", "/completions"),
}


class ProbeError(RuntimeError):
    """The server cannot be probed at all (unreachable, auth, no chat); one line for the user."""


@dataclass
class Check:
    name: str
    passed: bool | None  # None: skipped / not applicable
    detail: str


@dataclass
class ProbeResult:
    base_url: str
    model: str
    name: str
    checks: list[Check] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)


def shown_url(url: str) -> str:
    """The URL as printed and written into the profile: without `user:password@` or a query (`?api-key=...`),
    where some servers take their key."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _err(exc: Exception) -> str:
    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        msg = body.get("message") if isinstance(body, dict) else None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            msg = body["error"].get("message")
        elif isinstance(body, dict) and isinstance(body.get("detail"), str):  # FastAPI servers (llama-cpp-python)
            msg = body["detail"]
        return " ".join(f"HTTP {exc.status_code}: {(msg or exc.message)}".split())[:160]
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:160]


def _extra(obj: Any) -> dict:
    return getattr(obj, "model_extra", None) or {}


def _reasoning_of(message: Any) -> tuple[str, str | None]:
    for name in ("reasoning_content", "reasoning"):
        value = _extra(message).get(name)
        if value:
            return name, value
    return "none", None


class Prober:
    def __init__(self, client: openai.OpenAI, model: str) -> None:
        self.client = client
        self.model = model
        self.checks: list[Check] = []
        self.p: dict[str, Any] = {}
        self.off_body: dict[str, Any] = {}  # extra body that switches thinking off, once known

    def chat(self, **kw: Any) -> Any:
        extra = (
            {**self.off_body, **kw.pop("extra_body", {})}
            if kw.pop("thinking_off", False)
            else kw.pop("extra_body", None)
        )
        return self.client.chat.completions.create(
            model=self.model, messages=kw.pop("messages", PROMPT), extra_body=extra or None, **kw
        )

    def check(self, name: str, fn: Callable[[], tuple[bool | None, str]]) -> bool | None:
        try:
            passed, detail = fn()
        except openai.APIConnectionError as exc:
            passed, detail = False, _err(exc)
        except openai.APIStatusError as exc:
            passed, detail = False, _err(exc)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            passed, detail = False, f"unexpected answer: {exc}"[:160]
        self.checks.append(Check(name, passed, detail))
        return passed

    # --- the battery -----------------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            first = self.chat()
        except openai.APIConnectionError as exc:
            raise ProbeError(f"cannot reach {shown_url(str(self.client.base_url))}: {_err(exc)}") from None
        except openai.AuthenticationError as exc:
            raise ProbeError(f"authentication failed at {shown_url(str(self.client.base_url))} ({_err(exc)})") from None
        except openai.APIStatusError as exc:
            raise ProbeError(f"chat completion with model {self.model!r} failed: {_err(exc)}") from None
        content = first.choices[0].message.content or ""
        self.checks.append(Check("chat", True, f"{content[:50]!r}"))
        self._usage_fields(first.usage)
        self._reasoning(first)
        self.check("stream with usage", self._stream_usage)
        self.check("developer role", self._developer)
        self.check("max_completion_tokens", self._max_completion_tokens)
        self.check("tools", self._tools)
        if self.p.get("tools", True):
            self.check("custom tool type", self._custom_tool)
            self.check("tool_choice none", self._tool_choice_none)
            self.check("forced tool_choice", self._forced)
            self.check("tool_choice required", self._required)
            self.check("parallel tool calls", self._parallel)
            self.check("legacy functions", self._legacy_functions)
        elif self.p.get("_tools_accepted"):
            # Accepted but no call on its own (llama-cpp-python without a function-calling chat format): a named
            # tool_choice may still be enforced, and then the backend does serve tools.
            if self.check("forced tool_choice", self._forced):
                self.p["tools"] = True
                self.check("tool_choice required", self._required)
        self.p.pop("_tools_accepted", None)
        self.check("reasoning on tool-call turns", self._reasoning_input)
        self.check("json_object", self._json_object)
        self.check("json_object without 'json'", self._json_word)
        self.check("json_schema", self._json_schema)
        self.check("n=2", self._n)
        self.check("logprobs", self._logprobs)
        self.check("optional params", self._optional_params)
        self.check("vision", self._vision)
        self._capabilities()

    def _usage_fields(self, usage: Any) -> None:
        extra = _extra(usage) if usage else {}
        if "prompt_cache_hit_tokens" in extra:
            self.p["cache_usage"], detail = "hit_miss", "prompt_cache_hit_tokens / prompt_cache_miss_tokens"
        elif usage is not None and usage.prompt_tokens_details is not None:
            self.p["cache_usage"], detail = "cached_tokens", "prompt_tokens_details.cached_tokens"
        else:
            self.p["cache_usage"], detail = "none", "no cached-token field"
        self.checks.append(
            Check("cache usage fields", True if self.p["cache_usage"] != "none" else None, detail)
        )

    def _reasoning(self, first: Any) -> None:
        field_, _ = _reasoning_of(first.choices[0].message)
        tries = [
            ("deepseek", {"thinking": {"type": "disabled"}}, {"thinking": {"type": "enabled"}}),
            (
                "chat_template_kwargs",
                {"chat_template_kwargs": {"thinking": False}},
                {"chat_template_kwargs": {"thinking": True}},
            ),
        ]
        if field_ != "none":
            self.p.update(reasoning_field=field_, thinking_default=True)
            for control, off, _on in tries:
                try:
                    r = self.chat(extra_body=off)
                except openai.APIStatusError:
                    continue
                if _reasoning_of(r.choices[0].message)[0] == "none":
                    self.p["thinking_control"], self.off_body = control, off
                    break
            else:
                self.p["thinking_control"] = "none"
            self.checks.append(
                Check("reasoning field", True, f"{field_} by default; switch: {self.p['thinking_control']}")
            )
            return
        self.p["thinking_default"] = False
        for control, off, on in tries:
            try:
                r = self.chat(extra_body=on)
            except openai.APIStatusError:
                continue
            found, _ = _reasoning_of(r.choices[0].message)
            if found != "none":
                self.p.update(reasoning_field=found, thinking_control=control)
                self.off_body = off
                self.checks.append(Check("reasoning field", True, f"{found} when switched on ({control})"))
                return
        self.p["reasoning_field"] = "none"
        try:
            self.chat(reasoning_effort="low")
            self.p["thinking_control"] = "reasoning_effort"
            detail = "no reasoning text; reasoning_effort accepted"
        except openai.APIStatusError as exc:
            self.p["thinking_control"] = "none"
            detail = f"no reasoning text; reasoning_effort rejected ({_err(exc)})"
        self.checks.append(Check("reasoning field", None, detail))

    def _stream_usage(self) -> tuple[bool, str]:
        chunks = list(self.chat(stream=True, stream_options={"include_usage": True}))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        if not text:
            raise ValueError("stream carried no content")
        if any(c.usage and not c.choices for c in chunks):
            self.p["stream_usage"] = "separate_chunk"
        elif chunks and chunks[-1].usage and chunks[-1].choices:
            self.p["stream_usage"] = "last_chunk"
        else:
            self.p["stream_usage"] = "none"
            return False, "no usage in the stream"
        return True, f"usage: {self.p['stream_usage'].replace('_', ' ')}"

    def _developer(self) -> tuple[bool, str]:
        try:
            self.chat(messages=[{"role": "developer", "content": "Be brief."}, *PROMPT])
        except openai.APIStatusError as exc:
            self.p["developer_role"] = False
            return False, _err(exc)
        self.p["developer_role"] = True
        return True, "accepted"

    def _max_completion_tokens(self) -> tuple[bool, str]:
        r = self.chat(max_completion_tokens=1, thinking_off=True)
        honoured = r.choices[0].finish_reason == "length"
        self.p["max_completion_tokens"] = honoured
        return honoured, "honoured" if honoured else "ignored (use max_tokens)"

    def _tools(self) -> tuple[bool, str]:
        try:
            r = self.chat(tools=[TOOL_A])
        except openai.APIStatusError as exc:
            self.p["tools"] = False
            return False, _err(exc)
        calls = r.choices[0].message.tool_calls or []
        self.p["tools"] = bool(calls)
        if not calls:
            self.p["_tools_accepted"] = True
            return False, "no tool call returned"
        json.loads(calls[0].function.arguments)
        return True, f"called {calls[0].function.name}"

    def _custom_tool(self) -> tuple[bool, str]:
        try:
            self.chat(tools=[TOOL_A, CUSTOM_TOOL])
        except openai.APIStatusError as exc:
            self.p["tool_types"] = ["function"]
            return False, _err(exc)
        self.p["tool_types"] = ["function", "custom"]
        return True, "accepted"

    def _tool_choice_none(self) -> tuple[bool, str]:
        r = self.chat(tools=[TOOL_A], tool_choice="none")
        honoured = not r.choices[0].message.tool_calls
        self.p["tool_choice"] = honoured
        return honoured, "honoured" if honoured else "ignored (a tool was called anyway)"

    def _forced(self) -> tuple[bool, str]:
        named = {"type": "function", "function": {"name": "get_time"}}
        try:
            r = self.chat(tools=[TOOL_A, TOOL_B], tool_choice=named)
            in_default_mode = True
        except openai.APIStatusError as exc:
            if not self.off_body:
                self.p["tool_choice_forced"] = False
                return False, _err(exc)
            first_error = _err(exc)
            r = self.chat(tools=[TOOL_A, TOOL_B], tool_choice=named, thinking_off=True)
            in_default_mode = False
        calls = r.choices[0].message.tool_calls or []
        ok = bool(calls) and calls[0].function.name == "get_time"
        self.p["tool_choice_forced"] = ok
        if self.p.get("thinking_default"):
            self.p["tool_choice_forced_in_thinking"] = in_default_mode
        if not in_default_mode:
            return ok, f"only with thinking off ({first_error})"
        return ok, "honoured" if ok else "named tool not called"

    def _required(self) -> tuple[bool, str]:
        r = self.chat(tools=[TOOL_A], tool_choice="required", thinking_off=True)
        honoured = bool(r.choices[0].message.tool_calls)
        self.p["tool_choice_required"] = honoured
        return honoured, "honoured" if honoured else "no call (a named tool_choice is sent instead when one tool)"

    def _parallel(self) -> tuple[bool, str]:
        """Honoured only if `false` limits a two-tool request to one call while `true` allows both: a server that
        always answers with one call, or ignores the flag and makes several, does not honour it."""
        def calls(parallel: bool) -> int:
            r = self.chat(
                tools=[TOOL_A, TOOL_B],
                parallel_tool_calls=parallel,
                thinking_off=True,
                messages=[{"role": "user", "content": "Weather in Paris and time in Tokyo, both at once."}],
            )
            return len(r.choices[0].message.tool_calls or [])

        n_true, n_false = calls(True), calls(False)
        honoured = n_true > 1 and n_false == 1
        self.p["parallel_tool_calls"] = honoured
        return honoured, f"{n_true} call(s) with true, {n_false} with false"

    def _legacy_functions(self) -> tuple[bool, str]:
        """The deprecated functions/function_call: served only if the reply says `function_call`; servers that
        ignore the fields (answering in text or tool_calls) get them converted to tools by the adapter."""
        try:
            r = self.chat(
                functions=[TOOL_A["function"]], function_call={"name": TOOL_A["function"]["name"]}, thinking_off=True
            )
        except openai.APIStatusError as exc:
            self.p["legacy_functions"] = False
            return False, _err(exc)
        fc = r.choices[0].message.function_call
        ok = fc is not None and fc.name == TOOL_A["function"]["name"]
        self.p["legacy_functions"] = ok
        return ok, "answered with function_call" if ok else "ignored (no function_call in the reply)"

    def _reasoning_input(self) -> tuple[bool | None, str]:
        history = [
            *PROMPT,
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_probe",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_probe", "content": "sunny"},
        ]
        field_ = self.p.get("reasoning_field", "none")
        try:
            self.chat(messages=history, tools=[TOOL_A])
        except openai.APIStatusError as exc:
            if "reasoning" not in _err(exc):
                raise
        else:
            self.p["reasoning_input"] = "reasoning" if field_ == "reasoning" else "strip"
            return None, "not required"
        # Required on tool-call turns; with `tools`, DeepSeek V4.1 also wants it on plain assistant turns.
        plain = [*PROMPT, {"role": "assistant", "content": "Noted."}, {"role": "user", "content": "And now?"}]
        try:
            self.chat(messages=plain, tools=[TOOL_A])
        except openai.APIStatusError as exc:
            if "reasoning" in _err(exc):
                self.p["reasoning_input"] = "required_with_tools"
                return True, "must be sent back on every earlier assistant turn when tools are given"
            raise
        self.p["reasoning_input"] = "required_on_tool_calls"
        return True, "must be sent back on assistant tool-call turns"

    def _json_object(self) -> tuple[bool, str]:
        try:
            r = self.chat(
                response_format={"type": "json_object"},
                thinking_off=True,
                messages=[{"role": "user", "content": "Answer in JSON: what is 2 + 2?"}],
            )
        except openai.APIStatusError as exc:
            self.p["json_object"] = False
            return False, _err(exc)
        json.loads(r.choices[0].message.content or "")
        self.p["json_object"] = True
        return True, "valid JSON"

    def _json_word(self) -> tuple[bool | None, str]:
        if not self.p.get("json_object"):
            return None, "skipped"
        try:
            self.chat(response_format={"type": "json_object"}, thinking_off=True)
        except openai.BadRequestError as exc:
            self.p["json_needs_word"] = True
            return None, f"the prompt must say 'json' ({_err(exc)[:60]})"
        self.p["json_needs_word"] = False
        return None, "accepted"

    def _json_schema(self) -> tuple[bool, str]:
        fmt = {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA, "strict": True}}
        try:
            r = self.chat(response_format=fmt, thinking_off=True)
        except openai.APIStatusError as exc:
            self.p["json_schema"] = False
            return False, _err(exc)
        data = json.loads(r.choices[0].message.content or "")
        ok = (
            isinstance(data, dict)
            and set(SCHEMA["required"]) <= set(data)
            and isinstance(data["answer"], int)
        )
        self.p["json_schema"] = ok
        return ok, "conforms" if ok else f"does not conform: {str(data)[:60]}"

    def _n(self) -> tuple[bool, str]:
        try:
            r = self.chat(n=2)
        except openai.APIStatusError as exc:
            self.p["n"] = False
            return False, _err(exc)
        self.p["n"] = len(r.choices) == 2
        return self.p["n"], f"{len(r.choices)} choice(s)"

    def _logprobs(self) -> tuple[bool, str]:
        def has(r: Any) -> bool:
            return bool(r.choices[0].logprobs and r.choices[0].logprobs.content)

        try:
            r = self.chat(logprobs=True, top_logprobs=2)
        except openai.APIStatusError as exc:
            r, first = None, _err(exc)
        if r is not None and has(r):
            self.p["logprobs"] = True
            return True, "returned"
        if self.off_body:
            r2 = self.chat(logprobs=True, top_logprobs=2, thinking_off=True)
            if has(r2):
                self.p["logprobs"] = True
                self.p.setdefault("thinking_ignores", []).extend(["logprobs", "top_logprobs"])
                return True, "returned only with thinking off"
        self.p["logprobs"] = False
        return False, first if r is None else "not returned"

    def _optional_params(self) -> tuple[bool, str]:
        rejected = []
        for name, value in OPTIONAL_PARAMS.items():
            try:
                self.chat(extra_body={name: value}, thinking_off=True)
            except openai.BadRequestError:
                rejected.append(name)
            except openai.UnprocessableEntityError:
                rejected.append(name)
        if rejected:
            self.p["dropped_params"] = rejected
        return not rejected, f"rejected: {', '.join(rejected)}" if rejected else "all accepted"

    def _vision(self) -> tuple[bool, str]:
        msg = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What colour is this pixel?"},
                    {"type": "image_url", "image_url": {"url": PNG_1PX}},
                ],
            }
        ]
        try:
            self.chat(messages=msg)
        except openai.APIStatusError as exc:
            self.p["_vision"] = False
            return False, _err(exc)
        self.p["_vision"] = True
        return True, "image part accepted"

    def _capabilities(self) -> None:
        caps = ["chat"]
        found, missing = [], []
        for cap, (method, path) in ENDPOINTS.items():
            try:
                if method == "get":
                    self.client.get(path, cast_to=object)
                else:
                    self.client.post(path, body={}, cast_to=object)
                present = True
            except openai.NotFoundError:
                present = False
            except openai.APIStatusError as exc:
                present = exc.status_code not in (404, 405, 501)
            except openai.APIConnectionError:
                present = False
            (found if present else missing).append(cap)
        caps += found
        if self.p.pop("_vision", False):
            caps.append("vision")
        self.p["capabilities"] = caps
        self.checks.append(
            Check(
                "endpoints", None, f"served: {', '.join(found) or '-'}; missing: {', '.join(missing) or '-'}"
            )
        )


def probe(
    base_url: str, model: str, api_key: str, *, name: str = "probed", timeout: float = 60.0
) -> ProbeResult:
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=1, timeout=timeout)
    prober = Prober(client, model)
    prober.run()
    order = [
        "developer_role",
        "max_completion_tokens",
        "tools",
        "tool_types",
        "tool_choice",
        "tool_choice_forced",
        "tool_choice_required",
        "parallel_tool_calls",
        "legacy_functions",
        "n",
        "logprobs",
        "dropped_params",
        "json_object",
        "json_schema",
        "json_needs_word",
        "reasoning_field",
        "reasoning_input",
        "thinking_control",
        "thinking_default",
        "thinking_ignores",
        "tool_choice_forced_in_thinking",
        "stream_usage",
        "cache_usage",
        "capabilities",
    ]
    profile = {"family": "probed", "models": ["*"]}
    profile.update({k: prober.p[k] for k in order if k in prober.p})
    # The probe does not exercise the Responses API: translate Responses calls to the chat path it did check,
    # keep previous_response_id state locally and refuse OpenAI's built-in tools (the profile defaults are OpenAI's).
    profile.update({"responses": "chat", "responses_stateful": False, "builtin_tools": []})
    base_url = shown_url(base_url)
    today = _dt.datetime.now(_dt.timezone.utc).date()
    profile["source"] = f"migrate probe {base_url} --model {model} ({today:%Y-%m-%d})"
    profile["verified"] = today
    return ProbeResult(base_url, model, name, prober.checks, profile)


# --- output -----------------------------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def to_toml(result: ProbeResult) -> str:
    lines = [
        f"# Written by `migrate probe` against {result.base_url} (model {result.model}).",
        '# Review it, then point the adapter at it (profile = "<this file>" in offramp.toml) or copy it to',
        "# rules/backends/<kind>.toml.",
        f"kind = {json.dumps(result.name)}",
        "",
        "[[profile]]",
    ]
    lines += [f"{key} = {_toml_value(value)}" for key, value in result.profile.items()]
    return "\n".join(lines) + "\n"


def write_profile(result: ProbeResult, path: Path) -> None:
    """Write and re-read through the adapter's own loader, so a file we write is a file it accepts."""
    from offramp.adapters.profiles import load_profile_file

    path.write_text(to_toml(result), encoding="utf-8")
    load_profile_file(path)
