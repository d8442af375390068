"""The daily spend cap lives in the store: it survives a restart and holds across replicas sharing the store,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import text

from offramp.shadow.spend import SpendMeter, day_label
from offramp.shadow.store import open_engine
from tests.conftest import private_pg_schema
from tests.shadow.conftest import ADMIN, auth, chat, wait_for


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    """Overrides the suite's SQLite-only store: every test here runs on both back ends."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'spend.db'}"
        return
    with private_pg_schema(request.getfixturevalue("pg_url"), "spend") as url:
        yield url


CAP = {"mirror": {"daily_spend_cap_usd": 1e-9}, "store": {"spend_refresh_s": 0.1}}


async def _post(base: str, content: str) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat(content), headers=auth()) as r:
            assert r.status == 200


async def _admin(base: str) -> dict:
    async with aiohttp.ClientSession() as s:
        async with s.get(base.replace("/v1", "/admin/mirror"), headers={"authorization": f"Bearer {ADMIN}"}) as r:
            return await r.json()


async def test_spend_cap_shared_by_replicas_and_kept_across_restart(proxy_factory, store_url, candidate_fake):
    async with proxy_factory(**CAP) as (a, base_a), proxy_factory(**CAP) as (b, base_b):
        await _post(base_a, "first")  # replica A spends past the cap
        await wait_for(lambda: a.mirror.recorded)
        # Replica B never mirrored anything, yet it learns the day's spend from the store...
        await wait_for(lambda: b.mirror.spend.spent > 0, timeout=3)
        await _post(base_b, "second")
        assert b.mirror.skips["spend_cap"] == 1  # ...and stops mirroring
        state = await _admin(base_b)
        assert state["spend_usd_today"] > 0 and state["daily_spend_cap_usd"] == 1e-9
    assert len(candidate_fake.requests) == 1
    spent = a.mirror.spend.spent

    # A restart (a new process would do the same): the cap still holds from the first request on.
    async with proxy_factory(**CAP) as (c, base_c):
        assert c.mirror.spend.spent == pytest.approx(spent)
        await _post(base_c, "third")
        assert c.mirror.skips["spend_cap"] == 1
    assert len(candidate_fake.requests) == 1

    eng = open_engine(store_url)
    with eng.connect() as conn:
        rows = conn.execute(text("SELECT day, usd FROM shadow_spend")).all()
    eng.dispose()
    assert [r[0] for r in rows] == [SpendMeter(0).day] and rows[0][1] == pytest.approx(spent)


def test_meter_rolls_over_at_utc_midnight():
    now = [86400 * 20000 - 1.0]  # one second before a UTC midnight
    m = SpendMeter(1.0, clock=lambda: now[0])
    m.add(0.6)
    m.settle(m.take() and m.today(), 0.6)  # written: the store says 0.6 today
    m.add(0.5)
    assert m.exhausted()
    now[0] += 2  # the next UTC day: yesterday's spend no longer counts
    assert m.spent == 0.0 and not m.exhausted()
    m.add(0.3)
    assert m.spent == pytest.approx(0.3)
    assert m.take() == {day_label(19999): 0.5, day_label(20000): 0.3}  # each day's row gets its own delta
    assert day_label(20000) == "2024-10-04"
