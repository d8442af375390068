"""Fixtures of the rollout tests: a migrated store and a scripted evidence source."""

from __future__ import annotations

import random

import pytest

from offramp.shadow.ramp.gates import ComparatorEvidence, Evidence, Proportion
from offramp.shadow.ramp.store import RampStore
from offramp.shadow.store import open_engine


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class ScriptedEvidence:
    """Evidence of a candidate with a given structural disagreement rate, `per_step` samples per step."""

    def __init__(self, cand_rate: float = 0.02, noise_rate: float = 0.02, n: int = 2000, errors: int = 0) -> None:
        self.cand_rate, self.noise_rate, self.n, self.errors = cand_rate, noise_rate, n, errors
        self.samples = 10_000
        self.calls: list[tuple[float, float, float]] = []

    def collect(self, candidate_since: float, noise_since: float, ops_since: float) -> Evidence:
        self.calls.append((candidate_since, noise_since, ops_since))
        rng = random.Random(0)
        lat = [rng.gauss(100, 5) for _ in range(300)]
        n = self.n
        return Evidence(
            comparators={"structural": ComparatorEvidence(
                candidate=Proportion(bad=int(self.cand_rate * n), n=n, pair_ids=["pair-a", "pair-b"]),
                noise=Proportion(bad=int(self.noise_rate * n), n=n))},
            json_invalid_candidate=Proportion(bad=0, n=n), json_invalid_primary=Proportion(bad=0, n=n),
            errors_candidate=Proportion(bad=self.errors, n=n), errors_primary=Proportion(bad=0, n=n),
            latency_candidate=lat, latency_primary=lat, ttft_candidate=lat, ttft_primary=lat,
            cost_candidate=[0.001] * 300, cost_primary=[0.004] * 300,
        )

    def step_samples(self, since: float) -> int:
        return self.samples


@pytest.fixture
def engine(tmp_path):
    eng = open_engine(f"sqlite:///{tmp_path / 'shadow.db'}")
    RampStore(eng).ensure()
    yield eng
    eng.dispose()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A store holding real recorded traffic (proxy + fake upstreams, a candidate that picks the wrong tool
    in 30% of calls) and a ramp that was started, advanced and rolled back by its gates."""
    import asyncio
    import os

    from offramp.migrate.fake_upstream.testing import FakeUpstream
    from offramp.shadow.ramp.controller import RampController
    from offramp.shadow.ramp.evidence import StoreEvidence
    from offramp.shadow.ramp.gates import GateConfig, ProportionGateConfig, RatioGateConfig
    from offramp.shadow.ramp.plan import RampPlan
    from tests.rollout.traffic import CAND_KEY, CAND_KEY_ENV, running_proxy, send, settle, shadow_config

    os.environ[CAND_KEY_ENV] = CAND_KEY
    url = f"sqlite:///{tmp_path_factory.mktemp('recorded') / 'shadow.db'}"
    with FakeUpstream("openai", noise=0.05) as p, FakeUpstream("deepseek", noise=0.05,
                                                               degrade="wrong_tool=0.3,latency_ms=5") as c:
        cfg = shadow_config(p.base_url, c.base_url, url)

        async def go():
            async with running_proxy(cfg) as (proxy, base):
                await send(base + "/v1", 120)
                await settle(proxy)

        asyncio.run(go())
    eng = open_engine(url)
    small = ProportionGateConfig(min_samples=10, min_baseline_samples=5)
    plan = RampPlan(min_step_seconds=0, min_step_samples=5, gates=GateConfig(
        disagreement=small, json_validity=small, error_rate=small,
        latency=RatioGateConfig(min_samples=10, max_ratio=50), ttft=RatioGateConfig(min_samples=10, max_ratio=50),
        cost=RatioGateConfig(min_samples=10, max_ratio=50)))
    ctl = RampController(plan, RampStore(eng), StoreEvidence(eng), noise_lookback_seconds=10 ** 6)
    ctl.command("start", actor="cli:alice@test")
    st = ctl.store.load()
    ctl.store.save(st.model_copy(update={"started_at": 0.0, "step_started_at": 0.0}), st.version)
    decision = ctl.tick()
    eng.dispose()
    return {"url": url, "decision": decision, "plan": plan, "admin": "admin-token-rollout"}
