"""Decision-quality benchmark of the ramp: does the controller roll back bad candidates fast and leave good
ones alone?

Simulated mode (default) drives the real gates and controller (`shadow.ramp`) with simulated comparator
outcomes, many seeded runs per scenario: candidates degraded at known rates (wrong tool name, invalid JSON,
truncated answers, added latency), one equal to the primary up to its own noise, and one exactly `margin` worse
than the noise floor (the edge of what the gates tolerate: its rollback rate is the sequential test's type-I
error, which must stay at or below 1 − fail_confidence). Reported per evaluation interval, noise floor and
scenario: rollback rate (detection for a degraded candidate, false rollback for the equal one), the share of runs
that rolled back within `--within` compared requests (beside the Neyman-Pearson ceiling: the power of the best
test there is on the same number of pairs), the compared requests by which 95% of runs had rolled back,
and the median compared requests to the decision (rollback, or reaching the approval gate).

The simulated clock runs `--rate` compared requests per second (default 1, the most evaluations per request),
and the controller evaluates every `--evaluate-every` seconds (default 1, 5 and 30). Seeds: run k of every
scenario uses seed 1000·k + 7.

`--live` runs the same scenarios through the real proxy and fake upstreams (see `live.py`).

    python bench/rollout/run.py            # full: 200 runs per scenario, noise 1% and 2%, every 1/5/30 s
    python bench/rollout/run.py --quick    # 40 runs, noise 1%, every 5 s (well under a minute)
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
from concurrent.futures import ProcessPoolExecutor
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
    drop_tool: float = 0.0  # the tool-call rate falls by this many points: the candidate answers in prose instead
    degraded: bool = True
    at_margin: bool = False  # tool-call disagreement exactly `margin` above the noise floor
    drop_at_margin: bool = False  # dropped tool calls exactly the dropped-call gate's margin above its floor


SCENARIOS = [
    Scenario("equal", degraded=False),
    Scenario("at_margin", degraded=False, at_margin=True),
    Scenario("drop_at_margin", degraded=False, drop_at_margin=True),
    Scenario("wrong_tool_3pt", wrong_tool=0.03),
    Scenario("wrong_tool_5pt", wrong_tool=0.05),
    Scenario("tool_drop_3pt", drop_tool=0.03),
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
    cand_drop: list[int] = field(default_factory=lambda: [0])
    noise_t: list[float] = field(default_factory=list)
    noise_struct: list[int] = field(default_factory=lambda: [0])
    noise_tool: list[int] = field(default_factory=lambda: [0])
    noise_drop: list[int] = field(default_factory=lambda: [0])
    lat_p: list[float] = field(default_factory=list)
    lat_c: list[float] = field(default_factory=list)
    bad_ids: list[str] = field(default_factory=list)

    def add(self, now: float, struct: bool, tool: bool, drop: bool, jsonbad: bool, lp: float, lc: float,
            rid: str) -> None:
        self.t.append(now)
        self.cand_struct.append(self.cand_struct[-1] + struct)
        self.cand_tool.append(self.cand_tool[-1] + tool)
        self.cand_drop.append(self.cand_drop[-1] + drop)
        self.cand_json.append(self.cand_json[-1] + jsonbad)
        self.lat_p.append(lp)
        self.lat_c.append(lc)
        if struct and len(self.bad_ids) < 20:
            self.bad_ids.append(rid)

    def add_noise(self, now: float, struct: bool, tool: bool, drop: bool) -> None:
        self.noise_t.append(now)
        self.noise_struct.append(self.noise_struct[-1] + struct)
        self.noise_tool.append(self.noise_tool[-1] + tool)
        self.noise_drop.append(self.noise_drop[-1] + drop)


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
                "tool_calls_dropped": ComparatorEvidence(candidate=prop(tr.cand_drop, i, n, True),
                                                         noise=prop(tr.noise_drop, j, nn)),
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
             horizon: int, tick_every: int, watch_after_gate: int = 0, noise_kind: str = "presence") -> RunResult:
    """One ramp. Sim clock: one compared request per second. Answers: 0 = no tool call, 1 = the usual tool, 2 =
    another tool. The primary gives its noisy answer with probability q (0 under `presence` noise: it sometimes
    answers in prose; 2 under `choice`), so primary-vs-primary disagreement is p0 = 2q(1−q) and the primary drops
    a call against itself q(1−q) = p0/2 of the time under presence noise (the harder floor for the dropped-call
    gate); the equal candidate does the same."""
    rng = random.Random(seed)
    q = (1 - math.sqrt(1 - 2 * p0)) / 2
    noisy = {"presence": 0, "choice": 2}.get(noise_kind)  # None: mixed, either with equal odds
    # P(tool differs) = p0 + x·(1 − p0): x puts the candidate exactly `margin` above the floor.
    wrong_tool = plan.gates.disagreement.margin / (1 - p0) if sc.at_margin else sc.wrong_tool
    # The candidate calls a tool on (1 − q)(1 − d) of requests against the primary's 1 − q: `drop_tool` points fewer.
    q0 = {"presence": q, "choice": 0.0}.get(noise_kind, q / 2)  # P(the primary answers in prose)
    drop = sc.drop_tool / (1 - q0)
    if sc.drop_at_margin:  # dropped rate q0(1−q0) + d(1−q0)²: exactly the gate's margin above the floor
        drop = plan.gates.for_comparator("tool_calls_dropped").margin / (1 - q0) ** 2
    tr = SimTraffic()
    store = MemoryRampStore()
    clock = [0.0]
    ctl = RampController(plan, store, SimEvidence(tr), clock=lambda: clock[0], noise_lookback_seconds=10 ** 9)

    def answer() -> int:
        if rng.random() >= q:
            return 1
        return noisy if noisy is not None else rng.choice((0, 2))

    def dropped(a: int, b: int) -> bool:
        return a > 0 and b == 0

    # Noise floor already measured during the shadow phase before the ramp starts.
    for s in range(noise_prior):
        a, b = answer(), answer()
        tr.add_noise(-noise_prior + s, a != b, a != b, dropped(a, b))
    clock[0] = 1.0
    ctl.command("start")
    reached: int | None = None
    for i in range(1, horizon + 1):
        clock[0] = 1.0 + i
        p, c = answer(), answer()
        if rng.random() < wrong_tool:
            c = 2 if p != 2 else 1
        if rng.random() < drop:
            c = 0
        jsonbad = rng.random() < sc.invalid_json
        trunc = rng.random() < sc.truncate
        tool = p != c or trunc  # a cut answer loses the tool call's arguments
        struct = tool or jsonbad
        lp = rng.lognormvariate(math.log(800), 0.35)
        lc = rng.lognormvariate(math.log(800 * sc.latency_factor), 0.35)
        tr.add(clock[0], struct, tool, dropped(p, c), jsonbad, lp, lc, f"pair-{i}")
        if rng.random() < noise_share:
            a = answer()
            tr.add_noise(clock[0], a != p, a != p, dropped(p, a))
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


def _binom_tail(n: int, p: float, k: int) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    return min(1.0, sum(math.exp(math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * lp
                                 + (n - j) * lq) for j in range(k, n + 1)))


def np_power(n: int, p_null: float, p_alt: float, alpha: float = 0.01) -> float:
    """Power of the most powerful level-α test of p_null against p_alt from n Bernoulli pairs in one look."""
    k = next(k for k in range(n + 2) if _binom_tail(n, p_null, k) <= alpha)
    return _binom_tail(n, p_alt, k)


def sprt_power(n: int, p_null: float, p_alt: float, alpha: float = 0.01) -> float:
    """P(Wald's SPRT of p_null against p_alt, looking after every pair, rejects within n pairs) under p_alt: the
    best a test that may stop at any look does when it knows both rates (exact, over the count of bad pairs)."""
    a, b, need = math.log(p_alt / p_null), math.log((1 - p_alt) / (1 - p_null)), math.log(1 / alpha)
    alive, hit = {0: 1.0}, 0.0
    for k in range(1, n + 1):
        nxt: dict[int, float] = {}
        for x, pr in alive.items():
            for x2, w in ((x + 1, p_alt), (x, 1 - p_alt)):
                if x2 * a + (k - x2) * b >= need:
                    hit += pr * w
                else:
                    nxt[x2] = nxt.get(x2, 0.0) + pr * w
        alive = nxt
    return hit


def measured_floor_power(n1: int, n2: int, p_null: float, p_alt: float, alpha: float = 0.01) -> float:
    """Power of the most powerful unbiased one-look test of 'the candidate's rate equals the floor' when the floor
    is not known but measured on n2 pairs of its own (Fisher's conditional test, randomized at its boundary: given
    the K bad pairs of both samples, the candidate's share is hypergeometric whatever the floor, so the test is
    exact at level α for every floor; uniformly most powerful among unbiased tests, Lehmann & Romano, Testing
    Statistical Hypotheses, §4.5). The candidate has p_alt on n1 pairs, the floor p_null on n2: what no unbiased
    test on these pairs beats, however it treats the floor's uncertainty."""
    def lc(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    def lp(n: int, p: float, k: int) -> float:
        return lc(n, k) + k * math.log(p) + (n - k) * math.log1p(-p)

    mu = n1 * p_alt + n2 * p_null
    power = 0.0
    for total in range(min(n1 + n2, int(mu + 12 * math.sqrt(mu) + 20)) + 1):
        tail, x = 0.0, min(total, n1)
        while x >= max(0, total - n2):  # from the candidate's largest share down, until α is spent
            h = math.exp(lc(n1, x) + lc(n2, total - x) - lc(n1 + n2, total))
            joint = math.exp(lp(n1, p_alt, x) + lp(n2, p_null, total - x))
            if tail + h > alpha:
                power += (alpha - tail) / h * joint
                break
            tail += h
            power += joint
            x -= 1
    return power


def ceilings(p0: float, n: int, noise_kind: str, noise_pairs: int, pts: float = 0.03
             ) -> dict[str, tuple[float, float, float]]:
    """{"drop"|"wrong": (Neyman-Pearson ceiling, SPRT ceiling, measured-floor ceiling)} at noise floor p0 for a
    `pts`-point degradation (the rates of `simulate`), the floor measured on `noise_pairs` pairs for the last."""
    q = (1 - math.sqrt(1 - 2 * p0)) / 2
    q0 = {"presence": q, "choice": 0.0}.get(noise_kind, q / 2)  # P(the primary answers in prose)
    d = pts / (1 - q0)
    rates = {"drop": (max(q0 * (1 - q0), 1e-6), (1 - q0) * (d + (1 - d) * q0)), "wrong": (p0, p0 + pts * (1 - p0))}
    return {k: (np_power(n, a, b), sprt_power(n, a, b), measured_floor_power(n, noise_pairs, a, b))
            for k, (a, b) in rates.items()}


def _one(job: tuple) -> RunResult:
    sc, seed, plan, p0, args = job
    return simulate(sc, seed, plan, p0, args.noise_share, args.noise_prior, args.horizon, args.tick_every,
                    args.watch_after_gate, args.noise_kind)


def run_scenarios(runs: int, p0: float, args: argparse.Namespace, plan: RampPlan, pool=None) -> list[dict]:
    rows = []
    for sc in SCENARIOS:
        if args.scenarios and sc.name not in args.scenarios:
            continue
        jobs = [(sc, 1000 * k + 7, plan, p0, args) for k in range(runs)]
        res = list(pool.map(_one, jobs, chunksize=4)) if pool is not None else [_one(j) for j in jobs]
        rb = sorted(r.requests for r in res if r.rolled_back)
        within = sum(1 for n in rb if n <= args.within)
        decided = [r.requests for r in res if r.rolled_back or r.reason.startswith("reached")]
        k95 = math.ceil(0.95 * runs)
        rows.append({
            "scenario": sc.name, "noise_floor": p0, "runs": runs, "evaluate_every_s": args.evaluate_every_now,
            "rollback_rate": len(rb) / runs,
            "rolled_back_within": within / runs,
            "requests_for_95pct": rb[k95 - 1] if len(rb) >= k95 else None,
            "reached_approval_gate": sum(r.reason.startswith("reached") for r in res) / runs,
            "median_requests_to_decide": statistics.median(decided) if decided else None,
            "median_requests_to_rollback": statistics.median(rb) if rb else None,
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="40 runs, noise 1%%, every 5 s")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--noise", type=float, nargs="*", default=None,
                    help="primary-vs-primary tool-call disagreement rates to sweep (default 0.01 0.02)")
    ap.add_argument("--noise-share", type=float, default=0.1, help="share of requests asked of the primary twice")
    ap.add_argument("--noise-prior", type=int, default=2000, help="noise pairs measured before the ramp starts")
    ap.add_argument("--noise-kind", choices=["presence", "mixed", "choice"], default="presence",
                    help="the primary's noisy answer: prose instead of its tool call (presence: the dropped-call "
                         "gate's floor is p0/2, its hardest case), another tool (choice: it never drops a call), "
                         "or either (mixed: floor p0/4)")
    ap.add_argument("--scenarios", nargs="*", default=None, help="only these scenarios (default: all)")
    ap.add_argument("--within", type=int, default=500)
    ap.add_argument("--horizon", type=int, default=3000)
    ap.add_argument("--watch-after-gate", type=int, default=1000,
                    help="compared requests the equal candidate keeps being gated while awaiting approval")
    ap.add_argument("--rate", type=float, default=1.0, help="compared requests per simulated second")
    ap.add_argument("--evaluate-every", type=float, nargs="*", default=None,
                    help="seconds between controller evaluations to sweep (default 1 5 30)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--live", action="store_true", help="through the real proxy and fake upstreams")
    args = ap.parse_args(argv)
    if args.live:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from live import main as live_main  # type: ignore[import-not-found]

        return live_main(args)
    runs = 40 if args.quick else args.runs
    noise = args.noise or ([0.01] if args.quick else [0.01, 0.02])
    every = args.evaluate_every or ([5.0] if args.quick else [1.0, 5.0, 30.0])
    plan = RampPlan(min_step_seconds=0, evaluate_every_seconds=1, hold_record_seconds=10 ** 9)
    alpha = 1 - plan.gates.disagreement.fail_confidence
    alpha_drop = 1 - plan.gates.for_comparator("tool_calls_dropped").fail_confidence
    started = time.perf_counter()
    rows = []
    pool = ProcessPoolExecutor(args.jobs) if args.jobs > 1 else None
    try:
        for e in every:
            args.evaluate_every_now = e
            args.tick_every = max(1, round(e * args.rate))
            for p0 in noise:
                rows += run_scenarios(runs, p0, args, plan, pool)
    finally:
        if pool is not None:
            pool.shutdown()
    elapsed = time.perf_counter() - started
    print(f"ramp decision quality: {runs} seeded runs per scenario (seeds 1000k+7); requests = compared pairs at "
          f"{args.rate:g}/s; noise pairs: {args.noise_prior} before the ramp + {args.noise_share:.0%} of requests; "
          f"{elapsed:.1f}s")
    head = (f"{'every':>6} {'scenario':<18}{'noise':>7}{'rollback':>10}{'≤' + str(args.within):>8}{'95% by':>8}"
            f"{'approval':>10}{'median n':>10}")
    print(head)
    for r in rows:
        med, k95 = r["median_requests_to_decide"], r["requests_for_95pct"]
        print(f"{r['evaluate_every_s']:>5g}s {r['scenario']:<18}{r['noise_floor']:>7.1%}{r['rollback_rate']:>10.1%}"
              f"{r['rolled_back_within']:>8.1%}{(str(k95) if k95 is not None else '-'):>8}"
              f"{r['reached_approval_gate']:>10.1%}{(f'{med:.0f}' if med is not None else '-'):>10}")
    summary = ["equal", "at_margin", "drop_at_margin", "tool_drop_3pt", "wrong_tool_3pt"]
    for e in every:
        for p0 in noise:
            sub = {r["scenario"]: r for r in rows if r["noise_floor"] == p0 and r["evaluate_every_s"] == e}
            if not all(k in sub for k in summary):
                continue  # --scenarios left one out: the table above is all there is
            det, wrong = sub["tool_drop_3pt"]["rolled_back_within"], sub["wrong_tool_3pt"]["rolled_back_within"]
            fr, edge = sub["equal"]["rollback_rate"], sub["at_margin"]["rollback_rate"]
            edge_drop = sub["drop_at_margin"]["rollback_rate"]
            ceil = ceilings(p0, args.within, args.noise_kind, args.noise_prior + round(args.noise_share * args.within))
            print(f"every {e:g}s, noise {p0:.1%} ({args.noise_kind}): false rollback {fr:.1%} "
                  f"(≤ 1%: {'met' if fr <= 0.01 else 'NOT met'}); "
                  f"at the margin {edge:.1%} (≤ {alpha:.0%}: {'met' if edge <= alpha else 'NOT met'}), dropped calls "
                  f"{edge_drop:.1%} (≤ {alpha_drop:.0%}: {'met' if edge_drop <= alpha_drop else 'NOT met'}); "
                  f"3-pt tool-call drop within {args.within}: {det:.1%} (≥ 95%: {'met' if det >= 0.95 else 'NOT met'}; "
                  f"ceilings {ceil['drop'][0]:.1%} / {ceil['drop'][1]:.1%} / {ceil['drop'][2]:.1%}); 3 pts more wrong "
                  f"tool names: {wrong:.1%} (ceilings {ceil['wrong'][0]:.1%} / {ceil['wrong'][1]:.1%} / "
                  f"{ceil['wrong'][2]:.1%})")
    print(f"ceilings = the power of the most powerful test there is (Neyman-Pearson: one look after {args.within} "
          "pairs, the noise floor known exactly, false rollback of the equal candidate 1%) / of Wald's SPRT knowing "
          "both rates and looking after every pair / of the best one-look test when the floor is not known but "
          f"measured on the noise pairs at hand ({args.noise_prior} + {args.noise_share:.0%} of {args.within}; "
          "Fisher's conditional test, exact whatever the floor): no gate on the same pairs beats the first, nor "
          "one that may stop at any look the second, nor an unbiased one valid whatever the floor the third")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "elapsed_s": elapsed, "args": {
            k: v for k, v in vars(args).items() if k != "json"}}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
