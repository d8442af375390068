"""Routing: model map, capability routes, sticky share, fallback on 402 / missing capability, retries, config."""

from __future__ import annotations

import time

import openai
import pytest
from adapter_helpers import call, config, make_client

from offramp.adapters.config import ConfigError, parse_config
from offramp.adapters.routing import bucket, candidates, capabilities_of

SYNC_ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
HI = [{"role": "user", "content": "hi"}]


@SYNC_ASYNC
async def test_unmapped_models_stay_on_openai(fakes, ds, oa, is_async):
    client = make_client(fakes, config(fakes), is_async=is_async)
    res = await call(client, "chat.completions.create", model="gpt-4o-mini", messages=HI, seed=4)
    assert res.model == "gpt-4o-mini" and len(oa.requests) == 1 and not ds.requests
    assert oa.requests[0].json["seed"] == 4  # OpenAI gets the request untouched


@SYNC_ASYNC
async def test_embeddings_capability_route_to_self_hosted(fakes, vl, oa, is_async):
    cfg = config(fakes, capabilities='embeddings = "tei"')
    client = make_client(fakes, cfg, is_async=is_async)
    res = await call(client, "embeddings.create", model="text-embedding-3-small", input=["a", "b"])
    assert len(res.data) == 2 and len(res.data[0].embedding) == 1024
    assert vl.requests[0].json["model"] == "BAAI/bge-m3" and not oa.requests


@SYNC_ASYNC
async def test_embeddings_on_deepseek_fall_back_or_fail_naming_capability(fakes, ds, oa, is_async):
    routed = config(fakes, models='"text-embedding-3-small" = "deepseek/deepseek-v4-flash"',
                    fallback='fallback = ["openai"]')
    res = await call(make_client(fakes, routed, is_async=is_async), "embeddings.create",
                     model="text-embedding-3-small", input="a")
    assert len(res.data[0].embedding) == 1536 and not ds.requests and len(oa.requests) == 1
    assert any(c.action == "fallback" and "embeddings" in c.detail for c in res._offramp.changes)
    no_fallback = config(fakes, models='"text-embedding-3-small" = "deepseek/deepseek-v4-flash"')
    with pytest.raises(openai.BadRequestError, match="capability 'embeddings'.*backend 'deepseek'"):
        await call(make_client(fakes, no_fallback, is_async=is_async), "embeddings.create",
                   model="text-embedding-3-small", input="a")
    assert not ds.requests  # never sent blind


