"""The proxy with the ramp installed: sticky candidate share, fallback to the primary, shadow sample recorded."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import pytest
from sqlalchemy import select

from offramp.migrate.fake_upstream.testing import FakeUpstream, key_fingerprint
from offramp.shadow.config import ShadowConfig, Upstream
from offramp.shadow.proxy import ShadowProxy, start_site
from offramp.shadow.ramp.controller import RampController
from offramp.shadow.ramp.plan import RampPlan
from offramp.shadow.ramp.store import RampStore
from offramp.shadow.store import open_engine, schema

APP_KEY = "sk-app-SECRET-ramp-0123456789"
CAND_KEY = "sk-cand-SECRET-ramp-9876543210"


@pytest.fixture(scope="module")
def fakes():
    with FakeUpstream("openai") as p, FakeUpstream("deepseek") as c:
        yield p, c


@pytest.fixture
def cfg(fakes, tmp_path, monkeypatch):
    monkeypatch.setenv("OFFRAMP_TEST_RAMP_CAND_KEY", CAND_KEY)
    p, c = fakes
    p.reset()
    c.reset()
    return ShadowConfig.model_validate({
        "primary": Upstream(name="openai", base_url=p.base_url, kind="openai").model_dump(),
        "candidate": Upstream(name="deepseek", base_url=c.base_url, kind="deepseek",
                              api_key_env="OFFRAMP_TEST_RAMP_CAND_KEY", models={"*": "deepseek-flash"}).model_dump(),
        "store": {"url": f"sqlite:///{tmp_path / 'shadow.db'}", "flush_interval_s": 0.05},
        "mirror": {"noise_sample": 0.0, "sample": 0.0},
        "comparators": {"enabled": ["structural", "text_exact"]},
    })


def set_share(url: str, share: float) -> None:
    eng = open_engine(url)
    store = RampStore(eng)
    store.ensure()
    RampController(RampPlan(), store, source=None).command("set", share)  # type: ignore[arg-type]
    eng.dispose()


@contextlib.asynccontextmanager
async def running(cfg: ShadowConfig, shadow_share: float = 0.0):
    proxy = ShadowProxy(cfg, admin_token="adm")
    runner = await start_site(proxy, "127.0.0.1", 0)  # the proxy installs the ramp through its extension hook
    proxy.ramp.plan.shadow_candidate_served = shadow_share
    host, port = runner.addresses[0][:2]
    try:
        yield proxy, f"http://{host}:{port}/v1"
    finally:
        await runner.cleanup()


async def chat(base: str, user: str, stream: bool = False) -> aiohttp.ClientResponse:
    async with aiohttp.ClientSession() as s:
        r = await s.post(f"{base}/chat/completions", headers={"authorization": f"Bearer {APP_KEY}"},
                         json={"model": "gpt-4o", "user": user, "stream": stream,
                               "messages": [{"role": "user", "content": f"hello from {user}"}]})
        await r.read()
        return r


def served(r: aiohttp.ClientResponse) -> str:
    return r.headers.get("x-offramp-served-by", "primary")


async def test_full_share_is_served_by_the_candidate_with_its_own_key(cfg, fakes):
    set_share(cfg.store.url, 100)
    async with running(cfg) as (_proxy, base):
        r = await chat(base, "u1")
        assert r.status == 200 and r.headers["x-offramp-served-by"] == "candidate"
        r = await chat(base, "u2", stream=True)
        assert r.headers["x-offramp-served-by"] == "candidate"
    prim, cand = fakes
    assert len(prim.requests) == 0
    assert len(cand.requests) == 2
    assert cand.requests[0].json["model"] == "deepseek-flash"
    assert {r.key_fingerprint for r in cand.requests} == {key_fingerprint(CAND_KEY)}


async def test_share_is_sticky_per_user(cfg, fakes):
    set_share(cfg.store.url, 50)
    async with running(cfg) as (_proxy, base):
        first = {u: served(await chat(base, u)) for u in (f"user-{i}" for i in range(40))}
        again = {u: served(await chat(base, u)) for u in first}
    assert first == again
    sides = list(first.values())
    assert 8 <= sides.count("candidate") <= 32  # about half, by hash


async def test_candidate_error_is_answered_by_the_primary_and_counted(cfg, fakes):
    prim, cand = fakes
    set_share(cfg.store.url, 100)
    cand.script(status=500, times=1)
    async with running(cfg) as (proxy, base):
        r = await chat(base, "u-fail")
        assert r.status == 200 and r.headers["x-offramp-served-by"] == "primary-fallback"
        await proxy.ramp_server.drain()
        await proxy.writer.flush()
    assert len(prim.requests) == 1
    eng = open_engine(cfg.store.url)
    with eng.connect() as conn:
        rows = conn.execute(select(schema.pairs.c.candidate_error, schema.pairs.c.primary_status)).all()
    eng.dispose()
    assert len(rows) == 1 and rows[0].candidate_error.startswith("http_5xx") and rows[0].primary_status == 200


async def test_shadowed_candidate_answer_is_compared_with_the_primary(cfg, fakes):
    set_share(cfg.store.url, 100)
    async with running(cfg, shadow_share=1.0) as (proxy, base):
        await chat(base, "u-shadow")
        await proxy.ramp_server.drain()
        await proxy.writer.flush()
    prim, _ = fakes
    assert len(prim.requests) == 1 and prim.requests[0].key_fingerprint == key_fingerprint(APP_KEY)
    eng = open_engine(cfg.store.url)
    with eng.connect() as conn:
        pair = conn.execute(select(schema.pairs)).one()
        cmps = conn.execute(select(schema.comparisons.c.comparator)).all()
    eng.dispose()
    assert pair.served_by == "candidate" and pair.primary_status == 200 and pair.candidate_status == 200
    assert {c.comparator for c in cmps} == {"structural", "text_exact"}
    assert APP_KEY not in str(pair._mapping)


async def test_shadow_comparison_and_record_run_in_the_mirror_worker(cfg, fakes, monkeypatch):
    """The proxy process only answers: the shadow primary call, the comparison and the store write of a
    candidate-served request are done by a mirror worker process (the proxy's own recorder is never called,
    its comparators never run), and the pair is in the store once `drain` returns."""
    from offramp.shadow.ramp import serve

    here = []

    async def in_proxy(host, rec):  # the in-process fallback: must not be taken while a worker is alive
        here.append(rec)

    monkeypatch.setattr(serve, "record_served", in_proxy)
    set_share(cfg.store.url, 100)
    async with running(cfg, shadow_share=1.0) as (proxy, base):
        for c in proxy.comparators:
            monkeypatch.setattr(c, "compare", lambda *a, **k: pytest.fail("compared in the proxy process"))
        await chat(base, "u-worker")
        await chat(base, "u-worker-2", stream=True)
        await proxy.ramp_server.drain(timeout_s=30)
        assert not proxy.ramp_server.handed and not proxy.mirror.records
        assert proxy.mirror.held_bytes == 0
    assert here == []
    eng = open_engine(cfg.store.url)
    with eng.connect() as conn:
        pairs = conn.execute(select(schema.pairs)).all()
        cmps = conn.execute(select(schema.comparisons.c.comparator, schema.comparisons.c.pair_id)).all()
    eng.dispose()
    assert sorted(p.stream for p in pairs) == [False, True]
    assert all(p.served_by == "candidate" and p.primary_status == 200 for p in pairs)
    assert {(c.pair_id, c.comparator) for c in cmps} == {(p.id, n) for p in pairs for n in ("structural", "text_exact")}
    assert APP_KEY not in str([p._mapping for p in pairs])


async def test_candidate_served_record_keeps_the_bytes_served_and_prices_at_arrival(cfg, fakes, monkeypatch):
    """The ramp's record of a candidate-served request stores the candidate's body as the app got it (not a
    re-serialised normalised copy) and prices it at the request's arrival, as the mirror's pairs are: one
    arrival in DeepSeek's peak window and one off-peak give different costs for the same answer."""
    import datetime as dt
    import json
    import types

    from offramp.adapters.cost import price_at, token_split
    from offramp.shadow.ramp import serve

    peak = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)  # a Wednesday, 02:00 UTC
    saturday = dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.timezone.utc)
    arrivals = iter([peak.timestamp(), saturday.timestamp()])
    monkeypatch.setattr(serve, "time", types.SimpleNamespace(time=lambda: next(arrivals),
                                                             perf_counter=time.perf_counter))
    set_share(cfg.store.url, 100)
    got = {}
    async with running(cfg, shadow_share=1.0) as (proxy, base), aiohttp.ClientSession() as s:
        for user in ("u-peak", "u-saturday"):
            async with s.post(f"{base}/chat/completions", headers={"authorization": f"Bearer {APP_KEY}"},
                              json={"model": "gpt-4o", "user": user,
                                    "messages": [{"role": "user", "content": "hello"}]}) as r:
                assert served(r) == "candidate"
                got[user] = await r.read()
        await proxy.ramp_server.drain(timeout_s=30)
        await proxy.writer.flush()
    eng = open_engine(cfg.store.url)
    with eng.connect() as conn:
        pairs = sorted(conn.execute(select(schema.pairs)).all(), key=lambda p: p.created_at)
    eng.dispose()
    assert [p.created_at for p in pairs] == [peak.timestamp(), saturday.timestamp()]
    assert [p.candidate_body.encode() for p in pairs] == [got["u-peak"], got["u-saturday"]]
    for pair, when, window in zip(pairs, (peak, saturday), ("peak", None), strict=True):
        quote = price_at("deepseek", pair.candidate_model, when)
        assert quote.window == window
        tokens = token_split(json.loads(pair.candidate_usage))
        assert pair.candidate_cost_usd == pytest.approx(sum(tokens[k] * quote.rates[k] for k in tokens) / 1e6)
    assert pairs[0].candidate_cost_usd != pytest.approx(pairs[1].candidate_cost_usd)


