"""The mirror leg: candidate faults never touch the primary's answer, skips are counted by reason, the queue
bounds memory, the noise floor asks the primary twice, sampling changes at run time through the admin API."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.shadow.conftest import ADMIN, APP_KEY, auth, chat, rows, wait_for


async def _direct(s, primary_fake, body):
    async with s.post(f"{primary_fake.base_url}/chat/completions", json=body, headers=auth()) as r:
        return r.status, await r.read()


def _same_answer(a: bytes, b: bytes, stream: bool) -> bool:
    """Same answer up to the per-response id/created the fake mints."""
    def strip(raw: bytes):
        if stream:
            evs = [json.loads(ln[6:]) for ln in raw.decode().split("\n") if ln.startswith("data: {")]
            return [(e.get("choices"), e.get("usage")) for e in evs]
        d = json.loads(raw)
        return d["choices"], d["usage"]
    return strip(a) == strip(b)


FAULTS = [
    pytest.param({"status": 500}, "http_5xx", id="5xx"),
    pytest.param({"status": 503}, "http_5xx", id="503"),
    pytest.param({"hang_s": 2.0}, "timeout", id="hang"),
    pytest.param({"malformed": True}, "malformed_json", id="malformed"),
]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("fault", "kind"), FAULTS)
async def test_candidate_faults_never_change_primary(proxy_factory, primary_fake, candidate_fake, store_url,
                                                     fault, kind, stream):
    candidate_fake.script(**fault, times=1)
    body = chat("what's the capital of France?", stream=stream)
    async with proxy_factory(mirror={"timeout_s": 0.5}) as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=body, headers=auth()) as r:
            via = (r.status, await r.read())
        direct = await _direct(s, primary_fake, body)
        await wait_for(lambda: proxy.mirror.recorded, timeout=4)
    assert via[0] == direct[0] == 200
    assert _same_answer(via[1], direct[1], stream)
    pair = rows(store_url)[0]
    assert pair["candidate_error"].split(":")[0] == kind
    assert pair["primary_status"] == 200 and pair["primary_error"] is None


async def test_candidate_cut_stream_is_recorded(proxy_factory, candidate_fake, store_url):
    candidate_fake.script(cut_after=2, times=1)
    async with proxy_factory() as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat("tell me a story", stream=True),
                          headers=auth()) as r:
            raw = await r.read()
        await wait_for(lambda: proxy.mirror.recorded)
    assert raw.rstrip().endswith(b"data: [DONE]")
    assert rows(store_url)[0]["candidate_error"].startswith("stream_cut")


async def test_stream_mirrored_as_stream_with_ttft(proxy_factory, candidate_fake, store_url):
    candidate_fake.script(ttft_ms=120, times=1)
    async with proxy_factory() as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat("hi", stream=True), headers=auth()) as r:
            await r.read()
        await wait_for(lambda: proxy.mirror.recorded)
    assert candidate_fake.requests[0].json["stream"] is True
    pair = rows(store_url)[0]
    assert pair["stream"]
    assert pair["candidate_ttft_ms"] >= 100
    assert pair["primary_ttft_ms"] is not None and pair["primary_ttft_ms"] <= pair["primary_total_ms"]
    cand_req = json.loads(pair["candidate_request"])
    assert cand_req["model"] == "deepseek-flash" and cand_req["stream"] is True
    assert isinstance(json.loads(pair["translation_changes"]), list)
    cmps = rows(store_url, "shadow_comparisons")
    assert {c["comparator"] for c in cmps} == {"structural", "text_exact", "token_similarity"}
    assert all(c["side"] == "candidate" for c in cmps)


async def test_noise_floor_asks_primary_twice(proxy_factory, primary_fake, store_url):
    async with proxy_factory(mirror={"noise_sample": 1.0}) as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat("classify: great product"), headers=auth()) as r:
            assert r.status == 200
        await wait_for(lambda: proxy.mirror.recorded)
    assert len([r for r in primary_fake.requests if r.path == "/v1/chat/completions"]) == 2
    pair = rows(store_url)[0]
    assert pair["noise_status"] == 200 and pair["noise_total_ms"] is not None
    sides = {(c["side"], c["comparator"]) for c in rows(store_url, "shadow_comparisons")}
    assert ("noise", "structural") in sides and ("candidate", "structural") in sides


WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


async def test_a_candidate_answering_in_prose_counts_as_dropped_tool_calls(proxy_factory, store_url):
    """A candidate that answers in prose where the primary called the tool: every pair is a dropped tool call in
    the evidence the ramp gates on, while the primary's own second answers (the noise floor) drop none."""
    from offramp.migrate.fake_upstream.testing import FakeUpstream
    from offramp.shadow.ramp.evidence import StoreEvidence
    from offramp.shadow.store import open_engine

    with FakeUpstream("deepseek", degrade="drop_tool=1") as prose:
        async with proxy_factory(candidate_url=prose.base_url, mirror={"noise_sample": 1.0}) as (proxy, base), \
                aiohttp.ClientSession() as s:
            for i in range(4):
                body = chat(f"weather in city {i}?", tools=WEATHER)
                async with s.post(f"{base}/chat/completions", json=body, headers=auth()) as r:
                    assert r.status == 200
                    assert (await r.json())["choices"][0]["message"]["tool_calls"]  # the app got the tool call
            await wait_for(lambda: proxy.mirror.recorded >= 4)
    ev = StoreEvidence(open_engine(store_url)).collect(0, 0, 0)
    dropped = ev.comparators["tool_calls_dropped"]
    assert (dropped.candidate.bad, dropped.candidate.n) == (4, 4)
    assert (dropped.noise.bad, dropped.noise.n) == (0, 4)
    assert ev.comparators["tool_calls"].candidate.bad == 4


