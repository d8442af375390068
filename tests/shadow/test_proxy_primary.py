"""The primary path: the app gets the primary's answer unchanged, its key goes to the primary only, streams are
forwarded chunk by chunk, errors pass through, disconnects cancel the primary call."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp

from offramp.migrate.fake_upstream.testing import key_fingerprint
from tests.shadow.conftest import APP_KEY, CAND_KEY, auth, chat, rows, wait_for


async def test_non_stream_answer_and_headers(proxy_factory, primary_fake, candidate_fake):
    async with proxy_factory() as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat("What is 2+2?"), headers=auth()) as r:
            assert r.status == 200
            body = await r.json()
            assert float(r.headers["x-offramp-overhead-ms"]) >= 0
            assert r.headers["content-type"].startswith("application/json")
        async with s.post(f"{primary_fake.base_url}/chat/completions", json=chat("What is 2+2?"), headers=auth()) as r:
            direct = await r.json()
        assert body["choices"] == direct["choices"]
        await wait_for(lambda: candidate_fake.requests)
    prim = [r for r in primary_fake.requests if r.path.endswith("/chat/completions")]
    assert prim[0].key_fingerprint == key_fingerprint(APP_KEY)
    cand = candidate_fake.requests[0]
    # The candidate never sees the app's key: it gets its own, from the environment.
    assert cand.key_fingerprint == key_fingerprint(CAND_KEY)
    assert cand.json["model"] == "deepseek-flash"


async def test_stream_forwarded_as_it_arrives(proxy_factory, primary_fake):
    primary_fake.script(chunk_ms=80, times=1, path="/chat/completions")
    async with proxy_factory() as (proxy, base), aiohttp.ClientSession() as s:
        t0 = time.perf_counter()
        async with s.post(f"{base}/chat/completions", json=chat("tell me a long story", stream=True),
                          headers=auth()) as r:
            assert r.status == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            first = await r.content.readany()
            t_first = time.perf_counter() - t0
            rest = await r.read()
            t_all = time.perf_counter() - t0
    raw = first + rest
    assert b"data: [DONE]" in raw
    # TTFT preserved: the first bytes arrive well before the slow stream ends.
    assert t_first < t_all - 0.1
    events = [ln[6:] for ln in raw.decode().split("\n") if ln.startswith("data: {")]
    assert all(json.loads(e)["object"] == "chat.completion.chunk" for e in events)


async def test_primary_errors_pass_through_unchanged(proxy_factory, primary_fake, store_url):
    primary_fake.script(status=429, retry_after=7, message="slow down", times=1, path="/chat/completions")
    async with proxy_factory() as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat(), headers=auth()) as r:
            assert r.status == 429
            assert r.headers["retry-after"] == "7"
            err = await r.json()
    assert "slow down" in json.dumps(err)
    await asyncio.sleep(0)


async def test_primary_unreachable_is_a_clear_502(proxy_factory):
    async with proxy_factory(primary_url="http://127.0.0.1:9/v1") as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat(), headers=auth()) as r:
            assert r.status == 502
            assert "primary unreachable" in (await r.json())["error"]["message"]


async def test_other_endpoints_pass_through(proxy_factory, primary_fake):
    async with proxy_factory() as (proxy, base), aiohttp.ClientSession() as s:
        async with s.get(f"{base}/models", headers=auth()) as r:
            assert r.status == 200
            assert any(m["id"] == "gpt-4o-mini" for m in (await r.json())["data"])
        async with s.post(f"{base}/embeddings", json={"model": "text-embedding-3-small", "input": "hi"},
                          headers=auth()) as r:
            assert r.status == 200
            assert (await r.json())["data"][0]["embedding"]
        # Whatever the primary answers on other endpoints (even 404s) reaches the app unchanged.
        for method, path, body in (("POST", "/responses", {"model": "gpt-4o-mini", "input": "hi"}),
                                   ("GET", "/files?purpose=batch", None), ("DELETE", "/nope/1", None)):
            async with s.request(method, f"{base}{path}", json=body, headers=auth()) as r:
                via = (r.status, await r.read())
            async with s.request(method, f"{primary_fake.base_url}{path}", json=body, headers=auth()) as r:
                direct = (r.status, await r.read())
            assert _unstamped(via) == _unstamped(direct)
    # /v1/responses is mirrored; models, embeddings (the DeepSeek candidate has none), files and /nope are not.
    assert proxy.mirror.skips["endpoint_not_mirrored"] == 4


def _unstamped(resp):
    """(status, body) with the per-response ids and timestamps the fake mints removed."""
    status, raw = resp
    try:
        data = json.loads(raw)
    except ValueError:
        return status, raw

    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k not in ("id", "created", "created_at", "completed_at")}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o

    return status, strip(data)


async def test_client_disconnect_cancels_primary(proxy_factory, primary_fake, store_url):
    primary_fake.script(hang_s=3, times=1, path="/chat/completions")
    async with proxy_factory() as (proxy, base):
        async with aiohttp.ClientSession() as s:
            try:
                async with s.post(f"{base}/chat/completions", json=chat(), headers=auth(),
                                  timeout=aiohttp.ClientTimeout(total=0.3)):
                    pass
            except asyncio.TimeoutError:
                pass
        # The handler (and its primary call) was cancelled: the mirror job learns it long before the hang ends.
        t0 = time.perf_counter()
        await wait_for(lambda: proxy.mirror.recorded, timeout=2.5)
        assert time.perf_counter() - t0 < 2.5
    pair = rows(store_url)[0]
    assert pair["primary_error"] == "client_disconnected"


async def test_request_size_limit(proxy_factory):
    async with proxy_factory(server={"max_request_bytes": 4096}) as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat("x" * 10_000), headers=auth()) as r:
            assert r.status == 413
            assert "max_request_bytes" in (await r.json())["error"]["message"]


async def test_metrics_endpoint(proxy_factory):
    async with proxy_factory() as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat(), headers=auth()) as r:
            assert r.status == 200
        await wait_for(lambda: proxy.mirror.outcomes)
        async with s.get(base.replace("/v1", "/metrics")) as r:
            text = await r.text()
    assert 'offramp_requests_total{endpoint="chat",status="200"} 1.0' in text
    assert 'offramp_mirrors_total{outcome="ok",target="candidate"} 1.0' in text
    assert "offramp_agreement_total" in text


async def test_routing_seam_and_extensions(proxy_factory, candidate_fake, store_url):
    """One routing decision per request: a router can turn the mirror off, or hand the answer to the
    candidate-serving path an extension installs; extensions can add routes."""
    from aiohttp import web

    from offramp.shadow import proxy as proxy_mod
    from offramp.shadow.routing import Route, Router

    class NoMirror(Router):
        def decide(self, info):
            if info.body and info.body["messages"][0]["content"] == "to-candidate":
                return Route(serve="candidate", ramp_share=0.05)
            return Route(mirror=False)

    async def serve_candidate(request, raw, info, route, t0):
        return web.json_response({"served_by": route.serve, "share": route.ramp_share, "family": info.family})

    async def ping(request):
        return web.json_response({"pong": True})

    def ext(p):
        p.router = NoMirror()
        p.serve_candidate = serve_candidate
        p.app.router.add_get("/ext/ping", ping)

    proxy_mod.register_extension(ext)
    try:
        async with proxy_factory() as (proxy, base), aiohttp.ClientSession() as s:
            async with s.post(f"{base}/chat/completions", json=chat("plain"), headers=auth()) as r:
                assert r.status == 200 and (await r.json())["object"] == "chat.completion"
            async with s.post(f"{base}/chat/completions", json=chat("to-candidate"), headers=auth()) as r:
                got = await r.json()
            async with s.get(base.replace("/v1", "/ext/ping")) as r:
                assert (await r.json()) == {"pong": True}
    finally:
        proxy_mod._EXTENSIONS.remove(ext)
    assert got["served_by"] == "candidate" and got["share"] == 0.05 and got["family"].startswith("f_")
    assert candidate_fake.requests == [] and proxy.mirror.skips["sampled_out"] == 0


async def test_primary_cookies_are_not_replayed_to_other_apps(proxy_factory):
    """The proxy keeps no cookie jar: a Set-Cookie from the primary reaches the app that got it and is never
    added to another app's request; an app's own Cookie header still reaches the primary."""
    from aiohttp import web

    seen: list[str | None] = []

    async def models(request: web.Request) -> web.Response:
        seen.append(request.headers.get("cookie"))
        resp = web.json_response({"object": "list", "data": []})
        resp.set_cookie("__cf_bm", "app-one-session")
        return resp

    app = web.Application()
    app.router.add_get("/v1/models", models)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "localhost", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with proxy_factory(primary_url=f"http://localhost:{port}/v1") as (proxy, base):
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:
                async with s.get(f"{base}/models", headers=auth()) as r:
                    assert r.status == 200 and "app-one-session" in r.headers["set-cookie"]
                async with s.get(f"{base}/models", headers=auth("sk-other-app-0123456789abcdef")) as r:
                    assert r.status == 200
                async with s.get(f"{base}/models", headers={**auth(), "cookie": "mine=1"}) as r:
                    assert r.status == 200
    finally:
        await runner.cleanup()
    assert seen == [None, None, "mine=1"]