def _assert_one_compared_candidate_pair(url: str) -> None:
    """The store holds the one candidate-served pair, with the primary's answer and both comparators' verdicts."""
    eng = open_engine(url)
    with eng.connect() as conn:
        pair = conn.execute(select(schema.pairs)).one()
        cmps = conn.execute(select(schema.comparisons.c.comparator)).all()
    eng.dispose()
    assert pair.served_by == "candidate" and pair.primary_status == 200
    assert {c.comparator for c in cmps} == {"structural", "text_exact"}


async def test_record_is_made_in_the_proxy_when_no_worker_can_take_it(cfg, fakes, monkeypatch):
    """A full hand-off (or no live worker) never loses a record the ramp's gates count: the proxy records it."""
    set_share(cfg.store.url, 100)
    async with running(cfg, shadow_share=1.0) as (proxy, base):
        monkeypatch.setattr(proxy.mirror, "hand_record", lambda rec: None)
        await chat(base, "u-here")
        await proxy.ramp_server.drain()
        await proxy.writer.flush()
    _assert_one_compared_candidate_pair(cfg.store.url)


async def test_record_held_by_a_worker_that_dies_is_made_in_the_proxy(cfg, fakes):
    """A mirror worker killed while it holds a record (here: waiting for the shadow primary call): the proxy
    records it itself, so the pair still reaches the store."""
    import os
    import signal

    prim, _ = fakes
    set_share(cfg.store.url, 100)
    prim.script(hang_s=3.0, times=1)  # the worker's shadow primary call hangs; the proxy's retry does not
    async with running(cfg, shadow_share=1.0) as (proxy, base):
        for _ in range(300):
            if proxy.mirror.links and proxy.mirror.links[0].ready:
                break
            await asyncio.sleep(0.05)
        await chat(base, "u-orphan")
        for _ in range(200):
            if len(prim.requests) >= 1:
                break
            await asyncio.sleep(0.02)
        assert proxy.mirror.records  # held by the worker, not written yet
        os.kill(proxy.mirror.links[0].proc.pid, signal.SIGKILL)
        await proxy.ramp_server.drain(timeout_s=30)
        await proxy.writer.flush()
        assert not proxy.mirror.records and proxy.mirror.held_bytes == 0
    _assert_one_compared_candidate_pair(cfg.store.url)


