"""Typed configuration of `migrate shadow serve`, from defaults, a TOML file and command-line overrides.

Keys never live in the config: only the names of the environment variables holding them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from offramp.shadow.ramp.plan import RampPlan

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KNOWN_UPSTREAMS: dict[str, dict[str, str]] = {
    # Used when `--primary openai` / `--candidate deepseek` name a provider rather than a config section.
    "openai": {"base_url": "https://api.openai.com/v1", "kind": "openai", "api_key_env": ""},
    "deepseek": {"base_url": "https://api.deepseek.com/v1", "kind": "deepseek", "api_key_env": "DEEPSEEK_API_KEY"},
    "vllm": {"base_url": "http://127.0.0.1:8000/v1", "kind": "vllm", "api_key_env": ""},
    "llama-cpp-python": {"base_url": "http://127.0.0.1:8000/v1", "kind": "llama-cpp-python", "api_key_env": ""},
}


class ConfigError(ValueError):
    """A one-line, user-facing configuration error naming the file and field."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Upstream(_Model):
    name: str = "openai"
    base_url: str = "https://api.openai.com/v1"
    # Backend profile kind for the adapter (openai | deepseek | vllm | sglang | ollama | llamacpp).
    kind: str = "openai"
    # Environment variable holding this upstream's key. The primary uses the app's own Authorization header;
    # the candidate only ever uses this variable (never the app's key). Empty = send no key (self-hosted).
    api_key_env: str = ""
    # Model name mapping for the candidate: {"gpt-4o": "deepseek-flash", "*": "deepseek-flash"}.
    models: dict[str, str] = Field(default_factory=dict)
    # Provider name for the price tables (defaults to `kind`).
    price_provider: str | None = None

    @field_validator("base_url")
    @classmethod
    def _strip(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")

    def model_for(self, model: str | None) -> str | None:
        if model is None:
            return self.models.get("*")
        return self.models.get(model, self.models.get("*", model))

    def api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None


class BreakerConfig(_Model):
    """The candidate's circuit breaker (shadow/breaker.py)."""

    enabled: bool = True
    consecutive_failures: int = Field(5, ge=1)  # timeouts, 5xx, 429, refused connections, cut streams in a row
    window: int = Field(50, ge=1)  # last N candidate calls...
    min_calls: int = Field(20, ge=1)  # ...at least this many of them...
    error_rate: float = Field(0.5, gt=0.0, le=1.0)  # ...failing at this rate opens it
    stall_s: float = Field(10.0, gt=0)  # calls in flight and none answered for this long opens it (a hang)
    open_s: float = Field(5.0, gt=0)  # wait before the first half-open probe; doubles per failed probe
    max_open_s: float = Field(300.0, gt=0)


class MirrorConfig(_Model):
    # Share of eligible requests mirrored to the candidate (0..1); changeable at run time via the admin API.
    sample: float = Field(1.0, ge=0.0, le=1.0)
    # Share of mirrored requests for which the primary is asked a second time (noise floor).
    noise_sample: float = Field(0.1, ge=0.0, le=1.0)
    # Mirror calls in flight per worker: the mirror keeps up with at most concurrency / candidate latency calls
    # a second (64 / 160 ms = 400/s; 8 was 50/s, below the issue-10 traffic of 140 req/s at 110 ms).
    concurrency: int = Field(64, ge=1)
    # The hand-off to the mirror workers, per proxy process: jobs in flight (beyond the workers' concurrency) and
    # the request + primary-answer bytes they hold. Deep enough to absorb a burst the workers (at `worker_nice`)
    # work off once the CPU is free; beyond either bound mirrors are skipped (`queue_full`), never the primary.
    queue_size: int = Field(4096, ge=1)
    queue_bytes: int = Field(64 * 1_048_576, ge=1024)
    timeout_s: float = Field(60.0, gt=0)
    max_body_bytes: int = Field(1_048_576, ge=1)
    # Spend cap in USD per UTC day over candidate + second-primary calls; 0 = no cap.
    daily_spend_cap_usd: float = Field(0.0, ge=0.0)
    # Endpoints mirrored and compared (shadow.endpoints.ENDPOINTS); one the candidate's backend profile does not
    # serve is left out with a note at startup.
    endpoints: list[str] = Field(
        default_factory=lambda: ["/v1/chat/completions", "/v1/responses", "/v1/embeddings"]
    )
    # Mirror worker processes per proxy process: candidate calls, comparison, redaction, cost and store writes
    # run there, never on the proxy's event loop (shadow/worker.py).
    processes: int = Field(1, ge=1, le=64)
    # Their CPU priority (nice 0..19): on a busy host the proxy's forwarding wins the CPU and the mirror takes
    # what is left, falling behind (and counting `queue_full`) rather than slowing the primary.
    worker_nice: int = Field(10, ge=0, le=19)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)

    @field_validator("endpoints")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        from offramp.shadow.endpoints import ENDPOINTS

        for path in v:
            if path not in ENDPOINTS:
                raise ValueError(f"{path!r} is not mirrorable (known: {', '.join(ENDPOINTS)})")
        return v


class JudgeConfig(_Model):
    base_url: str = ""
    model: str = ""
    api_key_env: str = ""
    timeout_s: float = 60.0