async def test_skip_reasons_counted(proxy_factory, store_url):
    async with proxy_factory(mirror={"max_body_bytes": 300}) as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat("y" * 400), headers=auth()) as r:
            assert r.status == 200
        proxy.mirror.share = 0.0
        async with s.post(f"{base}/chat/completions", json=chat("short"), headers=auth()) as r:
            assert r.status == 200
    assert proxy.mirror.skips["body_too_large"] == 1
    assert proxy.mirror.skips["sampled_out"] == 1
    counted = {(r["name"], r["label"]): r["value"] for r in rows(store_url, "shadow_counters")}
    assert counted[("mirror_skip", "body_too_large")] == 1


async def test_daily_spend_cap(proxy_factory, store_url, candidate_fake):
    """Once the day's mirror spend (priced from the dated tables) reaches the cap, mirrors stop and are counted."""
    async with proxy_factory(mirror={"daily_spend_cap_usd": 1e-9}) as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat("first"), headers=auth()) as r:
            assert r.status == 200
        await wait_for(lambda: proxy.mirror.recorded)
        for _ in range(2):
            async with s.post(f"{base}/chat/completions", json=chat("more"), headers=auth()) as r:
                assert r.status == 200
    assert proxy.mirror.spend.spent > 0
    assert proxy.mirror.skips["spend_cap"] == 2
    assert len(candidate_fake.requests) == 1
    pair = rows(store_url)[0]
    assert pair["candidate_cost_usd"] > 0 and pair["primary_cost_usd"] > 0


async def test_queue_bounds_memory_under_overload(proxy_factory, candidate_fake):
    """A candidate slower than the traffic: the bounded hand-off drops and counts mirrors; every primary answer
    is served, and every offered request is accounted for (sent, skipped, or still in flight)."""
    candidate_fake.script(hang_s=1.0, times=1000)
    mirror = {"concurrency": 2, "queue_size": 4, "timeout_s": 0.3, "breaker": {"enabled": False}}
    async with proxy_factory(mirror=mirror) as (proxy, base):
        async with aiohttp.ClientSession() as s:
            async def one(i):
                async with s.post(f"{base}/chat/completions", json=chat(f"q{i}"), headers=auth()) as r:
                    return r.status
            depth = []
            statuses = []
            for _ in range(5):
                statuses += await asyncio.gather(*(one(i) for i in range(20)))
                depth.append(proxy.mirror.queue.qsize())
        assert statuses == [200] * 100
        assert max(depth) <= 4 + 2
        assert proxy.mirror.skips["queue_full"] >= 50
        acc = proxy.mirror.accounting()
        assert acc["offered"] == 100
        assert acc["compared"] + acc["errors"] + acc["skipped"] + acc["in_flight"] == 100


async def test_queue_bytes_bound_the_hand_off(proxy_factory, candidate_fake):
    """`mirror.queue_bytes` bounds the request and answer bytes the jobs in flight hold, however many jobs
    `queue_size` would allow: beyond it mirrors are skipped as queue_full, the primary always answers, and the
    bytes are released as the jobs settle."""
    candidate_fake.script(hang_s=1.0, times=1000)
    big = "x" * 600  # each request holds ~700 bytes, its answer more: two jobs exceed 1024 bytes
    mirror = {"concurrency": 2, "queue_size": 1000, "queue_bytes": 1024, "timeout_s": 0.3,
              "breaker": {"enabled": False}}
    async with proxy_factory(mirror=mirror) as (proxy, base):
        async with aiohttp.ClientSession() as s:
            async def one(i):
                async with s.post(f"{base}/chat/completions", json=chat(f"{big} q{i}"), headers=auth()) as r:
                    return r.status
            peak = 0
            statuses = []
            for _ in range(3):
                statuses += await asyncio.gather(*(one(i) for i in range(10)))
                peak = max(peak, proxy.mirror.queue.qsize())
        assert statuses == [200] * 30
        assert peak <= 2  # the byte bound, not queue_size (1000), held the jobs back
        assert proxy.mirror.skips["queue_full"] >= 20
        await wait_for(lambda: not proxy.mirror.inflight, timeout=15)
        assert proxy.mirror.held_bytes == 0
        acc = proxy.mirror.accounting()
        assert acc["offered"] == 30
        assert acc["compared"] + acc["errors"] + acc["skipped"] == 30


