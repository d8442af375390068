"""Recorded traffic for the report, dashboard and replica tests: a proxy in front of two fake upstreams."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp

from offramp.shadow.config import ShadowConfig, Upstream

APP_KEY = "sk-app-SECRET-traffic-0123456789"
CAND_KEY_ENV = "OFFRAMP_TEST_RAMP_CAND_KEY"
CAND_KEY = "sk-cand-SECRET-traffic-9876543210"

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
]


def shadow_config(primary_url: str, candidate_url: str, store_url: str, **sections) -> ShadowConfig:
    data = {
        "primary": Upstream(name="openai", base_url=primary_url, kind="openai").model_dump(),
        "candidate": Upstream(name="deepseek", base_url=candidate_url, kind="deepseek", api_key_env=CAND_KEY_ENV,
                              models={"*": "deepseek-flash"}).model_dump(),
        "store": {"url": store_url, "flush_interval_s": 0.05, "privacy": "full"},
        "mirror": {"noise_sample": 1.0, "sample": 1.0, "concurrency": 8},
        "comparators": {"enabled": ["structural", "text_exact", "token_similarity"]},
    }
    for k, v in sections.items():
        data.setdefault(k, {}).update(v)
    return ShadowConfig.model_validate(data)


def request_body(i: int) -> dict:
    if i % 2 == 0:
        return {"model": "gpt-4o", "user": f"user-{i % 17}", "tools": TOOLS,
                "messages": [{"role": "system", "content": "You are a travel assistant."},
                             {"role": "user", "content": f"What is the weather in city {i}?"}]}
    return {"model": "gpt-4o", "user": f"user-{i % 17}", "stream": i % 4 == 1,
            "messages": [{"role": "system", "content": "You answer briefly."},
                         {"role": "user", "content": f"Tell me a fact about the number {i}."}]}


async def send(base: str, n: int, start: int = 0, concurrency: int = 8) -> list[int]:
    sem = asyncio.Semaphore(concurrency)
    statuses: list[int] = []
    async with aiohttp.ClientSession() as s:
        async def one(i: int) -> None:
            async with sem:
                async with s.post(f"{base}/chat/completions", json=request_body(i),
                                  headers={"authorization": f"Bearer {APP_KEY}"}) as r:
                    await r.read()
                    statuses.append(r.status)
        await asyncio.gather(*(one(i) for i in range(start, start + n)))
    return statuses


@contextlib.asynccontextmanager
async def running_proxy(cfg: ShadowConfig, admin_token: str = "admin-token-rollout"):
    from offramp.shadow.proxy import ShadowProxy, start_site

    proxy = ShadowProxy(cfg, admin_token=admin_token)
    runner = await start_site(proxy, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    try:
        yield proxy, f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def settle(proxy) -> None:
    """Wait for mirrors and candidate-served recordings to land in the store."""
    deadline = time.monotonic() + 30  # on a loaded machine the niced worker can be seconds behind
    while proxy.mirror.queue.qsize() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    if getattr(proxy, "ramp_server", None) is not None:
        await proxy.ramp_server.drain()
    await proxy.writer.flush()
