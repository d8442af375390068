"""Backend capability profiles: what each OpenAI-compatible backend accepts, as data from `rules/backends/*.toml`.

Why data: DeepSeek changed its contract with every model generation and self-hosted servers differ by version and
flags, so a quirk must be one row in a TOML file (hand-written or written by `migrate probe`), never a code branch.

File format (one file per backend kind, e.g. `rules/backends/deepseek.toml`)::

    kind = "deepseek"                 # openai | deepseek | vllm | sglang | ollama | llamacpp | any name
    [defaults]                        # optional: fields shared by every profile in the file
    developer_role = false
    [[profile]]                       # one per dated model family; first match on `models` wins
    family = "v4"
    models = ["deepseek-v4-*", "deepseek-flash*"]   # fnmatch patterns on the request's model id
    since = 2026-04-24
    json_schema = false
    source = "https://api-docs.deepseek.com/..."   # required: where the facts come from
    verified = 2026-12-03                         # required: the day they were last checked against it
    ...

Every field of `BackendProfile` may appear in `[defaults]` or `[[profile]]`; unknown keys are an error naming the
file and key. Facts move, so `[defaults]` and every `[[profile]]` row must name their own `source` and `verified`
date: a row without them fails loading with one line naming the file and the row. `migrate probe` writes a file
with one `[[profile]]` (family "probed", models ["*"], source = the probe run, verified = its date).
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import functools
import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RULES_BACKENDS_DIR = Path(__file__).resolve().parent.parent / "rules" / "backends"

Capability = Literal[
    "chat", "embeddings", "images", "audio", "fine_tuning", "assistants", "batches", "moderations", "files",
    "vision", "responses", "completions",
]


BUILTIN_TOOL_TYPES = frozenset({
    "web_search", "web_search_preview", "web_search_preview_2025_03_11", "web_search_2025_08_26", "file_search",
    "code_interpreter", "computer", "computer_use", "computer_use_preview", "image_generation", "mcp", "local_shell",
    "shell", "apply_patch", "tool_search",
})


class ProfileError(ValueError):
    """A backend profile file is malformed; the message names the file and the key."""


class BackendProfile(BaseModel):
    """What one backend (kind + model family) supports. Defaults describe OpenAI itself, so a profile lists only
    how a backend differs.

    Field groups (each maps to one probe check or one translation rule):
    - request shape: `developer_role`, `max_completion_tokens`, `tool_types`, `max_tools`, `tool_choice`,
      `tool_choice_forced`, `tool_choice_required`, `parallel_tool_calls`, `n`, `logprobs`, `user_field`, `dropped_params`,
      `legacy_functions`.
    - structured output: `json_object`, `json_schema`, `json_needs_word` (prompt must say "json"),
      `json_blank_possible` (blank/whitespace content in JSON mode → retry).
    - reasoning: `reasoning_field` (name on responses: reasoning_content | reasoning | none), `reasoning_input`
      (what to do with reasoning on earlier assistant turns), `thinking_control` (how to switch thinking on/off),
      `thinking_default`, `effort_map` (OpenAI reasoning_effort → backend value; "none" → thinking off),
      `thinking_ignores` (params dropped in thinking mode), `tool_choice_forced_in_thinking`.
    - streaming/usage: `stream_usage` (where usage arrives), `cache_usage` (how cached prompt tokens are reported).
    - failures: `retryable_finish_reasons` (finish reasons that mean "failed, retry", never success),
      `rejections_as_5xx` (5xx errors that are really the backend rejecting the request: a 400, no retry).
    - surfaces: `capabilities` (endpoints/features served; anything else is routed elsewhere or refused).
    - Responses API: `responses` (native `/v1/responses` or translated to Chat Completions), `responses_stateful`
      (the backend keeps responses for `previous_response_id`; else Offramp's local store does), `builtin_tools`.
    """

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="Backend kind: openai | deepseek | vllm | sglang | ollama | llamacpp | custom.")
    family: str = Field("default", description="Model family this row describes, e.g. 'v4', 'r1'.")
    models: list[str] = Field(default_factory=lambda: ["*"], description="fnmatch patterns of model ids.")
    since: _dt.date | None = Field(None, description="First day this family's contract applied.")
    until: _dt.date | None = Field(None, description="Day the ids were retired (a warning record after it).")
    notes: str = ""
    source: str = Field("", description="Where the facts come from (doc URL, probe run).")
    verified: _dt.date | None = Field(None, description="Day the facts were last checked against `source`.")
    replacement: str = Field("", description="After `until`: the id to use instead (the backend answers 400).")
    aliases: dict[str, str] = Field(
        default_factory=dict, description="Legacy id → the model the backend really serves and bills it as."
    )

    # request shape
    developer_role: bool = Field(True, description="Accepts role 'developer'; else it becomes 'system'.")
    max_completion_tokens: bool = Field(True, description="Accepts max_completion_tokens; else → max_tokens.")
    max_output_tokens: int | None = Field(None, description="Clamp max_tokens to this.")
    context_window: int | None = Field(None, description="Input + output tokens the model accepts.")
    default_max_tokens: dict[Literal["non_thinking", "thinking", "max"], int] = Field(
        default_factory=dict,
        description="The backend's max_tokens when a request sets none, by mode ('max': reasoning_effort max). "
        "OpenAI's default is the model's maximum, so a request without one gets max_output_tokens explicitly.",
    )
    tool_types: list[str] = Field(default_factory=lambda: ["function", "custom"])
    max_tools: int | None = None
    tools: bool = True
    legacy_functions: bool = Field(
        True, description="Accepts the deprecated functions/function_call; else they are sent as tools/tool_choice "
        "and the reply is turned back into message.function_call."
    )
    tool_choice: bool = Field(True, description="Honours tool_choice at all (Ollama ignores it).")
    tool_choice_forced: bool = Field(True, description="Honours 'required' / a named function.")
    tool_choice_required: bool = Field(
        True, description="Honours 'required' too (llama-cpp-python enforces only a named function: with one tool, "
        "'required' is sent as that tool named)."
    )
    parallel_tool_calls: bool = True
    n: bool = Field(True, description="Accepts n > 1; else the adapter fans out n calls.")
    logprobs: bool = True
    user_field: Literal["user", "user_id", "drop"] = Field(
        "user", description="'user' passes it, 'user_id' sends DeepSeek's sanitised user_id, 'drop' removes it."
    )
    dropped_params: list[str] = Field(
        default_factory=list, description="Params the backend rejects or ignores: dropped with a record."
    )

    # structured output
    json_object: bool = True
    json_schema: bool = True
    json_needs_word: bool = Field(False, description="json_object needs the word 'json' in the prompt.")
    json_blank_possible: bool = Field(False, description="JSON mode may return blank content (retry once).")

    # reasoning
    reasoning_field: Literal["reasoning_content", "reasoning", "none"] = "none"
    reasoning_input: Literal["required_with_tools", "required_on_tool_calls", "strip", "reasoning", "pass"] = Field(
        "strip",
        description="Earlier assistant turns: 'required_with_tools' re-sends reasoning_content on EVERY earlier "
        "assistant turn when the request carries tools, and on tool-call turns otherwise (DeepSeek V4.1); "
        "'required_on_tool_calls' re-sends it on turns with tool_calls only (V3.2/V4), 'strip' removes it, "
        "'reasoning' sends it as 'reasoning' (vLLM).",
    )
    thinking_control: Literal["none", "deepseek", "chat_template_kwargs", "reasoning_effort"] = "reasoning_effort"
    thinking_default: bool = Field(False, description="Thinking is on unless switched off (DeepSeek V4).")
    effort_map: dict[str, str] = Field(default_factory=dict, description="reasoning_effort value mapping.")
    thinking_ignores: list[str] = Field(default_factory=list, description="Params dropped in thinking mode.")
    non_thinking_ignores: list[str] = Field(
        default_factory=list, description="Params dropped when thinking is off (V4.1 Flash fixes top_p at 1.0)."
    )
    thinking_ranges: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="Params clamped into [low, high] in thinking mode (V4.1: top_p 0.95–1)."
    )
    tool_choice_forced_in_thinking: bool = True

    # streaming / usage
    stream_usage: Literal["separate_chunk", "last_chunk", "none"] = "separate_chunk"
    cache_usage: Literal["cached_tokens", "hit_miss", "none"] = "cached_tokens"

    # failures
    retryable_finish_reasons: list[str] = Field(default_factory=list)
    rejections_as_5xx: list[str] = Field(
        default_factory=list, description="Words of a 5xx error message that mean the backend rejected the request "
        "itself (llama-cpp-python answers its validation errors with 500): answered as a 400, never retried."
    )

    # surfaces
    capabilities: list[Capability] = Field(
        default_factory=lambda: [
            "chat", "embeddings", "images", "audio", "fine_tuning", "assistants", "batches", "moderations",
            "files", "vision", "responses", "completions",
        ]
    )

    # Responses API
    responses: Literal["native", "chat"] = Field(
        "native", description="'native': a Responses call goes to the backend's /v1/responses (needs capability "
        "'responses'), with only what differs translated; 'chat': it is translated to Chat Completions and back.",
    )
    responses_stateful: bool = Field(
        True, description="The backend stores responses (store, previous_response_id, retrieve); else Offramp's "
        "local conversation store ([responses] in offramp.toml) does.",
    )
    builtin_tools: list[str] = Field(
        default_factory=lambda: sorted(BUILTIN_TOOL_TYPES),
        description="Built-in Responses tools the backend runs (web_search, file_search, ...); others → 400.",
    )

    def matches(self, model: str | None) -> bool:
        return model is None or any(fnmatch.fnmatchcase(model, p) for p in self.models)

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def responses_mode(self) -> Literal["native", "chat"] | None:
        """How this backend serves a Responses call: natively, translated to chat, or not at all (None)."""
        if self.responses == "native" and "responses" in self.capabilities:
            return "native"
        return "chat" if "chat" in self.capabilities else None


class ProfileSet(BaseModel):
    """All profiles of one backend kind, in file order (first matching family wins)."""

    kind: str
    path: str
    profiles: list[BackendProfile]

    def for_model(self, model: str | None) -> BackendProfile:
        for p in self.profiles:
            if p.matches(model):
                return p
        raise ProfileError(f"{self.path}: no [[profile]] of kind {self.kind!r} matches model {model!r}")


def load_profile_file(path: str | Path) -> ProfileSet:
    """Parse and validate one profile file; errors are one line naming the file and key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: invalid TOML ({exc})") from None
    kind = data.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ProfileError(f"{path}: missing top-level key 'kind'")
    unknown = set(data) - {"kind", "defaults", "profile"}
    if unknown:
        raise ProfileError(f"{path}: unknown top-level key {sorted(unknown)[0]!r}")
    defaults = data.get("defaults", {})
    rows = data.get("profile") or [{}]
    if "defaults" in data:
        _require_provenance(path, "defaults", defaults)
    profiles = []
    for i, row in enumerate(rows):
        if isinstance(row, dict) and (data.get("profile") or "defaults" not in data):
            _require_provenance(path, f"profile[{i}]" + (f" ({row['family']})" if "family" in row else ""), row)
        merged = {**defaults, **row, "kind": kind}
        try:
            profiles.append(BackendProfile.model_validate(merged))
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(x) for x in err["loc"])
            raise ProfileError(f"{path}: profile[{i}].{key}: {err['msg']}") from None
    return ProfileSet(kind=kind, path=str(path), profiles=profiles)


