"""Shadow cost recording prices each call at the request's arrival time (UTC), in the price window in force then:
DeepSeek's peak (weekday 01:00–04:00, 06:00–10:00 UTC) costs twice its off-peak price."""

from __future__ import annotations

import datetime as dt
import json

import aiohttp
import pytest

from offramp.adapters.cost import price_at, token_split
from tests.shadow.conftest import auth, chat, rows, wait_for

PEAK = dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.timezone.utc)  # a Wednesday, 02:00 UTC
SATURDAY = dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.timezone.utc)


async def test_candidate_cost_uses_the_window_at_arrival(proxy_factory, store_url):
    arrivals = iter([PEAK.timestamp(), SATURDAY.timestamp()])

    async with proxy_factory() as (proxy, base), aiohttp.ClientSession() as s:
        proxy.mirror.arrival_clock = lambda: next(arrivals)  # the proxy stamps each job on arrival: pin them
        for text in ("first question", "second question"):
            async with s.post(f"{base}/chat/completions", json=chat(text), headers=auth()) as r:
                assert r.status == 200
            await wait_for(lambda n=text: any(n in (p["request_body"] or "") for p in rows(store_url)))
    pairs = sorted(rows(store_url), key=lambda p: p["created_at"])
    assert [p["created_at"] for p in pairs] == [PEAK.timestamp(), SATURDAY.timestamp()]
    for pair, when, window in zip(pairs, (PEAK, SATURDAY), ("peak", None), strict=True):
        quote = price_at("deepseek", pair["candidate_model"], when)
        assert quote.window == window
        tokens = token_split(json.loads(pair["candidate_usage"]))
        expected = sum(tokens[k] * quote.rates[k] for k in tokens) / 1_000_000
        assert expected > 0 and pair["candidate_cost_usd"] == pytest.approx(expected)