async def test_rollback_reaches_a_running_proxy_within_seconds(cfg, fakes):
    set_share(cfg.store.url, 100)
    async with running(cfg) as (proxy, base):
        assert (await chat(base, "u")).headers["x-offramp-served-by"] == "candidate"
        eng = open_engine(cfg.store.url)
        RampController(RampPlan(), RampStore(eng), source=None).command("rollback")  # type: ignore[arg-type]
        eng.dispose()
        deadline = time.monotonic() + 30  # followed within a second; the deadline only bounds a failure
        while proxy.ramp.router.state.share != 0:
            assert time.monotonic() < deadline, "the proxy never followed the rollback"
            await asyncio.sleep(0.1)
        r = await chat(base, "u")
        assert "x-offramp-served-by" not in r.headers  # plain primary path


def _one_pair(url: str):
    """The single pair the test's one request recorded."""
    eng = open_engine(url)
    with eng.connect() as conn:
        pair = conn.execute(select(schema.pairs)).one()
    eng.dispose()
    return pair


async def _stream_chat(base: str, user: str) -> tuple[aiohttp.ClientResponse, bytes]:
    async with aiohttp.ClientSession() as s:
        r = await s.post(f"{base}/chat/completions", headers={"authorization": f"Bearer {APP_KEY}"},
                         json={"model": "gpt-4o", "user": user, "stream": True,
                               "messages": [{"role": "user", "content": f"tell {user} a long story"}]})
        try:
            data = await r.read()
        except aiohttp.ClientPayloadError:
            data = b"<cut>"
        return r, data


