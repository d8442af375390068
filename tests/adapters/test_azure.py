"""Azure clients against the fake's Azure routes (`/openai/deployments/{d}/...?api-version=`, `api-key`):
unconfigured they are the openai Azure clients on the wire; `adapters.configure(api_type="azure")` builds them."""

from __future__ import annotations

import openai
import pytest
from adapter_helpers import call, config
from test_unconfigured import wire

from offramp import adapters

SYNC_ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
HI = [{"role": "user", "content": "hi"}]


def azure_pair(oa, is_async, **kw):
    kw = {"api_key": "azure-key", "azure_endpoint": oa.url, "api_version": "2024-06-01", "max_retries": 0, **kw}
    if is_async:
        return openai.AsyncAzureOpenAI(**kw), adapters.AsyncAzureOpenAI(**kw)
    return openai.AzureOpenAI(**kw), adapters.AzureOpenAI(**kw)


@SYNC_ASYNC
@pytest.mark.parametrize("method,kwargs", [
    ("chat.completions.create", {"model": "prod-4o", "messages": HI, "seed": 1, "n": 2}),
    ("embeddings.create", {"model": "emb-deploy", "input": ["a", "b"]}),
], ids=["chat", "embeddings"])
async def test_unconfigured_azure_client_is_the_openai_azure_client(oa, is_async, method, kwargs):
    plain, ours = azure_pair(oa, is_async)
    assert ours._offramp_engine is None
    results = []
    for client in (plain, ours):
        res = await call(client, method, **kwargs)
        results.append(res.model_dump(exclude={"id", "created"}))
    assert type(results[0]) is type(results[1]) and results[0] == results[1]
    a, b = oa.requests
    assert wire(a) == wire(b) and a.query == b.query == {"api-version": "2024-06-01"}
    assert a.path.startswith(f"/openai/deployments/{kwargs['model']}/")
    assert "api-key" in {k.lower() for k in a.headers}


@SYNC_ASYNC
async def test_unconfigured_azure_errors_are_the_openai_errors(oa, is_async):
    for client in azure_pair(oa, is_async, api_version="not-a-version"):
        with pytest.raises(openai.NotFoundError, match="Resource not found"):
            await call(client, "chat.completions.create", model="d", messages=HI)
    oa.script(status=429, message="slow down", times=1)
    _, ours = azure_pair(oa, is_async)
    with pytest.raises(openai.RateLimitError):
        await call(ours, "chat.completions.create", model="d", messages=HI)


@SYNC_ASYNC
async def test_configure_api_type_azure_talks_to_the_deployment(oa, is_async):
    adapters.configure(api_type="azure", api_key="azure-key", api_base=oa.url, api_version="2024-06-01",
                       max_retries=0)
    client = adapters.async_client() if is_async else adapters.client()
    assert isinstance(client, openai.AsyncAzureOpenAI if is_async else openai.AzureOpenAI)
    # 0.x `openai.ChatCompletion.create(engine="prod-4o", ...)` is rewritten to model="prod-4o"
    res = await call(client, "chat.completions.create", model="prod-4o", messages=HI)
    assert res.choices[0].message.content == "Echo: hi"
    req = oa.requests[-1]
    assert req.path == "/openai/deployments/prod-4o/chat/completions" and req.query["api-version"] == "2024-06-01"
    assert req.key_fingerprint and "api-key" in {k.lower() for k in req.headers}
    adapters.configure(api_version="2024-6-1")  # a bad version is Azure's 404, as with the openai client
    client = adapters.async_client() if is_async else adapters.client()
    with pytest.raises(openai.NotFoundError):
        await call(client, "chat.completions.create", model="prod-4o", messages=HI)


@SYNC_ASYNC
async def test_configure_azure_ad_sends_a_bearer_token(oa, is_async):
    adapters.configure(api_type="azure_ad", api_key="entra-token", api_base=oa.url, api_version="2024-06-01")
    client = adapters.async_client() if is_async else adapters.client()
    res = await call(client, "chat.completions.create", model="prod-4o", messages=HI)
    assert res.choices and "api-key" not in {k.lower() for k in oa.requests[-1].headers}


@SYNC_ASYNC
async def test_configured_azure_client_keeps_unrouted_calls_on_azure(fakes, oa, ds, is_async):
    cls = adapters.AsyncAzureOpenAI if is_async else adapters.AzureOpenAI
    client = cls(api_key="azure-key", azure_endpoint=oa.url, api_version="2024-06-01", offramp_config=config(fakes))
    res = await call(client, "chat.completions.create", model="gpt-4o-mini", messages=HI)
    assert res.choices[0].message.content == "Echo: hi" and res._offramp.backend == "openai"
    req = oa.requests[-1]
    assert req.path == "/openai/deployments/gpt-4o-mini/chat/completions"
    assert req.query == {"api-version": "2024-06-01"} and "api-key" in {k.lower() for k in req.headers}
    res = await call(client, "chat.completions.create", model="gpt-4o", messages=HI)  # mapped: DeepSeek
    assert res._offramp.backend == "deepseek" and len(ds.requests) == 1 and len(oa.requests) == 1
