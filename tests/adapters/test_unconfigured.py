"""With no Offramp config the client is the openai client: same wire requests, same types, same errors."""

from __future__ import annotations

import openai
import pytest
from adapter_helpers import call, collect
from pydantic import BaseModel

from offramp import adapters


class City(BaseModel):
    name: str
    population: int


def pair(oa, is_async):
    kw = {"api_key": "sk-openai-test", "base_url": oa.base_url, "max_retries": 2}
    if is_async:
        return openai.AsyncOpenAI(**kw), adapters.AsyncOpenAI(**kw)
    return openai.OpenAI(**kw), adapters.OpenAI(**kw)


def wire(req):
    headers = {k.lower(): v for k, v in req.headers.items()
               if k.lower() not in ("x-stainless-async", "x-stainless-os", "x-stainless-runtime-version",
                                    "user-agent", "x-stainless-lang", "x-stainless-package-version",
                                    "x-stainless-arch", "x-stainless-runtime", "x-stainless-read-timeout",
                                    "x-stainless-timeout")}
    return req.method, req.path, req.json, req.key_fingerprint, sorted(headers)


CASES = [
    ("chat.completions.create", {"model": "gpt-4o", "messages": [{"role": "developer", "content": "x"},
                                                                 {"role": "user", "content": "hi"}],
                                 "seed": 3, "n": 2, "user": "u1", "max_completion_tokens": 9}),
    ("chat.completions.create", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                                 "stream": True}),
    ("chat.completions.parse", {"model": "gpt-4o", "messages": [{"role": "user", "content": "a city"}],
                                "response_format": City}),
    ("embeddings.create", {"model": "text-embedding-3-small", "input": ["a", "b"]}),
    ("models.list", {}),
]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("method,kwargs", CASES, ids=[c[0] + ("-stream" if c[1].get("stream") else "")
                                                      for c in CASES])
async def test_same_wire_request_and_same_result(oa, is_async, method, kwargs):
    plain, ours = pair(oa, is_async)
    assert type(ours).__mro__[1:].count(type(plain)) == 1  # a subclass of the openai class
    results = []
    for client in (plain, ours):
        res = await call(client, method, **kwargs)
        if kwargs.get("stream"):
            res = [c.model_dump() for c in await collect(res)]
        elif method == "models.list":
            res = [m.model_dump() for m in (res.data if hasattr(res, "data") else res)]
        else:
            res = type(res), res.model_dump(exclude={"created", "id", "usage"}, warnings=False)  # fake: ids + cache hits vary
        results.append(res)
    assert len(oa.requests) == 2
    assert wire(oa.requests[0]) == wire(oa.requests[1])
    if kwargs.get("stream"):
        strip = [[{k: v for k, v in c.items() if k not in ("created", "id", "usage")} for c in r] for r in results]
        assert strip[0] == strip[1]
    else:
        assert results[0] == results[1]
    assert ours._offramp_engine is None


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_same_exceptions_and_retries(oa, is_async):
    plain, ours = pair(oa, is_async)
    for client in (plain, ours):
        oa.script(status=429, retry_after=0, times=5)
        with pytest.raises(openai.RateLimitError):
            await call(client, "chat.completions.create", model="gpt-4o",
                       messages=[{"role": "user", "content": "x"}])
    assert len(oa.requests) == 6  # 1 + 2 SDK retries each
    oa.reset()
    for client in (plain, ours):
        oa.script(status=400, message="bad")
        with pytest.raises(openai.BadRequestError, match="bad"):
            await call(client, "chat.completions.create", model="gpt-4o",
                       messages=[{"role": "user", "content": "x"}])
    assert len(oa.requests) == 2


def test_config_false_ignores_an_offramp_toml(oa, tmp_path):
    (tmp_path / "offramp.toml").write_text('[routes]\ndefault = "openai"\n')
    assert adapters.OpenAI(api_key="k", base_url=oa.base_url)._offramp_engine is not None
    assert adapters.OpenAI(api_key="k", base_url=oa.base_url, offramp_config=False)._offramp_engine is None