async def test_candidate_stream_is_forwarded_as_it_arrives(cfg, fakes):
    set_share(cfg.store.url, 100)
    async with running(cfg) as (proxy, base):
        r, data = await _stream_chat(base, "s1")
        await proxy.ramp_server.drain()
        await proxy.writer.flush()
    assert r.headers["x-offramp-served-by"] == "candidate" and r.headers["content-type"] == "text/event-stream"
    assert data.rstrip().endswith(b"data: [DONE]")
    pair = _one_pair(cfg.store.url)
    assert pair.candidate_error is None and pair.candidate_ttft_ms is not None and pair.stream


async def test_candidate_stream_cut_before_the_first_token_falls_back(cfg, fakes):
    prim, cand = fakes
    set_share(cfg.store.url, 100)
    cand.script(cut_after=0)
    async with running(cfg) as (proxy, base):
        r, data = await _stream_chat(base, "s2")
        await proxy.ramp_server.drain()
        await proxy.writer.flush()
    assert data.rstrip().endswith(b"data: [DONE]")  # the primary's full answer
    assert len(prim.requests) == 1
    pair = _one_pair(cfg.store.url)
    assert pair.candidate_error and pair.served_by == "primary"


async def test_candidate_stream_cut_after_tokens_is_counted_against_it(cfg, fakes):
    prim, cand = fakes
    set_share(cfg.store.url, 100)
    cand.script(cut_after=3)
    async with running(cfg) as (proxy, base):
        _r, data = await _stream_chat(base, "s3")
        await proxy.ramp_server.drain()
        await proxy.writer.flush()
    assert b"[DONE]" not in data and len(prim.requests) == 0
    pair = _one_pair(cfg.store.url)
    assert pair.candidate_error and pair.candidate_error.startswith("stream_cut") and pair.served_by == "candidate"
