"""Decision-quality benchmark of the ramp: does the controller roll back bad candidates fast and leave good
ones alone?

Simulated mode (default) drives the real gates and controller (`shadow.ramp`) with simulated comparator
outcomes, many seeded runs per scenario: candidates degraded at known rates (wrong tool name, invalid JSON,
truncated answers, added latency) and one equal to the primary up to its own noise. Reported per scenario:
rollback rate (detection for a degraded candidate, false rollback for the equal one), the share of runs that
rolled back within `--within` compared requests, and the median compared requests to the decision (rollback,
or reaching the approval gate).

`--live` runs the same scenarios through the real proxy and fake upstreams (see `live.py`).

    python bench/rollout/run.py            # full: 200 runs per scenario, noise sweep
    python bench/rollout/run.py --quick    # 40 runs, one noise level (well under a minute)
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from offramp.shadow.ramp.controller import RampController  # noqa: E402
from offramp.shadow.ramp.gates import ComparatorEvidence, Evidence, Proportion  # noqa: E402
from offramp.shadow.ramp.plan import RampPlan  # noqa: E402
from offramp.shadow.ramp.store import MemoryRampStore, Status  # noqa: E402


@dataclass(frozen=True)
class Scenario:
    name: str
    wrong_tool: float = 0.0
    invalid_json: float = 0.0
    truncate: float = 0.0
    latency_factor: float = 1.0
    degraded: bool = True


SCENARIOS = [
    Scenario("equal", degraded=False),
    Scenario("wrong_tool_3pt", wrong_tool=0.03),
    Scenario("wrong_tool_5pt", wrong_tool=0.05),
    Scenario("invalid_json_3pt", invalid_json=0.03),
    Scenario("truncate_3pt", truncate=0.03),
    Scenario("latency_x3", latency_factor=3.0),
]


@dataclass
class SimTraffic:
    """Per-request outcomes, kept as prefix sums so any time window is O(1) (latencies: sorted slices)."""

    t: list[float] = field(default_factory=list)
    cand_struct: list[int] = field(default_factory=lambda: [0])
    cand_tool: list[int] = field(default_factory=lambda: [0])
    cand_json: list[int] = field(default_factory=lambda: [0])
    noise_t: list[float] = field(default_factory=list)
    noise_struct: list[int] = field(default_factory=lambda: [0])
    noise_tool: list[int] = field(default_factory=lambda: [0])
    lat_p: list[float] = field(default_factory=list)
    lat_c: list[float] = field(default_factory=list)
    bad_ids: list[str] = field(default_factory=list)

    def add(self, now: float, struct: bool, tool: bool, jsonbad: bool, lp: float, lc: float, rid: str) -> None:
        self.t.append(now)
        self.cand_struct.append(self.cand_struct[-1] + struct)
        self.cand_tool.append(self.cand_tool[-1] + tool)
        self.cand_json.append(self.cand_json[-1] + jsonbad)
        self.lat_p.append(lp)
        self.lat_c.append(lc)
        if struct and len(self.bad_ids) < 20:
            self.bad_ids.append(rid)

    def add_noise(self, now: float, struct: bool, tool: bool) -> None:
        self.noise_t.append(now)
        self.noise_struct.append(self.noise_struct[-1] + struct)
        self.noise_tool.append(self.noise_tool[-1] + tool)


class SimEvidence:
    def __init__(self, traffic: SimTraffic) -> None:
        self.tr = traffic

    def collect(self, candidate_since: float, noise_since: float, ops_since: float) -> Evidence:
        tr = self.tr
        i = bisect.bisect_left(tr.t, candidate_since)
        j = bisect.bisect_left(tr.noise_t, noise_since)
        k = bisect.bisect_left(tr.t, ops_since)
        n, nn, no = len(tr.t) - i, len(tr.noise_t) - j, len(tr.t) - k

        def prop(arr: list[int], lo: int, count: int, ids: bool = False) -> Proportion:
            return Proportion(bad=arr[-1] - arr[lo], n=count, pair_ids=tr.bad_ids[:10] if ids else [])

        return Evidence(
            comparators={
                "structural": ComparatorEvidence(candidate=prop(tr.cand_struct, i, n, True),
                                                 noise=prop(tr.noise_struct, j, nn)),
                "tool_calls": ComparatorEvidence(candidate=prop(tr.cand_tool, i, n, True),
                                                 noise=prop(tr.noise_tool, j, nn)),
            },
            json_invalid_candidate=Proportion(bad=tr.cand_json[-1] - tr.cand_json[k], n=no),
            json_invalid_primary=Proportion(bad=0, n=no),
            errors_candidate=Proportion(bad=0, n=no), errors_primary=Proportion(bad=0, n=no),
            latency_candidate=tr.lat_c[k:], latency_primary=tr.lat_p[k:],
        )

    def step_samples(self, since: float) -> int:
        return len(self.tr.t) - bisect.bisect_left(self.tr.t, since)


@dataclass
class RunResult:
    rolled_back: bool
    requests: int  # compared requests until the decision (rollback or approval gate) or the horizon
    reason: str = ""


def simulate(sc: Scenario, seed: int, plan: RampPlan, p0: float, noise_share: float, noise_prior: int,
             horizon: int, tick_every: int, watch_after_gate: int = 0) -> RunResult:
    """One ramp. Sim clock: one compared request per second. The primary picks an alternative tool with
    probability q (so primary-vs-primary disagreement ≈ p0 = 2q(1−q)); the equal candidate does the same."""
    rng = random.Random(seed)
    q = (1 - math.sqrt(1 - 2 * p0)) / 2
    tr = SimTraffic()
    store = MemoryRampStore()
    clock = [0.0]
    ctl = RampController(plan, store, SimEvidence(tr), clock=lambda: clock[0], noise_lookback_seconds=10 ** 9)

    def primary_tool() -> int:
        return 1 if rng.random() < q else 0

    # Noise floor already measured during the shadow phase before the ramp starts.
    for s in range(noise_prior):
        a, b = primary_tool(), primary_tool()
        tr.add_noise(-noise_prior + s, a != b, a != b)
    clock[0] = 1.0
    ctl.command("start")
    reached: int | None = None
    for i in range(1, horizon + 1):
        clock[0] = 1.0 + i
        p, c = primary_tool(), primary_tool()
        tool = p != c
        if rng.random() < sc.wrong_tool:
            tool = True
        jsonbad = rng.random() < sc.invalid_json
        trunc = rng.random() < sc.truncate
        struct = tool or jsonbad or trunc
        tool = tool or trunc  # a cut answer loses the tool call's arguments
        lp = rng.lognormvariate(math.log(800), 0.35)
        lc = rng.lognormvariate(math.log(800 * sc.latency_factor), 0.35)
        tr.add(clock[0], struct, tool, jsonbad, lp, lc, f"pair-{i}")
        if rng.random() < noise_share:
            a = primary_tool()
            tr.add_noise(clock[0], a != p, a != p)
        if i % tick_every == 0:
            d = ctl.tick()
            if d is not None and d.action == "rollback":
                return RunResult(True, i, d.reason)
            if reached is None and store.load().status is Status.awaiting_approval:
                reached = i
            if reached is not None and (sc.degraded or i - reached >= watch_after_gate):
                # Still watched while waiting for the human: a rollback there would count above.
                return RunResult(False, reached, "reached the approval gate")
    if reached is not None:
        return RunResult(False, reached, "reached the approval gate")
    return RunResult(False, horizon, "horizon")


def run_scenarios(runs: int, p0: float, args: argparse.Namespace, plan: RampPlan) -> list[dict]:
    rows = []
    for sc in SCENARIOS:
        res = [simulate(sc, 1000 * k + 7, plan, p0, args.noise_share, args.noise_prior,
                        args.horizon, args.tick_every, args.watch_after_gate)
               for k in range(runs)]
        rb = [r for r in res if r.rolled_back]
        within = sum(1 for r in rb if r.requests <= args.within)
        decided = [r.requests for r in res if r.rolled_back or r.reason.startswith("reached")]
        rows.append({
            "scenario": sc.name, "noise_floor": p0, "runs": runs,
            "rollback_rate": len(rb) / runs,
            "rolled_back_within": within / runs,
            "reached_approval_gate": sum(r.reason.startswith("reached") for r in res) / runs,
            "median_requests_to_decide": statistics.median(decided) if decided else None,
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="40 runs, one noise level")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--noise", type=float, nargs="*", default=None,
                    help="primary-vs-primary tool-call disagreement rates to sweep (default 0.005 0.01 0.02)")
    ap.add_argument("--noise-share", type=float, default=0.1, help="share of requests asked of the primary twice")
    ap.add_argument("--noise-prior", type=int, default=2000, help="noise pairs measured before the ramp starts")
    ap.add_argument("--within", type=int, default=500)
    ap.add_argument("--horizon", type=int, default=3000)
    ap.add_argument("--watch-after-gate", type=int, default=1000,
                    help="compared requests the equal candidate keeps being gated while awaiting approval")
    ap.add_argument("--tick-every", type=int, default=25, help="compared requests between controller ticks")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--live", action="store_true", help="through the real proxy and fake upstreams")
    args = ap.parse_args(argv)
    if args.live:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from live import main as live_main  # type: ignore[import-not-found]

        return live_main(args)
    runs = 40 if args.quick else args.runs
    noise = args.noise or ([0.01] if args.quick else [0.005, 0.01, 0.02])
    plan = RampPlan(min_step_seconds=0, evaluate_every_seconds=1, hold_record_seconds=10 ** 9)
    started = time.perf_counter()
    rows = []
    for p0 in noise:
        rows += run_scenarios(runs, p0, args, plan)
    elapsed = time.perf_counter() - started
    print(f"ramp decision quality: {runs} seeded runs per scenario; requests = compared pairs; "
          f"noise pairs: {args.noise_prior} before the ramp + {args.noise_share:.0%} of requests; "
          f"tick every {args.tick_every} requests; {elapsed:.1f}s")
    print(f"{'scenario':<18}{'noise':>7}{'rollback':>10}{'≤' + str(args.within):>8}{'approval':>10}{'median n':>10}")
    for r in rows:
        med = r["median_requests_to_decide"]
        print(f"{r['scenario']:<18}{r['noise_floor']:>7.1%}{r['rollback_rate']:>10.1%}"
              f"{r['rolled_back_within']:>8.1%}{r['reached_approval_gate']:>10.1%}"
              f"{(f'{med:.0f}' if med is not None else '-'):>10}")
    for p0 in noise:
        sub = {r["scenario"]: r for r in rows if r["noise_floor"] == p0}
        det = sub["wrong_tool_3pt"]["rolled_back_within"]
        fr = sub["equal"]["rollback_rate"]
        print(f"targets at noise {p0:.1%}: 3-pt tool-call drop detected within {args.within}: {det:.1%} "
              f"(≥ 95%: {'met' if det >= 0.95 else 'NOT met'}); false rollback: {fr:.1%} "
              f"(≤ 2%: {'met' if fr <= 0.02 else 'NOT met'})")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "elapsed_s": elapsed, "args": {
            k: v for k, v in vars(args).items() if k != "json"}}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
