"""Offramp's unified client: drop-in openai client classes routed by `offramp.toml`, plus 0.x-style module config.

    from offramp.adapters import OpenAI          # instead of `from openai import OpenAI`
    client = OpenAI()                    # no config: exactly the openai client

Light by contract: stdlib, openai and pydantic only (never libcst, typer, rich, aiohttp, migrate, shadow).
"""

from __future__ import annotations

import threading
from typing import Any

from openai import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentFilterFinishReasonError,
    InternalServerError,
    LengthFinishReasonError,
    NotFoundError,
    OpenAIError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)

from offramp.adapters.clients import AsyncAzureOpenAI, AsyncOpenAI, AzureOpenAI, OpenAI
from offramp.adapters.config import ConfigError, OfframpConfig, load_config
from offramp.adapters.hooks import add_hook, remove_hook
from offramp.adapters.translate import Change, TranslationRecord

__all__ = [
    "OpenAI", "AsyncOpenAI", "AzureOpenAI", "AsyncAzureOpenAI", "configure", "client", "async_client", "reset",
    "add_hook", "remove_hook", "ConfigError", "OfframpConfig", "load_config", "Change", "TranslationRecord",
    "OpenAIError", "APIError", "APIStatusError", "APIConnectionError", "APITimeoutError",
    "APIResponseValidationError", "BadRequestError", "AuthenticationError", "PermissionDeniedError", "NotFoundError",
    "ConflictError", "UnprocessableEntityError", "RateLimitError", "InternalServerError", "LengthFinishReasonError",
    "ContentFilterFinishReasonError",
]

_lock = threading.Lock()
_settings: dict[str, Any] = {}
_clients: dict[str, Any] = {}

_KNOWN = {"api_key", "base_url", "api_base", "organization", "project", "api_type", "api_version", "timeout",
          "max_retries", "default_headers", "azure_deployment", "azure_ad_token", "offramp_config", "on_call"}


def configure(**settings: Any) -> None:
    """Module-level settings for rewritten 0.x apps (`openai.api_key = ...` → `adapters.configure(api_key=...)`).

    Accepts api_key, base_url / api_base, organization, project, api_type ("openai" | "azure" | "azure_ad"),
    api_version, timeout, max_retries, default_headers, azure_deployment, azure_ad_token, offramp_config, on_call.
    Values of None unset a setting. The shared clients are rebuilt on next use.
    """
    unknown = set(settings) - _KNOWN
    if unknown:
        raise TypeError(f"adapters.configure(): unknown setting {sorted(unknown)[0]!r}")
    with _lock:
        for k, v in settings.items():
            if v is None:
                _settings.pop(k, None)
            else:
                _settings[k] = v
        _clients.clear()


def reset() -> None:
    """Forget every configure() setting, the shared clients and the stored Responses conversations."""
    from offramp.adapters.conversations import reset_stores

    with _lock:
        _settings.clear()
        _clients.clear()
    reset_stores()


def _kwargs(azure: bool) -> dict[str, Any]:
    s = dict(_settings)
    kw: dict[str, Any] = {}
    base = s.pop("base_url", None) or s.pop("api_base", None)
    s.pop("api_base", None)
    api_type = str(s.pop("api_type", "openai")).lower()
    version = s.pop("api_version", None)
    for k in ("api_key", "organization", "project", "timeout", "max_retries", "default_headers", "offramp_config",
              "on_call"):
        if k in s:
            kw[k] = s.pop(k)
    if azure:
        if base:
            kw["azure_endpoint"] = base
        if version:
            kw["api_version"] = version
        for k in ("azure_deployment", "azure_ad_token"):
            if k in s:
                kw[k] = s.pop(k)
        if api_type in ("azure_ad", "azuread") and "azure_ad_token" not in kw and "api_key" in kw:
            kw["azure_ad_token"] = kw.pop("api_key")  # 0.x put the Azure AD token in api_key
    elif base:
        kw["base_url"] = base
    return kw


def _get(kind: str) -> Any:
    with _lock:
        if kind not in _clients:
            azure = str(_settings.get("api_type", "openai")).lower() in ("azure", "azure_ad", "azuread")
            cls = {("sync", False): OpenAI, ("async", False): AsyncOpenAI,
                   ("sync", True): AzureOpenAI, ("async", True): AsyncAzureOpenAI}[(kind, azure)]
            _clients[kind] = cls(**_kwargs(azure))
        return _clients[kind]


def client() -> OpenAI:
    """The process-wide sync client built from configure() + environment + offramp.toml (lazily)."""
    return _get("sync")


def async_client() -> AsyncOpenAI:
    """The process-wide async client (same settings as `client()`)."""
    return _get("async")