class ComparatorConfig(_Model):
    # Names from shadow.comparators.REGISTRY, run in this order.
    enabled: list[str] = Field(
        default_factory=lambda: ["structural", "text_exact", "token_similarity", "embedding_cosine"]
    )
    token_similarity_threshold: float = Field(0.6, ge=0.0, le=1.0)
    embedding_threshold: float = Field(0.8, ge=-1.0, le=1.0)
    # /v1/embeddings: top-k nearest-neighbour agreement among a rolling window of mirrored inputs per family.
    knn_k: list[int] = Field(default_factory=lambda: [5, 10], min_length=1)
    knn_threshold: float = Field(0.5, ge=0.0, le=1.0)  # an input agrees when >= this share of its k neighbours stay
    knn_window: int = Field(256, ge=10, le=100_000)  # inputs kept per family and side (float32 vectors)
    knn_families: int = Field(16, ge=1)  # families with a window; the least recently used is dropped
    # Inputs judged per request (evenly spaced in a larger batch): ~0.4 ms of CPU each at 1536 dimensions.
    knn_max_inputs: int = Field(32, ge=1)

    @field_validator("knn_k")
    @classmethod
    def _ks(cls, v: list[int]) -> list[int]:
        if any(k < 1 for k in v):
            raise ValueError("every k must be at least 1")
        return v

    @model_validator(mode="after")
    def _window_holds_k(self):
        from offramp.shadow.comparators.embeddings_knn import MIN_WINDOW_FACTOR

        need = MIN_WINDOW_FACTOR * max(self.knn_k) + 1
        if self.knn_window < need:
            raise ValueError(f"knn_window must be at least {need} ({MIN_WINDOW_FACTOR} × the largest knn_k, + 1)")
        return self
    judge: JudgeConfig = Field(default_factory=JudgeConfig)


class StoreConfig(_Model):
    url: str = "sqlite:///offramp-shadow.db"
    privacy: Literal["full", "redacted", "hash-only"] = "redacted"
    # Extra regexes redacted in `redacted` mode, on top of emails, phone numbers, card numbers and API keys.
    redact_patterns: list[str] = Field(default_factory=list)
    retention_days: int = Field(30, ge=1)
    batch_size: int = Field(200, ge=1)
    flush_interval_s: float = Field(0.5, gt=0)
    # Bound on records waiting to be written; beyond it records are dropped and counted, never the primary.
    max_pending: int = Field(10_000, ge=1)
    # How often the day's mirror spend (all replicas) is re-read for the spend cap; never on the request path.
    spend_refresh_s: float = Field(2.0, gt=0)


class ServerConfig(_Model):
    host: str = "127.0.0.1"
    port: int = Field(8787, ge=0, le=65535)
    max_request_bytes: int = Field(20 * 1_048_576, ge=1024)
    admin_token_env: str = "OFFRAMP_ADMIN_TOKEN"
    primary_timeout_s: float = Field(600.0, gt=0)


class ShadowConfig(_Model):
    primary: Upstream = Field(default_factory=lambda: Upstream(**KNOWN_UPSTREAMS["openai"], name="openai"))
    candidate: Upstream = Field(
        default_factory=lambda: Upstream(
            **KNOWN_UPSTREAMS["deepseek"], name="deepseek", models={"*": "deepseek-flash"}
        )
    )
    mirror: MirrorConfig = Field(default_factory=MirrorConfig)
    comparators: ComparatorConfig = Field(default_factory=ComparatorConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    # The rollout plan (`[ramp]`), so one file configures the proxy, its replicas and `migrate shadow ramp`.
    ramp: RampPlan = Field(default_factory=RampPlan)
    # `[families]`: a name per request family (`f_0ce8af16e4aa = "weather agent"`), shown by the report and the
    # dashboard instead of the route · model · prompt words they derive (the hash stays as a tooltip).
    families: dict[str, str] = Field(default_factory=dict)

    @field_validator("families")
    @classmethod
    def _families(cls, v: dict[str, str]) -> dict[str, str]:
        import re

        for k, label in v.items():
            if not re.fullmatch(r"f_[0-9a-f]{12}", k):
                raise ValueError(f"{k!r}: a family id looks like f_0ce8af16e4aa (see `migrate shadow report`)")
            if not label.strip():
                raise ValueError(f"{k}: the label is empty")
        return {k: label.strip() for k, label in v.items()}


LEGACY_RAMP_ENV = "OFFRAMP_RAMP_CONFIG"


def check_legacy_env() -> None:
    """The ramp plan used to come from a second file named by $OFFRAMP_RAMP_CONFIG; a plan silently ignored
    would ramp real traffic on defaults, so its presence is an error pointing at the one file now read."""
    if os.environ.get(LEGACY_RAMP_ENV):
        raise ConfigError(
            f"${LEGACY_RAMP_ENV} is no longer read: move its [ramp] table into the --config file and unset it"
        )


def upstream_from_name(name: str, role: str) -> Upstream:
    """`--primary openai`, `--candidate deepseek=http://127.0.0.1:9002/v1` or a bare base URL."""
    url = None
    if name.startswith(("http://", "https://")):
        name, url = ("openai" if role == "primary" else "deepseek"), name
    elif "=" in name:
        name, url = name.split("=", 1)
    if name not in KNOWN_UPSTREAMS:
        raise ConfigError(f"--{role}: unknown upstream {name!r} (known: {', '.join(KNOWN_UPSTREAMS)}; NAME=URL)")
    data = {**KNOWN_UPSTREAMS[name], "name": name}
    if url:
        data["base_url"] = url
    if name == "deepseek" and role == "candidate":
        data["models"] = {"*": "deepseek-flash"}
    try:
        return Upstream(**data)
    except ValidationError as exc:
        raise ConfigError(f"--{role}: {exc.errors()[0]['msg']}") from None


def _error_line(path: Path | None, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    where = f"{path}: " if path else ""
    msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
    return f"{where}{loc}: {msg}"


def load_config(path: Path | None = None, overrides: dict | None = None) -> ShadowConfig:
    """Defaults < file < overrides (a nested dict). Raises ConfigError with one line naming file and field."""
    data: dict = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such config file") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        data = data.get("shadow", data)
    for section, values in (overrides or {}).items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    try:
        return ShadowConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_error_line(path, exc)) from None