async def test_ramp_records_held_count_against_the_job_bound(proxy_factory):
    """Ramp records a worker holds and mirror jobs share one bound (`queue_size` + concurrency): with the
    hand-off full of records, a mirror is skipped as queue_full (and counted), not queued beyond it."""
    async with proxy_factory(mirror={"concurrency": 1, "queue_size": 2, "breaker": {"enabled": False}}) as (
            proxy, base):
        m = proxy.mirror
        loop = asyncio.get_running_loop()
        m.records.update({-1 - i: (0, 0, loop.create_future(), None) for i in range(m.limit)})
        try:
            async with aiohttp.ClientSession() as s:
                async with s.post(f"{base}/chat/completions", json=chat("held"), headers=auth()) as r:
                    assert r.status == 200
            assert m.skips["queue_full"] == 1 and not m.inflight
        finally:
            m.records.clear()
        acc = m.accounting()
        assert acc["offered"] == 1 and acc["skipped"] == 1


async def test_store_backlog_is_bounded(proxy_factory):
    """The worker's store backlog is bounded; a pair dropped there is counted as a skip (`store_full`)."""
    async with proxy_factory(store={"max_pending": 2, "flush_interval_s": 30}) as (proxy, base):
        async with aiohttp.ClientSession() as s:
            for i in range(5):
                async with s.post(f"{base}/chat/completions", json=chat(f"n{i}"), headers=auth()) as r:
                    assert r.status == 200
            await wait_for(lambda: proxy.mirror.skips["store_full"] >= 3, timeout=15)
        assert proxy.mirror.skips["store_full"] == 3
        assert len(proxy.mirror.inflight) == 2  # held by the worker's writer, settled when written


async def test_admin_api_changes_sampling(proxy_factory, candidate_fake):
    async with proxy_factory() as (proxy, base), aiohttp.ClientSession() as s:
        admin = base.replace("/v1", "/admin/mirror")
        async with s.put(admin, json={"sample": 0.0}) as r:
            assert r.status == 401
        async with s.put(admin, json={"sample": 0.0}, headers=auth(APP_KEY)) as r:
            assert r.status == 401
        async with s.put(admin, json={"sample": 1.5}, headers=auth(ADMIN)) as r:
            assert r.status == 400 and "sample" in (await r.json())["error"]["message"]
        async with s.put(admin, json={"sample": 0.0, "noise_sample": 0.5}, headers=auth(ADMIN)) as r:
            assert r.status == 200
            assert (await r.json())["sample"] == 0.0
        for _ in range(3):
            async with s.post(f"{base}/chat/completions", json=chat(), headers=auth()) as r:
                assert r.status == 200
        async with s.get(admin, headers=auth(ADMIN)) as r:
            state = await r.json()
    assert state["skips"]["sampled_out"] == 3 and state["noise_sample"] == 0.5
    assert candidate_fake.requests == []


async def test_admin_disabled_without_token(proxy_factory):
    async with proxy_factory(admin_token="") as (proxy, base), aiohttp.ClientSession() as s:
        async with s.get(base.replace("/v1", "/admin/mirror"), headers=auth("")) as r:
            assert r.status == 503
            assert "OFFRAMP_ADMIN_TOKEN" in (await r.json())["error"]["message"]


async def test_shutdown_flushes_pending_records(proxy_factory, store_url):
    async with proxy_factory(store={"flush_interval_s": 60, "batch_size": 1000}) as (proxy, base):
        async with aiohttp.ClientSession() as s:
            for i in range(3):
                async with s.post(f"{base}/chat/completions", json=chat(f"m{i}"), headers=auth()) as r:
                    assert r.status == 200
        # Candidate answered for all three; the pairs wait in the worker's batch.
        await wait_for(lambda: not proxy.mirror.awaiting and len(proxy.mirror.inflight) == 3, timeout=15)
        await asyncio.sleep(0.2)
        assert rows(store_url) == []
    assert len(rows(store_url)) == 3
    assert proxy.mirror.compared == 3 and not proxy.mirror.inflight