def _require_provenance(path: Path, where: str, row: dict) -> None:
    """Facts move: a row states its own source and the day it was checked, or it does not load."""
    if not isinstance(row.get("source"), str) or not row["source"].strip():
        raise ProfileError(f"{path}: {where}: missing 'source' (the document or URL its facts come from)")
    if not isinstance(row.get("verified"), _dt.date) or isinstance(row.get("verified"), _dt.datetime):
        raise ProfileError(f"{path}: {where}: missing 'verified' (the date its facts were last checked, e.g. "
                           "verified = 2026-12-03)")


def _search_dirs() -> list[Path]:
    extra = os.environ.get("OFFRAMP_BACKENDS_DIR")
    dirs = [Path(d) for d in extra.split(os.pathsep) if d] if extra else []
    return [*dirs, RULES_BACKENDS_DIR]


@functools.lru_cache(maxsize=64)
def _load_kind(kind: str, dirs: tuple[Path, ...]) -> ProfileSet:
    for d in dirs:
        f = d / f"{kind}.toml"
        if f.is_file():
            return load_profile_file(f)
    raise ProfileError(f"no backend profile for kind {kind!r} (looked for {kind}.toml in {', '.join(map(str, dirs))})")


def load_profile(kind: str, model: str | None = None, *, path: str | Path | None = None) -> BackendProfile:
    """The profile for `kind` (a file `<kind>.toml` in $OFFRAMP_BACKENDS_DIR, then `rules/backends/`) and model.

    `path` loads a specific file instead (a `migrate probe` output).
    """
    if path is not None:
        return load_profile_file(path).for_model(model)
    return _load_kind(kind, tuple(_search_dirs())).for_model(model)


def load_profile_set(kind: str, *, path: str | Path | None = None) -> ProfileSet:
    """Every profile of `kind` (or of the file at `path`), in file order: which model ids the backend serves."""
    if path is not None:
        return load_profile_file(path)
    return _load_kind(kind, tuple(_search_dirs()))


def available_kinds() -> list[str]:
    return sorted({p.stem for d in _search_dirs() if d.is_dir() for p in d.glob("*.toml")})