@SYNC_ASYNC
async def test_vision_capability_route_keeps_images_on_openai(fakes, ds, oa, is_async):
    cfg = config(fakes, capabilities='vision = "openai"')
    client = make_client(fakes, cfg, is_async=is_async)
    img = [{"role": "user", "content": [{"type": "text", "text": "what is this"},
                                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]
    await call(client, "chat.completions.create", model="gpt-4o", messages=img)
    await call(client, "chat.completions.create", model="gpt-4o", messages=HI)
    assert len(oa.requests) == 1 and len(ds.requests) == 1


@SYNC_ASYNC
async def test_402_fails_over_to_the_next_backend(fakes, ds, oa, is_async):
    ds.script(status=402, message="Insufficient Balance")
    client = make_client(fakes, config(fakes, fallback='fallback = ["openai"]'), is_async=is_async)
    res = await call(client, "chat.completions.create", model="gpt-4o", messages=HI)
    assert len(ds.requests) == 1 and len(oa.requests) == 1 and res.model == "gpt-4o"
    ds.script(status=402, message="Insufficient Balance")
    with pytest.raises(openai.APIStatusError) as err:
        await call(make_client(fakes, config(fakes), is_async=is_async), "chat.completions.create",
                   model="gpt-4o", messages=HI)
    assert err.value.status_code == 402 and len(ds.requests) == 2  # 402 is never retried


@SYNC_ASYNC
async def test_429_retried_with_retry_after_then_success(fakes, ds, is_async):
    ds.script(status=429, retry_after=0.2, times=1)
    client = make_client(fakes, config(fakes), is_async=is_async)
    t0 = time.monotonic()
    res = await call(client, "chat.completions.create", model="gpt-4o", messages=HI)
    assert time.monotonic() - t0 >= 0.2  # Retry-After honoured
    assert res.choices and len(ds.requests) == 2 and res._offramp.attempts == 2
    assert any(c.action == "retried" for c in res._offramp.changes)


@SYNC_ASYNC
async def test_unparseable_retry_after_falls_back_to_own_backoff(fakes, ds, is_async):
    ds.script(status=503, headers={"Retry-After": "soon"}, times=1)
    client = make_client(fakes, config(fakes), is_async=is_async)
    res = await call(client, "chat.completions.create", model="gpt-4o", messages=HI)
    assert res.choices and len(ds.requests) == 2 and res._offramp.attempts == 2


@SYNC_ASYNC
async def test_400_401_422_are_not_retried(fakes, ds, is_async):
    client = make_client(fakes, config(fakes, fallback='fallback = ["openai"]'), is_async=is_async)
    for status, exc in ((400, openai.BadRequestError), (401, openai.AuthenticationError),
                        (422, openai.UnprocessableEntityError)):
        ds.reset()
        ds.script(status=status, message="nope")
        with pytest.raises(exc):
            await call(client, "chat.completions.create", model="gpt-4o", messages=HI)
        assert len(ds.requests) == 1


@SYNC_ASYNC
async def test_retries_exhausted_then_fallback(fakes, ds, oa, is_async):
    ds.script(status=503, times=5)
    client = make_client(fakes, config(fakes, fallback='fallback = ["openai"]', retries="max = 1\nbackoff_base = 0.01"),
                         is_async=is_async)
    res = await call(client, "chat.completions.create", model="gpt-4o", messages=HI)
    assert len(ds.requests) == 2 and len(oa.requests) == 1 and res.model == "gpt-4o"


def test_missing_key_env_is_a_clear_error(fakes, ds, monkeypatch):
    monkeypatch.delenv("DS_KEY")
    with pytest.raises(openai.AuthenticationError, match="DS_KEY.*backends.deepseek.api_key_env"):
        make_client(fakes, config(fakes)).chat.completions.create(model="gpt-4o", messages=HI)
    assert not ds.requests


def test_missing_key_env_of_the_openai_backend_is_the_same_clear_error(fakes, oa, monkeypatch):
    monkeypatch.delenv("OA_KEY", raising=False)
    cfg = config(fakes, '[backends.openai]\nkind = "openai"\napi_key_env = "OA_KEY"')
    with pytest.raises(openai.AuthenticationError, match="OA_KEY.*backends.openai.api_key_env"):
        make_client(fakes, cfg).chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert not oa.requests  # not sent with an empty bearer in place of the app's key
    monkeypatch.setenv("OA_KEY", "sk-from-env-1234")
    make_client(fakes, cfg).chat.completions.create(model="gpt-4o-mini", messages=HI)
    assert oa.requests[0].key_hint == "1234"


def test_share_is_sticky_by_user_and_roughly_proportional(fakes):
    cfg = config(fakes, models='"gpt-4o" = { backend = "deepseek", model = "deepseek-v4-flash", share = 30 }')
    picks = {}
    for i in range(400):
        body = {"model": "gpt-4o", "messages": HI, "user": f"user-{i}"}
        picks[i] = candidates(cfg, ["chat"], "gpt-4o", body, {})[0].backend
        again = candidates(cfg, ["chat"], "gpt-4o", body, {})[0].backend
        assert again == picks[i]
    moved = sum(b == "deepseek" for b in picks.values()) / len(picks)
    assert 0.22 < moved < 0.38
    no_key = candidates(cfg, ["chat"], "gpt-4o", {"model": "gpt-4o", "messages": HI}, {})[0]
    assert no_key.backend == "openai" and "no share key" in no_key.reason


def test_share_by_header_and_by_opening_messages(fakes):
    cfg = config(fakes, "", models='"gpt-4o" = { backend = "deepseek", share = 50 }')
    cfg.routes.share.key = "header:x-tenant"
    a = candidates(cfg, ["chat"], "gpt-4o", {"messages": HI}, {"x-tenant": "acme"})[0].backend
    assert all(candidates(cfg, ["chat"], "gpt-4o", {"messages": HI}, {"x-tenant": "acme"})[0].backend == a
               for _ in range(5))
    cfg.routes.share.key = "messages"
    conv = [{"role": "system", "content": "s"}, {"role": "user", "content": "first"}]
    b = candidates(cfg, ["chat"], "gpt-4o", {"messages": conv}, {})[0].backend
    longer = conv + [{"role": "assistant", "content": "x"}, {"role": "user", "content": "more"}]
    assert candidates(cfg, ["chat"], "gpt-4o", {"messages": longer}, {})[0].backend == b  # same conversation
    assert 0 <= bucket("k") < 100


def test_capabilities_of_paths():
    assert capabilities_of("chat/completions", {"messages": HI}) == ["chat"]
    assert capabilities_of("openai/deployments/gpt4/chat/completions", None) == ["chat"]
    assert capabilities_of("fine_tuning/jobs", None) == ["fine_tuning"]
    assert capabilities_of("threads/t1/runs", None) == ["assistants"]
    assert capabilities_of("images/generations", None) == ["images"]


@SYNC_ASYNC
async def test_unsupported_surfaces_are_never_sent_to_deepseek(fakes, ds, is_async):
    cfg = config(fakes)
    cfg.routes.default = "deepseek"
    client = make_client(fakes, cfg, is_async=is_async)
    with pytest.raises(openai.BadRequestError, match="capability 'images'"):
        await call(client, "images.generate", model="dall-e-3", prompt="a cat")
    with pytest.raises(openai.BadRequestError, match="capability 'fine_tuning'"):
        await call(client, "fine_tuning.jobs.create", model="gpt-4o-mini", training_file="file-1")
    assert not ds.requests


@pytest.mark.parametrize("text,needle", [
    ('[backends.x]\nkind = "deepseek"\napi_key = "sk-live"', "backends.x.api_key: keys must not be stored"),
    ('[routes]\nfallback = ["nowhere"]', "routes.fallback[0]: unknown backend 'nowhere'"),
    ('[retries]\nmax = -1', "retries.max"),
    ('[routes]\ndefualt = "openai"', "routes.defualt: unknown key"),
    ("[routes\n", "invalid TOML"),
])
def test_config_errors_are_one_line_naming_file_and_key(text, needle):
    with pytest.raises(ConfigError) as err:
        parse_config(text, "/app/offramp.toml")
    msg = str(err.value)
    assert msg.startswith("/app/offramp.toml: ") and needle in msg and "\n" not in msg


def test_config_found_from_env_and_from_parent_dirs(tmp_path, monkeypatch, fakes):
    from offramp import adapters

    (tmp_path / "offramp.toml").write_text('[routes]\ndefault = "openai"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert adapters.OpenAI(api_key="k")._offramp_engine.config.path == str(tmp_path / "offramp.toml")
    other = tmp_path / "elsewhere.toml"
    other.write_text("[settings]\nstrict = true\n")
    monkeypatch.setenv("OFFRAMP_CONFIG", str(other))
    assert adapters.OpenAI(api_key="k")._offramp_engine.config.settings.strict
    monkeypatch.setenv("OFFRAMP_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="OFFRAMP_CONFIG=.*missing.toml: no such file"):
        adapters.OpenAI(api_key="k")


@SYNC_ASYNC
async def test_azure_client_routes_deployment_calls_to_deepseek(fakes, ds, oa, is_async):
    from offramp import adapters

    cls = adapters.AsyncAzureOpenAI if is_async else adapters.AzureOpenAI
    client = cls(api_key="azure-key", azure_endpoint=fakes["openai"].url, api_version="2024-06-01",
                 offramp_config=config(fakes))
    res = await call(client, "chat.completions.create", model="gpt-4o", messages=HI)
    assert res.choices and len(ds.requests) == 1 and not oa.requests
    req = ds.requests[0]
    assert req.path == "/v1/chat/completions" and "api-version" not in req.query
    assert "api-key" not in {k.lower() for k in req.headers}


def test_app_max_retries_applies_when_config_has_no_retries_section(fakes, ds):
    from offramp import adapters
    from offramp.adapters.config import parse_config

    text = f'[backends.deepseek]\nkind = "deepseek"\nbase_url = "{ds.base_url}"\napi_key_env = "DS_KEY"\n' \
           '[routes.models]\n"gpt-4o" = "deepseek/deepseek-v4-flash"\n'
    client = adapters.OpenAI(api_key="k", max_retries=0, offramp_config=parse_config(text, "offramp.toml"))
    ds.script(status=500, times=3)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=HI)
    assert len(ds.requests) == 1


@SYNC_ASYNC
async def test_legacy_completions_stream_is_relayed_untouched(fakes, vl, is_async):
    cfg = config(fakes, models='"gpt-3.5-turbo-instruct" = "vllm/deepseek-ai/DeepSeek-V4-Flash"')
    client = make_client(fakes, cfg, is_async=is_async)
    stream = await call(client, "completions.create", model="gpt-3.5-turbo-instruct", prompt="Say hi", stream=True,
                        max_tokens=8)
    chunks = [c async for c in stream] if is_async else list(stream)
    assert chunks and all(c.object == "text_completion" for c in chunks)
    assert vl.requests[0].json["model"] == "deepseek-ai/DeepSeek-V4-Flash"
    assert "stream_options" not in vl.requests[0].json


@SYNC_ASYNC
async def test_unreachable_backend_is_retried_then_falls_back(fakes, oa, is_async):
    cfg = config(fakes, fallback='fallback = ["openai"]')
    cfg.backends["deepseek"].base_url = "http://127.0.0.1:9/v1"  # discard port: connection refused
    res = await call(make_client(fakes, cfg, is_async=is_async), "chat.completions.create", model="gpt-4o",
                     messages=HI)
    assert res.model == "gpt-4o" and len(oa.requests) == 1 and res._offramp.attempts == 4
    cfg.routes.fallback = []
    with pytest.raises(openai.APIConnectionError):
        await call(make_client(fakes, cfg, is_async=is_async), "chat.completions.create", model="gpt-4o",
                   messages=HI)
