"""Real clients pointed at the proxy: the openai SDK, LangChain's ChatOpenAI and a raw HTTP client."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import openai
import pytest

from tests.shadow.conftest import APP_KEY, chat, wait_for

TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


async def test_openai_sdk(proxy_factory, candidate_fake):
    async with proxy_factory() as (proxy, base):
        client = openai.AsyncOpenAI(base_url=base, api_key=APP_KEY, max_retries=0)
        r = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "What's the weather in Paris?"}], tools=TOOLS,
        )
        assert r.choices[0].message.tool_calls or r.choices[0].message.content
        raw = await client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert float(raw.headers["x-offramp-overhead-ms"]) >= 0
        text = []
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "count to three"}], stream=True,
            stream_options={"include_usage": True},
        )
        async for ev in stream:
            if ev.choices and ev.choices[0].delta.content:
                text.append(ev.choices[0].delta.content)
        assert "".join(text)
        models = await client.models.list()
        assert any(m.id == "gpt-4o-mini" for m in models.data)
        emb = await client.embeddings.create(model="text-embedding-3-small", input="hello")
        assert len(emb.data[0].embedding) > 0
        await client.close()
        await wait_for(lambda: len(candidate_fake.requests) >= 3)


async def test_langchain_chat_openai(proxy_factory):
    lc = pytest.importorskip("langchain_openai", reason="pip install langchain-openai to run")
    async with proxy_factory() as (proxy, base):
        llm = lc.ChatOpenAI(model="gpt-4o-mini", base_url=base, api_key=APP_KEY, max_retries=0)
        msg = await llm.ainvoke("Say hello")
        assert msg.content
        chunks = [c.content async for c in llm.astream("Say hello again")]
        assert "".join(chunks)
        await wait_for(lambda: not proxy.mirror.inflight and proxy.mirror.offered >= 2)
        assert proxy.mirror.outcomes.get("candidate:ok", 0) == 2, proxy.mirror.accounting()


async def test_raw_http_client(proxy_factory):
    async with proxy_factory() as (proxy, base):
        def call():
            req = urllib.request.Request(
                f"{base}/chat/completions", data=json.dumps(chat("raw")).encode(), method="POST",
                headers={"Authorization": f"Bearer {APP_KEY}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())

        status, body = await asyncio.to_thread(call)
    assert status == 200 and body["object"] == "chat.completion"
