"""Helpers shared by the adapter tests (a uniquely named module: test dirs are not packages)."""

from __future__ import annotations

from offramp.adapters.config import parse_config


def config(fakes, extra: str = "", *, models: str | None = '"gpt-4o" = "deepseek/deepseek-v4-flash"',
           fallback: str = "", retries: str = "max = 2\nbackoff_base = 0.01", capabilities: str = "") -> object:
    """A config routing gpt-4o to the fake DeepSeek, with the fake vLLM as a self-hosted backend."""
    text = f"""
[backends.deepseek]
kind = "deepseek"
base_url = "{fakes['deepseek'].base_url}"
api_key_env = "DS_KEY"

[backends.vllm]
kind = "vllm"
base_url = "{fakes['vllm'].base_url}"
default_model = "deepseek-ai/DeepSeek-V4-Flash"

[backends.tei]
kind = "vllm"
base_url = "{fakes['vllm'].base_url}"
default_model = "BAAI/bge-m3"

[routes]
{fallback}
[routes.models]
{models or ''}

[routes.capabilities]
{capabilities}

[retries]
{retries}

{extra}
"""
    return parse_config(text, "offramp.toml")


def make_client(fakes, cfg=None, *, is_async=False, **kw):
    from offramp import adapters

    cls = adapters.AsyncOpenAI if is_async else adapters.OpenAI
    return cls(api_key="sk-openai-test", base_url=fakes["openai"].base_url, offramp_config=cfg, **kw)


async def call(client, method: str, **kwargs):
    """Await when the client is async, so one test body serves both."""
    obj = client
    for part in method.split("."):
        obj = getattr(obj, part)
    result = obj(**kwargs)
    if hasattr(result, "__await__"):
        result = await result
    return result


async def collect(stream) -> list:
    if hasattr(stream, "__aiter__"):
        return [c async for c in stream]
    return list(stream)
