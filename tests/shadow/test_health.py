"""Candidate health and mirror accounting: a failing or hanging candidate opens its circuit breaker within
seconds (visible in `/metrics`, the admin API and `migrate shadow status`), holds the ramp or rolls a serving
share back, and is probed again with backoff; every request offered to the mirror ends in one counted outcome."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from typer.testing import CliRunner

from offramp.shadow.ramp.store import RampState, Status
from tests.shadow.conftest import ADMIN, auth, chat, rows, wait_for

FAST_BREAKER = {"stall_s": 0.5, "open_s": 0.5, "consecutive_failures": 3, "min_calls": 5}


def _status(store_url: str) -> dict:
    import offramp.migrate.commands  # noqa: F401 - registers `shadow`
    from offramp.migrate.cli_app import app as root_app

    r = CliRunner().invoke(root_app, ["shadow", "status", "--store", store_url, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _status_text(store_url: str) -> str:
    import offramp.migrate.commands  # noqa: F401
    from offramp.migrate.cli_app import app as root_app

    r = CliRunner().invoke(root_app, ["shadow", "status", "--store", store_url])
    assert r.exit_code == 0, r.output
    return r.output


async def _metrics(s: aiohttp.ClientSession, base: str) -> dict[str, float]:
    async with s.get(base.replace("/v1", "/metrics")) as r:
        text = await r.text()
    return {ln.rsplit(" ", 1)[0]: float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines()
            if ln and not ln.startswith("#")}


async def _post(s, base, body):
    async with s.post(f"{base}/chat/completions", json=body, headers=auth()) as r:
        return r.status, await r.read()


async def test_failing_candidate_opens_breaker_then_probe_closes_it(proxy_factory, candidate_fake, store_url):
    candidate_fake.script(status=503, times=3)
    mirror = {"breaker": FAST_BREAKER}
    async with proxy_factory(mirror=mirror) as (proxy, base), aiohttp.ClientSession() as s:
        for i in range(3):  # one at a time: three failures in a row
            assert (await _post(s, base, chat(f"q{i}")))[0] == 200
            await wait_for(lambda n=i: len(proxy.mirror.awaiting) == 0 and proxy.mirror.offered == n + 1)
        assert proxy.mirror.breaker.state == "open"
        assert "3 consecutive candidate failures (last: http_5xx)" in proxy.mirror.breaker.reason
        m = await _metrics(s, base)
        assert m['offramp_candidate_breaker_state{candidate="deepseek",state="open"}'] == 1
        assert m['offramp_candidate_breaker_opened_total{candidate="deepseek"}'] == 1
        # While open: the primary still answers, the mirror is skipped and counted.
        status, raw = await _post(s, base, chat("while open"))
        assert status == 200 and json.loads(raw)["choices"]
        assert proxy.mirror.skips["breaker_open"] == 1
        async with s.get(base.replace("/v1", "/admin/mirror"), headers=auth(ADMIN)) as r:
            state = await r.json()
        assert state["breaker"]["state"] == "open" and state["accounting"]["skips"]["breaker_open"] == 1
        await proxy.writer.flush()
        st = _status(store_url)
        assert [b["state"] for b in st["breakers"] if b["live"]] == ["open"]
        assert "consecutive" in st["breakers"][0]["reason"]
        assert "breaker on" in _status_text(store_url) and "open since" in _status_text(store_url)
        # The dashboard's data and page show it too.
        from offramp.shadow.report.build import build_report
        from offramp.shadow.report.render import render_html

        rep = await asyncio.to_thread(build_report, proxy.engine)
        assert [b["state"] for b in rep.breakers if b["live"]] == ["open"]
        assert rep.accounting["skips"]["breaker_open"] == 1
        page = render_html(rep, live=True)
        assert "data-figure=breaker" in page and "consecutive candidate failures" in page
        # After open_s the next request is a probe; the candidate answers again, so the breaker closes.
        await asyncio.sleep(0.6)
        assert (await _post(s, base, chat("probe")))[0] == 200
        await wait_for(lambda: proxy.mirror.breaker.state == "closed")
        assert (await _post(s, base, chat("after")))[0] == 200
        await wait_for(lambda: not proxy.mirror.inflight)
        assert len(candidate_fake.requests) == 5  # 3 failures, the probe, one more; none while open
    events = rows(store_url, "shadow_breaker_events")
    assert [(e["from_state"], e["to_state"]) for e in events] == [("closed", "open"), ("open", "half_open"),
                                                                  ("half_open", "closed")]
    assert "consecutive" in events[0]["reason"] and events[2]["reason"].startswith("probe answered")


async def test_hanging_candidate_is_visible_within_seconds(proxy_factory, candidate_fake, primary_fake, store_url):
    """A candidate that accepts and never answers: no mirror timeout to wait for (60 s), the stall opens the
    breaker; the primary's answers never change; a failed probe doubles the wait."""
    candidate_fake.script(hang_s=4, times=8)
    mirror = {"timeout_s": 3, "breaker": FAST_BREAKER}
    async with proxy_factory(mirror=mirror) as (proxy, base), aiohttp.ClientSession() as s:
        answers = await asyncio.gather(*(_post(s, base, chat(f"h{i}")) for i in range(4)))
        assert [a[0] for a in answers] == [200] * 4
        await wait_for(lambda: proxy.mirror.breaker.state == "open", timeout=5)
        assert "stalled" in proxy.mirror.breaker.reason
        m = await _metrics(s, base)
        assert m['offramp_candidate_breaker_state{candidate="deepseek",state="open"}'] == 1
        assert m["offramp_mirror_in_flight"] == 4
        await proxy.writer.flush()
        st = _status(store_url)
        assert st["breakers"][0]["state"] == "open" and "stalled" in st["breakers"][0]["reason"]
        assert st["accounting"]["in_flight"] == 4
        # The probe after open_s hangs too and times out: open again, next probe after twice the wait.
        await asyncio.sleep(0.6)
        assert (await _post(s, base, chat("probe")))[0] == 200
        await wait_for(lambda: proxy.mirror.breaker.reason.startswith("probe failed"), timeout=10)
        assert proxy.mirror.breaker.state == "open" and proxy.mirror.breaker.backoff_s == 1.0
        await wait_for(lambda: not proxy.mirror.inflight, timeout=10)
        acc = proxy.mirror.accounting()
        assert acc["candidate_errors"] == {"timeout": 5}
    for raw in (a[1] for a in answers):
        assert json.loads(raw)["choices"][0]["message"]["content"]


