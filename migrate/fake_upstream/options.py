"""Server options shared by the CLI and the test helper; validated once so handlers can trust them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FlavorName = Literal["openai", "deepseek", "vllm", "llama-cpp-python"]

DEGRADE_KEYS = (
    "wrong_tool", "drop_tool", "invalid_json", "truncate", "blank_json", "error", "rate_limit", "latency_ms", "embedding_noise",
)


class Degrade(BaseModel):
    """Quality/latency degradations the rollout benchmark injects (probabilities per request)."""

    model_config = ConfigDict(extra="forbid")

    wrong_tool: float = Field(0.0, ge=0, le=1)
    drop_tool: float = Field(0.0, ge=0, le=1, description="answer in prose where a tool call was due")
    invalid_json: float = Field(0.0, ge=0, le=1)
    truncate: float = Field(0.0, ge=0, le=1)
    blank_json: float = Field(0.0, ge=0, le=1)
    error: float = Field(0.0, ge=0, le=1)
    rate_limit: float = Field(0.0, ge=0, le=1)
    latency_ms: float = Field(0.0, ge=0)
    # Not a probability: how far each embedding is pulled towards a text-seeded random direction (1: no
    # neighbour structure left), for the shadow proxy's nearest-neighbour comparator.
    embedding_noise: float = Field(0.0, ge=0, le=1)

    def any(self) -> bool:
        return any(getattr(self, k) for k in DEGRADE_KEYS)


def parse_degrade(text: str | None) -> Degrade:
    """`wrong_tool=0.05,invalid_json=0.1,latency_ms=200` -> Degrade; one-line ValueError naming the bad item."""
    if not text:
        return Degrade()
    values: dict[str, float] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in DEGRADE_KEYS:
            raise ValueError(
                f"--degrade item {item!r}: expected KEY=NUMBER with KEY in {', '.join(DEGRADE_KEYS)}"
            )
        try:
            values[key] = float(raw)
        except ValueError:
            raise ValueError(f"--degrade item {item!r}: {raw!r} is not a number") from None
    try:
        return Degrade(**values)
    except Exception as exc:  # pydantic ValidationError -> one line
        first = exc.errors()[0] if hasattr(exc, "errors") else {"loc": ("?",), "msg": str(exc)}
        raise ValueError(f"--degrade {first['loc'][0]}: {first['msg']}") from None


class FakeOptions(BaseModel):
    """Everything that shapes the fake's behaviour. Same options + same seed -> same answers."""

    model_config = ConfigDict(extra="forbid")

    flavor: FlavorName = "openai"
    latency_ms: float = Field(0.0, ge=0, description="added before every response")
    ttft_ms: float = Field(0.0, ge=0, description="time to first token (streams) / extra wait (non-stream)")
    chunk_ms: float = Field(0.0, ge=0, description="delay between stream chunks")
    seed: int = 0
    noise: float = Field(0.0, ge=0, le=1, description="probability of a varied (but valid) answer")
    degrade: Degrade = Field(default_factory=Degrade)
    keepalives: int | None = Field(
        None, ge=0, description="DeepSeek: ': keep-alive' comments per stream and blank lines before JSON"
    )
    vllm_error_style: Literal["wrapped", "flat"] = "wrapped"
    vllm_thinking: bool = Field(
        False, description="vLLM: thinking on by default (else only with chat_template_kwargs.thinking)"
    )
    vllm_auto_tool_choice: bool = Field(True, description="vLLM: started with --enable-auto-tool-choice")
    models: list[str] | None = Field(None, description="override the flavor's model list")
    api_key: str | None = Field(None, description="require exactly this key (default: any non-empty key)")
    admin_token: str | None = Field(None, description="bearer token for /_fake/* (None: no check)")
    record_limit: int = Field(10_000, ge=0, description="how many received requests to keep")

    @field_validator("degrade", mode="before")
    @classmethod
    def _degrade_from_text(cls, value: object) -> object:
        return parse_degrade(value) if isinstance(value, str) else value
