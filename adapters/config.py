"""Offramp routing config (`offramp.toml`): which backend answers which call. Keys come only from env vars.

Example::

    [backends.deepseek]
    kind = "deepseek"
    base_url = "https://api.deepseek.com"
    api_key_env = "DEEPSEEK_API_KEY"

    [backends.tei]
    kind = "vllm"
    base_url = "http://127.0.0.1:8080/v1"
    default_model = "BAAI/bge-m3"

    [routes]
    default = "openai"              # the app's own OpenAI settings unless [backends.openai] says otherwise
    fallback = ["openai"]           # tried on 402, on a missing capability, after retries are exhausted
    [routes.models]
    "gpt-4o" = "deepseek/deepseek-v4-flash"          # or { backend = "deepseek", model = "...", share = 25 }
    [routes.capabilities]
    embeddings = "tei"
    vision = "openai"
    [routes.share]
    percent = 100                   # share of mapped traffic actually moved (sticky)
    key = "user"                    # user | header:<name> | messages

    [responses]                     # previous_response_id state for stateless backends (adapters/conversations.py)
    store = "memory"                # or a SQLite file path (relative to this file), shared by processes
    ttl = 3600                      # seconds a stored response can be chained from
    max_entries = 10000             # memory store: least recently used dropped beyond this
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_ENV = "OFFRAMP_CONFIG"
CONFIG_NAME = "offramp.toml"


class ConfigError(ValueError):
    """The config file is invalid; the message is one line naming the file and key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Backend(_Strict):
    kind: str = Field("openai", description="Profile kind: openai | deepseek | vllm | sglang | ollama | llamacpp.")
    base_url: str | None = Field(None, description="OpenAI-compatible base URL (with /v1 where the server needs it).")
    api_key_env: str | None = Field(None, description="Env var holding the key. Never the key itself.")
    default_model: str | None = Field(None, description="Model used when a call is routed here without a mapping.")
    profile: str | None = Field(None, description="Path to a profile file (e.g. from `migrate probe`).")
    api_key: None = Field(None, description="Forbidden: keys only come from the environment.")

    @field_validator("api_key", mode="before")
    @classmethod
    def _no_key(cls, v: object) -> None:
        if v is not None:
            raise ValueError("keys must not be stored in the config; name an env var with api_key_env")
        return None


class ModelRoute(_Strict):
    backend: str
    model: str | None = None
    share: float | None = Field(None, ge=0, le=100, description="Percent of this model's traffic moved.")


class Share(_Strict):
    percent: float = Field(100, ge=0, le=100)
    key: str = Field("user", description="user | header:<name> | messages")

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if v not in ("user", "messages") and not (v.startswith("header:") and len(v) > 7):
            raise ValueError("must be 'user', 'messages' or 'header:<name>'")
        return v


class Routes(_Strict):
    default: str = "openai"
    fallback: list[str] = Field(default_factory=list)
    models: dict[str, ModelRoute] = Field(default_factory=dict)
    capabilities: dict[str, str] = Field(default_factory=dict)
    share: Share = Field(default_factory=Share)

    @field_validator("models", mode="before")
    @classmethod
    def _shorthand(cls, v: object) -> object:
        if not isinstance(v, dict):
            return v
        out = {}
        for name, target in v.items():
            if isinstance(target, str):
                backend, _, model = target.partition("/")
                out[name] = {"backend": backend, "model": model or None}
            else:
                out[name] = target
        return out


class Retries(_Strict):
    max: int = Field(2, ge=0, le=20, description="Retries per backend on retryable failures.")
    on_status: list[int] = Field(default_factory=lambda: [429, 500, 503])
    backoff_base: float = Field(0.5, ge=0)
    backoff_max: float = Field(8.0, ge=0)
    retry_after_max: float = Field(60.0, ge=0, description="Longest Retry-After honoured before failing over.")


class Timeouts(_Strict):
    request: float | None = Field(None, gt=0, description="Per-attempt timeout (default: the client's).")
    stream_total: float = Field(900.0, gt=0, description="Total deadline of a stream, keep-alives included.")


class Settings(_Strict):
    strict: bool = Field(False, description="Refuse calls that would need a lossy change.")


class ResponsesSettings(_Strict):
    store: str = Field("memory", description="'memory' (in-process LRU) or a SQLite file path for stored responses.")
    ttl: float = Field(3600.0, gt=0, description="Seconds a stored response stays chainable via previous_response_id.")
    max_entries: int = Field(10_000, ge=1, description="Memory store size (least recently used dropped first).")

    def sqlite_path(self, config_path: str) -> str | None:
        if self.store == "memory":
            return None
        p = Path(self.store)
        if not p.is_absolute() and config_path and not config_path.startswith("<"):
            p = Path(config_path).resolve().parent / p
        return str(p)


class OfframpConfig(_Strict):
    path: str = ""
    settings: Settings = Field(default_factory=Settings)
    backends: dict[str, Backend] = Field(default_factory=dict)
    routes: Routes = Field(default_factory=Routes)
    retries: Retries = Field(default_factory=Retries)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    responses: ResponsesSettings = Field(default_factory=ResponsesSettings)

    @model_validator(mode="after")
    def _names(self) -> OfframpConfig:
        known = set(self.backends) | {"openai"}
        r = self.routes
        refs = [("routes.default", r.default)] + [(f"routes.fallback[{i}]", b) for i, b in enumerate(r.fallback)]
        refs += [(f"routes.models.{m}.backend", t.backend) for m, t in r.models.items()]
        refs += [(f"routes.capabilities.{c}", b) for c, b in r.capabilities.items()]
        for where, name in refs:
            if name not in known:
                raise ValueError(f"{where}: unknown backend {name!r} (define [backends.{name}])")
        return self

    def backend(self, name: str) -> Backend:
        if name in self.backends:
            return self.backends[name]
        return Backend(kind="openai")  # the app's own OpenAI client settings


def find_config(start: Path | None = None) -> Path | None:
    """$OFFRAMP_CONFIG, else offramp.toml in the current directory or a parent."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise ConfigError(f"{CONFIG_ENV}={env}: no such file")
        return p
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        p = d / CONFIG_NAME
        if p.is_file():
            return p
    return None


def parse_config(text: str, path: str = "<config>") -> OfframpConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML ({exc})") from None
    try:
        return OfframpConfig.model_validate({**data, "path": path})
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        raise ConfigError(f"{path}: {key + ': ' if key else ''}{msg}") from None


def load_config(path: str | Path | None = None) -> OfframpConfig | None:
    """The active config, or None when there is none (the client then behaves exactly like openai's)."""
    p = Path(path) if path is not None else find_config()
    if p is None:
        return None
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror})") from None
    return parse_config(text, str(p))


Capability = Literal["chat", "embeddings", "images", "audio", "fine_tuning", "assistants", "batches",
                     "moderations", "files", "vision", "responses", "completions", "models", "other"]