async def test_open_breaker_holds_the_ramp_and_rolls_back_a_serving_share(proxy_factory, candidate_fake,
                                                                         store_url):
    candidate_fake.script(status=500, times=3)
    async with proxy_factory(mirror={"breaker": FAST_BREAKER}) as (proxy, base), aiohttp.ClientSession() as s:
        ctl = proxy.ramp.controller
        serving = RampState(status=Status.running, share=10.0, started_at=1.0, step_started_at=1.0)
        shadow_only = RampState(status=Status.running, share=0.0, started_at=1.0, step_started_at=1.0)
        assert not [c for c in ctl.assess(serving).concerns if c.source.startswith("breaker:")]
        for i in range(3):
            await _post(s, base, chat(f"r{i}"))
            await wait_for(lambda n=i: not proxy.mirror.awaiting and proxy.mirror.offered == n + 1)
        assert proxy.mirror.breaker.state == "open"
        back = [c for c in ctl.assess(serving).concerns if c.source == "breaker:deepseek"]
        assert [c.action for c in back] == ["rollback"] and "circuit breaker open" in back[0].reason
        hold = [c for c in ctl.assess(shadow_only).concerns if c.source == "breaker:deepseek"]
        assert [c.action for c in hold] == ["hold"] and hold[0].setting == "mirror.breaker"
        # The controller acts on it: a running ramp serving 10% goes back to 0%.
        proxy.ramp.store.ensure()
        proxy.ramp.store.save(serving, proxy.ramp.store.load().version, None)
        d = ctl.tick()
        assert d is not None and d.action == "rollback" and d.to_share == 0.0
        assert "circuit breaker open" in d.reason


