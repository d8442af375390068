"""Each flavor's behaviour as data: what the real service accepts, rejects and how it shapes answers.

Sources: /work/shared/reference/backend-compatibility.md §1 (matrix), §2 (DeepSeek hosted, V4 generation),
§3.1 (vLLM). A new quirk is a field here, not a branch in the handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ALL_ENDPOINTS = frozenset(
    {
        "chat",
        "completions",
        "embeddings",
        "models",
        "responses",
        "images",
        "audio",
        "speech",
        "files",
        "fine_tuning",
        "batches",
        "moderations",
    }
)

# Request fields OpenAI's chat endpoint knows (openai-python completion_create_params + stream); OpenAI rejects
# anything else with 400 "Unrecognized request argument supplied: X".
OPENAI_CHAT_FIELDS = frozenset(
    {
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "messages",
        "metadata",
        "modalities",
        "model",
        "moderation",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "prompt_cache_options",
        "prompt_cache_retention",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    }
)


@dataclass(frozen=True)
class Flavor:
    name: str
    models: tuple[str, ...]
    owned_by: str
    accept_any_model: bool
    endpoints: frozenset[str]
    roles: frozenset[str]
    reasoning_field: str | None  # name of the reasoning text in message / delta
    thinking_default: dict[str, bool] = field(default_factory=dict)  # model -> thinking on by default
    json_schema: bool = True
    json_word_required: bool = True  # json_object needs the word "json" in the messages
    multi_n: bool = True
    # Several tool calls in one turn: the model calls every tool the user message names. `parallel_tool_calls`
    # is honoured only where documented (OpenAI: on by default, `false` → at most one call); DeepSeek has no
    # such parameter and vLLM ignores it (its model still calls every named tool).
    parallel_tool_calls: bool = True  # the parameter is honoured
    multi_tool_calls: bool = True  # the model emits several calls when the request names several tools
    max_completion_tokens: bool = True  # honours max_completion_tokens (DeepSeek: not in its schema, ignored)
    forced_tool_choice_in_thinking: bool = True
    legacy_functions: bool = False  # answers the deprecated functions/function_call with message.function_call
    # Thinking mode: which earlier assistant turns must carry reasoning_content, else 400. "with_tools" is
    # DeepSeek V4.1: every earlier assistant turn once the request carries `tools`; none without them.
    reasoning_echo: Literal["none", "tool_calls", "with_tools"] = "none"
    logprobs_in_thinking: bool = True  # logprobs are returned in thinking mode too (and cover the reasoning)
    stream_usage: Literal["separate_chunk", "last_chunk", "none"] = "separate_chunk"
    stream_usage_without_flag: bool = False
    cache_usage: Literal["openai", "deepseek", "none"] = "openai"
    keepalives_default: int = 0
    strict_fields: frozenset[str] | None = None  # None: unknown fields are ignored
    auth_required: bool = True
    vision_models: frozenset[str] | None = None  # None: every model accepts image parts
    image_roles: frozenset[str] | None = None  # roles whose content may hold image parts (None: any)
    embedding_models: dict[str, int] = field(default_factory=dict)  # model -> native dimensions
    embedding_fixed_dims: frozenset[str] = frozenset()  # models that reject `dimensions`
    system_fingerprint: str | None = None
    error_type_by_status: dict[int, str] = field(default_factory=dict)
    # Responses API (/v1/responses): whether responses are stored (previous_response_id, retrieve), whether thinking
    # is on unless `reasoning.effort` is "none" (a reasoning item precedes the answer), and the built-in tools the
    # service runs (any other built-in tool type is a 400).
    responses_stateful: bool = False
    responses_thinking_default: bool = False
    responses_builtin_tools: frozenset[str] = frozenset()
    # llama-cpp-python's quirks (real captures in tests/fixtures/llamacpp/):
    schema_error_status: int = 400  # a request its pydantic schema rejects (role, response_format type)
    n_ignored: bool = False  # n > 1 answers one choice instead of an error
    tool_calls_need_named_choice: bool = False  # only a named tool_choice produces a call (auto/required: text)
    usage_details: bool = True  # usage carries prompt/completion_tokens_details
    context_window: int | None = None  # prompt + max_tokens beyond it → 400 context_length_exceeded
    fastapi_errors: bool = False  # 401/404 and unparsable bodies answer FastAPI's own shapes
    messages_optional: bool = False  # a body without `messages` is answered (as an empty conversation)


_OPENAI_ERRORS = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    402: "insufficient_quota",
    403: "invalid_request_error",
    404: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}

OPENAI = Flavor(
    name="openai",
    models=(
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-5",
        "gpt-5-mini",
        "o3",
        "o4-mini",
        "gpt-3.5-turbo-instruct",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
        "dall-e-3",
        "gpt-image-1",
        "whisper-1",
        "tts-1",
        "omni-moderation-latest",
    ),
    owned_by="openai",
    accept_any_model=True,
    endpoints=ALL_ENDPOINTS,
    roles=frozenset({"system", "developer", "user", "assistant", "tool", "function"}),
    reasoning_field=None,
    legacy_functions=True,
    strict_fields=OPENAI_CHAT_FIELDS,
    embedding_models={
        "text-embedding-3-small": 1536,
        "text-embedding-3-large": 3072,
        "text-embedding-ada-002": 1536,
    },
    embedding_fixed_dims=frozenset({"text-embedding-ada-002"}),
    system_fingerprint="fp_fake0openai",
    error_type_by_status=_OPENAI_ERRORS,
    responses_stateful=True,
    responses_builtin_tools=frozenset(
        {"web_search", "web_search_preview", "file_search", "code_interpreter", "computer_use_preview",
         "image_generation", "mcp", "local_shell", "shell", "apply_patch"}
    ),
)

# DeepSeek as of the V4.1 API reference (fact-check-2026-12.md §1a–1b): the model enum is deepseek-flash and
# deepseek-v4-pro; the legacy flash ids are still accepted (served by V4.1 Flash, with vision); deepseek-chat and
# deepseek-reasoner were retired on 2026-07-24 and answer 400 like any unknown id.
DEEPSEEK = Flavor(
    name="deepseek",
    models=("deepseek-flash", "deepseek-v4-pro", "deepseek-v4-flash", "deepseek-v4-flash-vision-exp"),
    owned_by="deepseek",
    parallel_tool_calls=False,  # not in its API: ignored
    accept_any_model=False,
    endpoints=frozenset(
        {"chat", "completions", "models", "responses", "files"}
    ),  # completions: /beta FIM only
    roles=frozenset({"system", "user", "assistant", "tool", "latest_reminder"}),
    reasoning_field="reasoning_content",
    thinking_default={},  # thinking is on by default for every current id
    json_schema=False,
    multi_n=False,
    max_completion_tokens=False,
    forced_tool_choice_in_thinking=False,
    reasoning_echo="with_tools",
    stream_usage="last_chunk",
    stream_usage_without_flag=True,
    cache_usage="deepseek",
    keepalives_default=1,
    vision_models=frozenset({"deepseek-flash", "deepseek-v4-flash", "deepseek-v4-flash-vision-exp"}),
    image_roles=frozenset({"user", "tool"}),  # "images in system/assistant messages → 400"
    system_fingerprint="fp_fake0deepseek",
    # DeepSeek's Responses reference (fact-check-2026-12 #32-#35): stateless, thinking on by default (effort high),
    # json_schema natively, no built-in tools on deepseek-flash.
    responses_thinking_default=True,
    error_type_by_status={
        400: "invalid_request_error",
        401: "authentication_error",
        402: "insufficient_balance",
        404: "invalid_request_error",
        422: "invalid_request_error",
        429: "rate_limit_error",
        500: "server_error",
        503: "server_overloaded",
    },
)

VLLM = Flavor(
    name="vllm",
    models=("deepseek-ai/DeepSeek-V4-Flash", "BAAI/bge-m3"),
    owned_by="vllm",
    accept_any_model=False,
    endpoints=frozenset(
        {"chat", "completions", "embeddings", "models", "responses", "audio"}
    ),  # audio: transcription only
    roles=frozenset({"system", "developer", "user", "assistant", "tool"}),
    reasoning_field="reasoning",
    json_word_required=False,
    parallel_tool_calls=False,  # ignored
    multi_tool_calls=True,  # the model may emit several calls; the flag itself is ignored
    cache_usage="none",
    auth_required=False,
    embedding_models={"BAAI/bge-m3": 1024},
    error_type_by_status={
        400: "BadRequestError",
        401: "Unauthorized",
        404: "NotFoundError",
        422: "BadRequestError",
        429: "TooManyRequests",
        500: "InternalServerError",
        503: "ServiceUnavailableError",
    },
)

# llama-cpp-python's server (`python -m llama_cpp.server`, 0.3.36, default chat handler), as captured from the real
# server in tests/fixtures/llamacpp/ (tests/selfhosted): any model id is answered by the loaded model, schema
# rejections are HTTP 500 pydantic dumps, n and max_completion_tokens are ignored, no usage in streams, tool calls
# only for a named tool_choice, with the call's id and name repeated in every streamed delta.
LLAMA_CPP_PYTHON = Flavor(
    name="llama-cpp-python",
    models=("tiny",),
    owned_by="me",
    accept_any_model=True,
    endpoints=frozenset({"chat", "completions", "embeddings", "models"}),
    roles=frozenset({"system", "user", "assistant", "tool", "function"}),
    reasoning_field=None,
    json_schema=False,
    json_word_required=False,
    multi_n=False,
    n_ignored=True,
    parallel_tool_calls=False,
    multi_tool_calls=False,
    max_completion_tokens=False,
    stream_usage="none",
    cache_usage="none",
    usage_details=False,
    auth_required=False,
    schema_error_status=500,
    tool_calls_need_named_choice=True,
    context_window=2048,  # the server's default --n_ctx
    fastapi_errors=True,
    messages_optional=True,
    error_type_by_status={400: "invalid_request_error", 500: "internal_server_error"},
)

FLAVORS: dict[str, Flavor] = {f.name: f for f in (OPENAI, DEEPSEEK, VLLM, LLAMA_CPP_PYTHON)}
