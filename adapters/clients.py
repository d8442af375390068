"""Drop-in subclasses of the openai client classes.

Unconfigured (no offramp.toml, no $OFFRAMP_CONFIG) they ARE the openai classes: nothing is wrapped. Configured,
the SDK's HTTP client gets an Offramp transport; the SDK still builds every request and parses every response, so
the app keeps the SDK's types, exceptions, streams and `parse()`. Retries then happen in the transport (per
backend, before failing over), so the SDK's own retry count is set to 0.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai

from offramp.adapters.config import OfframpConfig, load_config
from offramp.adapters.engine import Engine
from offramp.adapters.transport import BASE_KEY, RECORD_KEY, AsyncOfframpTransport, OfframpTransport

# openai 3.x ships httpx2 clients, 1.x httpx ones: use whichever the installed SDK has.
_SyncHttp: Any = getattr(openai, "DefaultHttpx2Client", None) or openai.DefaultHttpxClient
_AsyncHttp: Any = getattr(openai, "DefaultAsyncHttpx2Client", None) or openai.DefaultAsyncHttpxClient
_PLACEHOLDER_KEY = "offramp-no-openai-key"


def _resolve(offramp_config: Any) -> OfframpConfig | None:
    if offramp_config is False:
        return None
    if isinstance(offramp_config, OfframpConfig):
        return offramp_config
    if isinstance(offramp_config, (str, Path)):
        return load_config(offramp_config)
    return load_config()


def _prepare(kwargs: dict, offramp_config: Any, on_call: Callable | None, is_async: bool) -> Engine | None:
    """Wrap the SDK's HTTP client when a config is active; return the engine (None = plain openai client)."""
    http_client = kwargs.get("http_client")
    transport_types = (OfframpTransport, AsyncOfframpTransport)
    existing = getattr(http_client, "_transport", None)
    if isinstance(existing, transport_types):  # copy()/with_options() of a configured client
        return existing.engine
    cfg = _resolve(offramp_config)
    if cfg is None:
        return None
    if "retries" not in cfg.model_fields_set and "max_retries" in kwargs:
        # no [retries] in the config: the app's own max_retries keeps its meaning (now per backend)
        cfg = cfg.model_copy(update={"retries": cfg.retries.model_copy(update={"max": kwargs["max_retries"]})})
    engine = Engine(cfg, on_call=on_call)
    inner = existing if http_client is not None else None
    if is_async:
        kwargs["http_client"] = _AsyncHttp(transport=AsyncOfframpTransport(engine, inner))
    else:
        kwargs["http_client"] = _SyncHttp(transport=OfframpTransport(engine, inner))
    kwargs["max_retries"] = 0
    if kwargs.get("api_key") is None and not os.environ.get("OPENAI_API_KEY") \
            and not os.environ.get("AZURE_OPENAI_API_KEY"):
        kwargs["api_key"] = _PLACEHOLDER_KEY  # calls routed to OpenAI would then fail with OpenAI's 401
    return engine


def _attach(result: Any, response: Any) -> Any:
    record = response.extensions.get(RECORD_KEY) if response is not None else None
    if record is not None and result is not None:
        try:
            object.__setattr__(result, "_offramp", record)
        except (AttributeError, TypeError):
            pass
    return result


class _Offramp:
    """What the four drop-in classes share: the engine, set up before the SDK's own __init__ sees the kwargs."""

    _offramp_engine: Engine | None = None
    _offramp_async = False

    def __init__(self, *, offramp_config: Any = None, on_call: Callable[[Any], None] | None = None,
                 **kwargs: Any) -> None:
        engine = _prepare(kwargs, offramp_config, on_call, is_async=self._offramp_async)
        super().__init__(**kwargs)
        self._offramp_engine = engine

    def _build_request(self, options: Any, *, retries_taken: int = 0) -> Any:
        request = super()._build_request(options, retries_taken=retries_taken)  # type: ignore[misc]
        if self._offramp_engine is not None:
            request.extensions[BASE_KEY] = str(self.base_url)  # type: ignore[attr-defined]
        return request


class _SyncMixin(_Offramp):
    def _process_response(self, *, response: Any, **kwargs: Any) -> Any:
        result = super()._process_response(response=response, **kwargs)  # type: ignore[misc]
        return _attach(result, response)


class _AsyncMixin(_Offramp):
    _offramp_async = True

    async def _process_response(self, *, response: Any, **kwargs: Any) -> Any:
        result = await super()._process_response(response=response, **kwargs)  # type: ignore[misc]
        return _attach(result, response)


class OpenAI(_SyncMixin, openai.OpenAI):
    """`openai.OpenAI`, routed by offramp.toml. Extra keywords: `offramp_config` (path, OfframpConfig, or False to
    ignore any config file) and `on_call(record)` (called after each call with what Offramp did and its cost)."""


class AsyncOpenAI(_AsyncMixin, openai.AsyncOpenAI):
    """`openai.AsyncOpenAI`, routed by offramp.toml (same extra keywords as `adapters.OpenAI`)."""


class AzureOpenAI(_SyncMixin, openai.AzureOpenAI):
    """`openai.AzureOpenAI`, routed by offramp.toml; the deployment path is dropped for non-Azure backends."""


class AsyncAzureOpenAI(_AsyncMixin, openai.AsyncAzureOpenAI):
    """`openai.AsyncAzureOpenAI`, routed by offramp.toml (same extra keywords as `adapters.OpenAI`)."""