async def test_every_offered_request_is_accounted_for(proxy_factory, candidate_fake, store_url):
    """Offered = compared + candidate errors (by kind) + skips (by reason) + in flight, in the proxy and in
    `migrate shadow status`; the pairs in the store are exactly the compared and candidate-error ones (plus
    those whose primary failed)."""
    candidate_fake.script(status=500, times=2)
    candidate_fake.script(malformed=True, times=1)
    mirror = {"max_body_bytes": 400, "breaker": {"enabled": False}}
    async with proxy_factory(mirror=mirror) as (proxy, base), aiohttp.ClientSession() as s:
        for i in range(10):
            assert (await _post(s, base, chat(f"a{i}")))[0] == 200
        assert (await _post(s, base, chat("x" * 500)))[0] == 200  # body_too_large
        async with s.post(f"{base}/embeddings", json={"model": "text-embedding-3-small", "input": "hi"},
                          headers=auth()) as r:
            assert r.status == 200  # endpoint_not_mirrored
        async with s.get(f"{base}/models", headers=auth()) as r:
            assert r.status == 200  # endpoint_not_mirrored
        await wait_for(lambda: not proxy.mirror.inflight)
        acc = proxy.mirror.accounting()
        assert acc["offered"] == 13
        assert acc["compared"] == 7 and acc["candidate_errors"] == {"http_5xx": 2, "malformed_json": 1}
        assert acc["skips"] == {"body_too_large": 1, "endpoint_not_mirrored": 2}
        await proxy.writer.flush()
    st = _status(store_url)["accounting"]
    assert st["offered"] == 13 and st["compared"] == 7 and st["errors"] == 3 and st["skipped"] == 3
    assert st["in_flight"] == 0 and st["in_flight_at_stop"] == 0 and st["unaccounted"] == 0
    assert len(rows(store_url)) == 10
    text = _status_text(store_url)
    assert "Mirror accounting: offered 13 = compared 7 + candidate errors 3" in text


async def test_killed_mirror_worker_is_counted_and_restarted(proxy_factory, candidate_fake, store_url):
    """A mirror worker that dies (OOM-killed, a crash in a comparator's native code) never touches the primary:
    its jobs in flight are counted as `worker_lost`, and the proxy starts a new worker that mirrors again."""
    import os
    import signal

    candidate_fake.script(hang_s=5, times=2)
    mirror = {"breaker": {"enabled": False}}
    async with proxy_factory(mirror=mirror) as (proxy, base), aiohttp.ClientSession() as s:
        await asyncio.gather(*(_post(s, base, chat(f"k{i}")) for i in range(2)))
        await wait_for(lambda: len(proxy.mirror.awaiting) == 2)
        link = proxy.mirror.links[0]
        old_pid = link.proc.pid
        os.kill(old_pid, signal.SIGKILL)
        await wait_for(lambda: proxy.mirror.skips["worker_lost"] == 2)
        assert not proxy.mirror.inflight
        status, raw = await _post(s, base, chat("meanwhile"))  # the primary answers while no worker runs
        assert status == 200 and json.loads(raw)["choices"]
        assert proxy.mirror.skips["worker_lost"] == 3  # not handed off: no worker to take it
        await wait_for(lambda: link.ready and link.proc.pid != old_pid and link.alive, timeout=30)
        assert (await _post(s, base, chat("again")))[0] == 200
        await wait_for(lambda: proxy.mirror.compared == 1)
        acc = proxy.mirror.accounting()
        assert acc["offered"] == 4 and acc["skips"] == {"worker_lost": 3}
        assert acc["compared"] + acc["errors"] + acc["skipped"] + acc["in_flight"] == 4
