"""`run.py --live`: the same question through the real stack — proxy, mirror, comparators, store, controller —
against fake upstreams (a primary with noise, candidates degraded at known rates). Slower than the simulation,
so fewer runs; it checks that the simulated decisions carry over to real traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}},
    {"type": "function", "function": {"name": "book_table", "parameters": {
        "type": "object", "properties": {"people": {"type": "integer"}}}}},
]

LIVE_SCENARIOS = {
    "equal": "",
    "wrong_tool_10pt": "wrong_tool=0.10",
    "tool_drop_10pt": "drop_tool=0.10",
    "invalid_json_10pt": "invalid_json=0.10",
    "latency_+300ms": "latency_ms=300",
}

PLAN = """
[ramp]
min_step_seconds = 0
min_step_samples = 60
evaluate_every_seconds = 0.2
hold_record_seconds = 0
shadow_candidate_served = 1.0
[ramp.gates.disagreement]
min_samples = 60
[ramp.gates.latency]
min_samples = 30
max_ratio = 3.0
[ramp.gates.ttft]
min_samples = 30
max_ratio = 3.0
"""


def _body(i: int, seed: int) -> dict:
    return {"model": "gpt-4o", "user": f"u{seed}-{i}", "tools": TOOLS,
            "messages": [{"role": "system", "content": "You are a concierge."},
                         {"role": "user", "content": f"request {seed}-{i}: help me with my evening"}]}


async def _one(scenario: str, degrade: str, seed: int, horizon: int, noise: float) -> dict:
    import aiohttp

    from offramp.migrate.fake_upstream.testing import FakeUpstream
    from offramp.shadow.config import ShadowConfig, Upstream
    from offramp.shadow.proxy import ShadowProxy, start_site
    from offramp.shadow.ramp.controller import RampController
    from offramp.shadow.ramp.evidence import StoreEvidence
    from offramp.shadow.ramp.store import RampStore, Status
    from offramp.shadow.store import open_engine

    tmp = Path(tempfile.mkdtemp(prefix="offramp-live-"))
    os.environ["OFFRAMP_BENCH_CAND_KEY"] = "sk-bench-candidate"
    url = f"sqlite:///{tmp / 'shadow.db'}"
    # The noise floor is measured before the ramp starts: a shadow-only warm-up on the same traffic.
    with FakeUpstream("openai", noise=noise, seed=seed) as prim, \
            FakeUpstream("deepseek", noise=noise, seed=seed + 1, degrade=degrade) as cand:
        cfg = ShadowConfig.model_validate({
            "primary": Upstream(name="openai", base_url=prim.base_url, kind="openai").model_dump(),
            "candidate": Upstream(name="deepseek", base_url=cand.base_url, kind="deepseek",
                                  api_key_env="OFFRAMP_BENCH_CAND_KEY", models={"*": "deepseek-flash"}).model_dump(),
            "store": {"url": url, "flush_interval_s": 0.05},
            "mirror": {"sample": 1.0, "noise_sample": 1.0, "concurrency": 16, "queue_size": 1024},
            "comparators": {"enabled": ["structural", "token_similarity"]},
            "ramp": tomllib.loads(PLAN)["ramp"],  # the [ramp] table of the one config file
        })
        proxy = ShadowProxy(cfg, admin_token="bench")
        runner = await start_site(proxy, "127.0.0.1", 0)
        host, port = runner.addresses[0][:2]
        base = f"http://{host}:{port}/v1/chat/completions"
        eng = open_engine(url)
        store = RampStore(eng)
        decided_at, outcome, sent = None, "horizon", 0
        try:
            async with aiohttp.ClientSession() as s:
                async def send(i: int) -> None:
                    async with s.post(base, json=_body(i, seed), headers={"authorization": "Bearer sk-app"}) as r:
                        await r.read()

                await asyncio.gather(*(send(i) for i in range(200)))  # shadow-only warm-up (noise floor)
                ctl = RampController(proxy.ramp.plan, store, StoreEvidence(eng))
                ctl.command("start", actor="bench")
                t0 = time.perf_counter()
                for start in range(200, 200 + horizon, 20):
                    await asyncio.gather(*(send(i) for i in range(start, start + 20)))
                    sent = start + 20 - 200
                    st = store.load()
                    if st.status is Status.rolled_back:
                        outcome, decided_at = "rolled back", sent
                        break
                    if st.status is Status.awaiting_approval:
                        outcome, decided_at = "approval gate", sent
                        break
                if outcome == "horizon":
                    # A slow candidate's mirrors land late: give the queue time to drain and the gates to decide.
                    deadline = time.monotonic() + 15
                    while time.monotonic() < deadline and outcome == "horizon":
                        await asyncio.sleep(0.25)
                        st = store.load()
                        if st.status is Status.rolled_back:
                            outcome, decided_at = "rolled back (late)", sent
                        elif st.status is Status.awaiting_approval:
                            outcome, decided_at = "approval gate", sent
                elapsed = time.perf_counter() - t0
            reason = store.load().reason
        finally:
            await runner.cleanup()
            eng.dispose()
            shutil.rmtree(tmp, ignore_errors=True)
    return {"scenario": scenario, "seed": seed, "outcome": outcome, "requests": decided_at or sent,
            "elapsed_s": round(elapsed, 2), "reason": reason[:160]}


def main(args: argparse.Namespace) -> int:
    runs = 1 if args.quick else max(1, min(args.runs, 5))
    horizon = 800 if args.quick else 2000
    noise = 0.02
    rows = []
    started = time.perf_counter()
    for name, degrade in LIVE_SCENARIOS.items():
        for k in range(runs):
            rows.append(asyncio.run(_one(name, degrade, 11 + k, horizon, noise)))
    print(f"live ramp through the proxy + fake upstreams: {runs} run(s) per scenario, fake noise {noise:.0%}, "
          f"horizon {horizon} requests; {time.perf_counter() - started:.1f}s")
    print(f"{'scenario':<20}{'seed':>5}  {'outcome':<15}{'requests':>9}  reason")
    for r in rows:
        print(f"{r['scenario']:<20}{r['seed']:>5}  {r['outcome']:<15}{r['requests']:>9}  {r['reason']}")
    by = {}
    for r in rows:
        by.setdefault(r["scenario"], []).append(r)
    for name, rs in by.items():
        rb = sum(r["outcome"].startswith("rolled back") for r in rs)
        print(f"{name}: rolled back {rb}/{len(rs)}, median requests to decide "
              f"{statistics.median(r['requests'] for r in rs):.0f}")
    return 0
