"""Statistical gates for the ramp: is the candidate as good as the primary, up to the primary's own noise?

Every gate returns pass / hold / fail with the figures behind it, and every bound is a *confidence sequence*
(`shadow.ramp.sequential`): it holds at every evaluation at once, so the controller may look every second
without rolling back an equal candidate by chance. Proportion gates (disagreement against the noise floor,
invalid JSON and errors against the primary's own rate) use a one-sided mixture SPRT on the difference of
proportions; latency gates bound the p95 of each side from order statistics; the cost gate bounds the mean
per-request cost difference of paired requests and, when the two sides cost the same, lets the dated price tables
decide. A metric with fewer than its minimum samples holds: no data is never a pass.

Each result carries what a reader (or the dashboard) needs to check it: the estimate, the bounds, the
thresholds, the samples seen, an estimate of the samples still needed and the setting that governs the gate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from offramp.shadow.ramp.sequential import Mixture, TwoProportions, radius, samples_to_decide

PROPORTION_METHOD = "mixture SPRT on the excess (likelihood-ratio root, restricted-MLE information)"
QUANTILE_METHOD = "confidence sequence on the quantile (normal mixture on the rank)"
MEAN_METHOD = "asymptotic confidence sequence on the paired mean (normal mixture)"


class Outcome(str, Enum):
    passed = "pass"
    hold = "hold"
    fail = "fail"


_RANK = {Outcome.passed: 0, Outcome.hold: 1, Outcome.fail: 2}


def worst(outcomes: Sequence[Outcome]) -> Outcome:
    """A run is as bad as its worst metric (Argo's ordering); nothing measured means hold."""
    if not outcomes:
        return Outcome.hold
    return max(outcomes, key=_RANK.__getitem__)


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a mistyped gate key is an error, not a silently ignored setting


class ProportionGateConfig(_Config):
    """`margin` is the excess over the baseline rate that is tolerated: failing needs the lower bound of the excess
    above it at `fail_confidence`; passing needs the upper bound at or below `pass_margin` at `pass_confidence`.
    Both bounds are always valid: a candidate within `margin` of the baseline is rolled back with probability at
    most 1 − `fail_confidence`, however often the gates are evaluated."""

    min_samples: int = Field(100, ge=1)
    fail_confidence: float = Field(0.98, gt=0.5, lt=1.0)
    pass_confidence: float = Field(0.90, gt=0.5, lt=1.0)
    margin: float = Field(0.0025, ge=0.0, le=1.0)
    pass_margin: float = Field(0.03, ge=0.0, le=1.0)
    min_baseline_samples: int = Field(30, ge=1)
    tuned_excess: float = Field(
        0.03, gt=0.0, le=1.0,
        description="the excess the sequential test catches fastest; larger and smaller ones are caught too, "
                    "small ones later")
    tuned_weight: float = Field(
        0.5, gt=0.0, lt=1.0,
        description="share of the failing test's mixture on `tuned_excess` itself (the rest spreads over every "
                    "excess): more catches that excess sooner, others later")

    def fail_mixture(self) -> Mixture:
        return Mixture(point=max(self.tuned_excess - self.margin, 1e-4), scale=self.tuned_excess,
                       weight=self.tuned_weight)

    def pass_mixture(self) -> Mixture:
        # Passing is tuned for a candidate at the baseline, i.e. `pass_margin` below the pass threshold.
        d = max(self.pass_margin, 1e-4)
        return Mixture(point=d, scale=d, weight=0.5)


class RatioGateConfig(_Config):
    """Candidate statistic / primary statistic must stay at or below `max_ratio` (bounds at `confidence` each)."""

    min_samples: int = Field(50, ge=1)
    max_ratio: float = Field(1.5, gt=0.0)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    quantile: float = Field(0.95, gt=0.0, lt=1.0)
    tune_samples: int = Field(200, ge=1, description="sample count at which the confidence sequence is tightest")


class CostGateConfig(RatioGateConfig):
    """Cost per request: the candidate passes when it is not more expensive than `max_ratio` × the primary."""

    max_ratio: float = Field(1.0, gt=0.0)
    equal_within: float = Field(
        0.05, ge=0.0, lt=1.0,
        description="sample costs within this fraction of the allowed cost count as equal: the dated price "
                    "tables, averaged over the coming week, decide")


class GateConfig(_Config):
    disagreement: ProportionGateConfig = ProportionGateConfig()
    per_comparator: dict[str, ProportionGateConfig] = {}
    json_validity: ProportionGateConfig = ProportionGateConfig(pass_margin=0.02)
    error_rate: ProportionGateConfig = ProportionGateConfig(pass_margin=0.02, margin=0.005)
    latency: RatioGateConfig = RatioGateConfig(max_ratio=2.0)
    ttft: RatioGateConfig = RatioGateConfig(max_ratio=2.0)
    cost: CostGateConfig = CostGateConfig()
    dry_run: list[str] = Field(default_factory=list, description="metrics evaluated and recorded, never blocking")
    advisory: list[str] = Field(
        default_factory=lambda: _defaults().ADVISORY.copy(),
        description="metric-name patterns shown with their verdict but never blocking, because the ramp does not "
                    "serve what they measure (embeddings: the ramp serves chat completions only)",
    )
    optional: list[str] = Field(
        default_factory=lambda: ["json_validity", "ttft", "cost"],
        description="metrics that are not applicable (skipped) when neither side has any data, e.g. TTFT "
                    "without streaming traffic; every other metric holds the ramp until it has data",
    )

    @field_validator("cost", mode="before")
    @classmethod
    def _cost(cls, v):
        # A plain RatioGateConfig (the type before the cost gate had its own) is still accepted.
        return v.model_dump() if isinstance(v, RatioGateConfig) and not isinstance(v, CostGateConfig) else v

    def for_comparator(self, name: str) -> ProportionGateConfig:
        """The comparator's own table, else its row in shadow.ramp.comparator_gates (a table, or tuning applied to
        `disagreement`), else `disagreement`."""
        return self.per_comparator.get(name) or _defaults().default_for(name, self.disagreement) or self.disagreement

    def comparator_setting(self, name: str) -> str:
        if name in self.per_comparator or _defaults().own_table(name) is not None:
            return f"ramp.gates.per_comparator.{name}"
        return "ramp.gates.disagreement"


def _defaults():
    from offramp.shadow.ramp import comparator_gates  # imports this module: looked up when first needed

    return comparator_gates


class Proportion(BaseModel):
    """`bad` events out of `n` trials, with a few example pair ids that showed the event."""

    bad: int = Field(0, ge=0)
    n: int = Field(0, ge=0)
    pair_ids: list[str] = Field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.bad / self.n if self.n else 0.0


class ComparatorEvidence(BaseModel):
    """Disagreements of candidate-vs-primary and of primary-vs-primary′ (the noise floor) for one comparator."""

    candidate: Proportion = Proportion()
    noise: Proportion = Proportion()


class CostProjection(BaseModel):
    """The compared requests' tokens priced at each side's dated list prices, averaged over the coming week
    (time-of-day windows included): what the two sides would cost per request at 100% of traffic."""

    primary_usd: float
    candidate_usd: float
    pairs: int
    basis: str = ""

    @property
    def ratio(self) -> float | None:
        return self.candidate_usd / self.primary_usd if self.primary_usd > 0 else None


class Evidence(BaseModel):
    """Everything the gates look at, aggregated over a window (and across replicas, by the store).

    `cost_candidate[i]` and `cost_primary[i]` are the two sides of the same request (pairs priced on both sides)."""

    comparators: dict[str, ComparatorEvidence] = Field(default_factory=dict)
    json_invalid_candidate: Proportion = Proportion()
    json_invalid_primary: Proportion = Proportion()
    errors_candidate: Proportion = Proportion()
    errors_primary: Proportion = Proportion()
    latency_candidate: list[float] = Field(default_factory=list)
    latency_primary: list[float] = Field(default_factory=list)
    ttft_candidate: list[float] = Field(default_factory=list)
    ttft_primary: list[float] = Field(default_factory=list)
    cost_candidate: list[float] = Field(default_factory=list)
    cost_primary: list[float] = Field(default_factory=list)
    cost_projection: CostProjection | None = None


class MetricResult(BaseModel):
    """One gate's verdict. The typed fields are the decision record the dashboard reads; `figures` keeps the
    per-kind details (rates, quantiles, means)."""

    name: str
    kind: str
    outcome: Outcome
    reason: str
    figures: dict[str, float | int | None] = Field(default_factory=dict)
    pair_ids: list[str] = Field(default_factory=list)
    dry_run: bool = False
    applicable: bool = True
    estimate: float | None = Field(None, description="excess over the baseline (proportions) or candidate/primary "
                                                    "ratio (latency, cost)")
    lower: float | None = Field(None, description="confidence-sequence lower bound, at fail_confidence")
    upper: float | None = Field(None, description="confidence-sequence upper bound, at pass_confidence")
    fail_above: float | None = Field(None, description="the gate fails when `lower` is above this")
    pass_at_most: float | None = Field(None, description="the gate passes when `upper` is at or below this")
    fail_confidence: float | None = None
    pass_confidence: float | None = None
    samples: int = Field(0, description="candidate samples seen")
    baseline_samples: int = Field(0, description="noise-floor or primary samples seen")
    min_samples: int = 0
    samples_needed: int | None = Field(
        None, description="more candidate samples until the gate decides, at today's estimates (0 = decided; "
                          "None = not in sight: the estimate sits on a threshold)")
    setting: str = Field("", description="the config table governing this gate, e.g. ramp.gates.cost")
    method: str = ""


class GateReport(BaseModel):
    outcome: Outcome
    reasons: list[str]
    metrics: list[MetricResult]

    @property
    def pair_ids(self) -> list[str]:
        seen: dict[str, None] = {}
        for m in self.metrics:
            if m.outcome is not Outcome.passed:
                for pid in m.pair_ids:
                    seen.setdefault(pid, None)
        return list(seen)

    @property
    def blocking(self) -> list[MetricResult]:
        return [m for m in self.metrics if m.applicable and not m.dry_run]


# -- proportions -------------------------------------------------------------------------------------------------


def excess_bounds(cand: Proportion, base: Proportion, confidence: float,
                  cfg: ProportionGateConfig | None = None) -> tuple[float, float, float]:
    """(estimate, lower, upper) of cand.rate − base.rate: always-valid bounds, each at `confidence`."""
    if not cand.n or not base.n:
        return cand.rate - base.rate, -1.0, 1.0
    cfg = cfg or ProportionGateConfig()
    t = TwoProportions(cand.bad, cand.n, base.bad, base.n)
    alpha = 1.0 - confidence
    return t.estimate, t.lower(alpha, cfg.fail_mixture()), t.upper(alpha, cfg.pass_mixture())


def proportion_gate(
    name: str, kind: str, cand: Proportion, base: Proportion, cfg: ProportionGateConfig, base_label: str,
    setting: str = "", detail: bool = True,
) -> MetricResult:
    a_fail, a_pass = 1.0 - cfg.fail_confidence, 1.0 - cfg.pass_confidence
    mf, mp = cfg.fail_mixture(), cfg.pass_mixture()
    figures: dict[str, float | int | None] = {
        "candidate_rate": round(cand.rate, 6), "candidate_n": cand.n,
        f"{base_label}_rate": round(base.rate, 6), f"{base_label}_n": base.n,
        "excess": round(cand.rate - base.rate, 6), "margin": cfg.margin, "pass_margin": cfg.pass_margin,
    }
    res = MetricResult(
        name=name, kind=kind, outcome=Outcome.hold, reason="", figures=figures, pair_ids=cand.pair_ids,
        estimate=round(cand.rate - base.rate, 6) if cand.n and base.n else None,
        fail_above=cfg.margin, pass_at_most=cfg.pass_margin, fail_confidence=cfg.fail_confidence,
        pass_confidence=cfg.pass_confidence, samples=cand.n, baseline_samples=base.n, min_samples=cfg.min_samples,
        setting=setting, method=PROPORTION_METHOD,
    )
    figures = res.figures  # the model holds its own copy
    head = f"{name}: candidate {cand.rate:.2%} of {cand.n} vs {base_label} {base.rate:.2%} of {base.n}"
    if cand.n < cfg.min_samples or base.n < cfg.min_baseline_samples:
        res.samples_needed = max(cfg.min_samples - cand.n, 0)
        short = []
        if cand.n < cfg.min_samples:
            short.append(f"{cfg.min_samples} candidate")
        if base.n < cfg.min_baseline_samples:
            short.append(f"{cfg.min_baseline_samples} {base_label}")
        res.reason = f"{head}: too few samples (need {' and '.join(short)}; {setting}.min_samples)"
        return res
    t = TwoProportions(cand.bad, cand.n, base.bad, base.n)
    fails, passes = t.above(cfg.margin, a_fail, mf), t.below(cfg.pass_margin, a_pass, mp)
    if not detail:  # the outcome only (bounds and projections are for records and status)
        res.outcome = Outcome.fail if fails else Outcome.passed if passes else Outcome.hold
        res.reason = f"{head}: {res.outcome.value}"
        return res
    lo, hi = t.lower(a_fail, mf), t.upper(a_pass, mp)
    res.lower, res.upper = round(lo, 6), round(hi, 6)
    figures.update(excess_lower=res.lower, excess_upper=res.upper,
                   p_value=round(min(1.0, math.exp(-max(t.evidence_above(cfg.margin, mf), 0.0))), 6))
    always = "always-valid"
    if fails:
        res.outcome, res.samples_needed = Outcome.fail, 0
        res.reason = (f"{head}: excess ≥ {lo:+.2%} ({always}, {cfg.fail_confidence:.0%}), above margin "
                      f"{cfg.margin:.2%}")
        return res
    if passes:
        res.outcome, res.samples_needed, res.pair_ids = Outcome.passed, 0, []
        res.reason = (f"{head}: excess ≤ {hi:+.2%} ({always}, {cfg.pass_confidence:.0%}; allowed "
                      f"{cfg.pass_margin:.2%})")
        return res
    res.samples_needed = samples_to_decide(
        lambda f: t.scaled(f).above(cfg.margin, a_fail, mf) or t.scaled(f).below(cfg.pass_margin, a_pass, mp),
        cand.n)
    res.reason = f"{head}: inconclusive (excess between {lo:+.2%} and {hi:+.2%}){_needs(res)}"
    return res


def _needs(r: MetricResult) -> str:
    if r.samples_needed is None:
        return f"; no decision in sight at these rates ({r.setting})"
    return f"; ~{r.samples_needed} more samples at these rates ({r.setting})"


# -- quantiles ---------------------------------------------------------------------------------------------------


def quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def quantile_bounds(s: Sequence[float], q: float, confidence: float, tune_samples: int = 200,
                    scale: float = 1.0) -> tuple[float, float]:
    """Always-valid bounds of the q-quantile from the order statistics of the sorted sample `s`: the count of
    observations below the quantile is Binomial(n, q), and a normal-mixture confidence sequence on that count gives
    the ranks. `scale` > 1 projects the bounds for scale × n samples from the same distribution. The lower bound
    is 0 and the upper +inf while the rank falls outside the sample (too few samples to bound that side)."""
    n = len(s) * scale
    r = math.sqrt(q * (1 - q)) * radius(n, 1.0 - confidence, tune_samples)
    lo_rank, hi_rank = math.floor(n * q - r), math.floor(n * q + r) + 1  # 1-based ranks among n
    lo = s[min(len(s), math.ceil(lo_rank / scale)) - 1] if lo_rank >= 1 else 0.0
    hi = s[max(1, math.ceil(hi_rank / scale)) - 1] if hi_rank <= n else math.inf
    return lo, hi


def _ratio_bounds(sc: Sequence[float], sp: Sequence[float], cfg: RatioGateConfig, scale: float = 1.0):
    c_lo, c_hi = quantile_bounds(sc, cfg.quantile, cfg.confidence, cfg.tune_samples, scale)
    p_lo, p_hi = quantile_bounds(sp, cfg.quantile, cfg.confidence, cfg.tune_samples, scale)
    ratio_lo = c_lo / p_hi if p_hi > 0 else 0.0
    ratio_hi = c_hi / p_lo if p_lo > 0 else math.inf
    return ratio_lo, ratio_hi


def quantile_ratio_gate(
    name: str, cand: Sequence[float], prim: Sequence[float], cfg: RatioGateConfig, setting: str = "",
    detail: bool = True,
) -> MetricResult:
    q = cfg.quantile
    sc, sp = sorted(cand), sorted(prim)
    figures: dict[str, float | int | None] = {
        "candidate_n": len(sc), "primary_n": len(sp), "max_ratio": cfg.max_ratio, "quantile": q,
        "candidate_q": quantile(sc, q), "primary_q": quantile(sp, q),
    }
    label = f"{name} p{round(q * 100)}"
    res = MetricResult(name=name, kind="ratio", outcome=Outcome.hold, reason="", figures=figures,
                       fail_above=cfg.max_ratio, pass_at_most=cfg.max_ratio, fail_confidence=cfg.confidence,
                       pass_confidence=cfg.confidence, samples=len(sc), baseline_samples=len(sp),
                       min_samples=cfg.min_samples, setting=setting, method=QUANTILE_METHOD)
    figures = res.figures
    if len(sc) < cfg.min_samples or len(sp) < cfg.min_samples:
        res.samples_needed = max(cfg.min_samples - min(len(sc), len(sp)), 0)
        res.reason = (f"{label}: too few samples ({len(sc)} candidate, {len(sp)} primary; need {cfg.min_samples}; "
                      f"{setting}.min_samples)")
        return res
    cq, pq = figures["candidate_q"], figures["primary_q"]
    ratio = cq / pq if pq else math.inf  # type: ignore[operator]
    ratio_lo, ratio_hi = _ratio_bounds(sc, sp, cfg)
    res.estimate, res.lower, res.upper = _r(ratio), _r(ratio_lo), _r(ratio_hi)
    figures.update(ratio=_r(ratio), ratio_lower=_r(ratio_lo), ratio_upper=_r(ratio_hi))
    head = f"{label}: candidate {cq:.1f} vs primary {pq:.1f} (×{ratio:.2f})"
    if ratio_lo > cfg.max_ratio:
        res.outcome, res.samples_needed = Outcome.fail, 0
        res.reason = f"{head}: ratio ≥ {ratio_lo:.2f} (always-valid) above the allowed ×{cfg.max_ratio:g}"
        return res
    if ratio_hi <= cfg.max_ratio:
        res.outcome, res.samples_needed = Outcome.passed, 0
        res.reason = f"{head}: ratio ≤ {ratio_hi:.2f} (always-valid) within ×{cfg.max_ratio:g}"
        return res
    if not detail:
        res.reason = f"{head}: hold"
        return res

    def decides(f: float) -> bool:
        lo, hi = _ratio_bounds(sc, sp, cfg, f)
        return lo > cfg.max_ratio or hi <= cfg.max_ratio

    res.samples_needed = samples_to_decide(decides, len(sc))
    hi_txt = "∞ (too few samples above the quantile)" if math.isinf(ratio_hi) else f"{ratio_hi:.2f}"
    res.reason = f"{head}: inconclusive (ratio between {ratio_lo:.2f} and {hi_txt}){_needs(res)}"
    return res


# -- cost --------------------------------------------------------------------------------------------------------


def _mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    n = len(xs)
    m = sum(xs) / n
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / max(n - 1, 1))


def cost_gate(name: str, cand: Sequence[float], prim: Sequence[float], cfg: CostGateConfig,
              projection: CostProjection | None = None, setting: str = "", detail: bool = True) -> MetricResult:
    """Paired per-request cost: d = candidate − max_ratio·primary on the same request.

    Fails when d's lower bound is above the tolerance band (more expensive than allowed), passes when its upper
    bound is at or below 0 (cheaper). When both bounds sit within ±`equal_within` of the allowed cost the samples
    cost the same — gpt-4o-mini and deepseek-flash list the same off-peak price — and waiting cannot separate
    them: the dated price tables, averaged over the coming week (`projection`), decide; without a projection, equal
    is not more expensive and passes."""
    k = cfg.max_ratio
    n = min(len(cand), len(prim))
    mc = sum(cand[:n]) / n if n else None
    mp = sum(prim[:n]) / n if n else None
    figures: dict[str, float | int | None] = {
        "candidate_n": n, "primary_n": n, "candidate_mean": _r(mc), "primary_mean": _r(mp), "max_ratio": k,
        "equal_within": cfg.equal_within,
    }
    res = MetricResult(name=name, kind="ratio", outcome=Outcome.hold, reason="", figures=figures,
                       fail_above=k, pass_at_most=k, fail_confidence=cfg.confidence, pass_confidence=cfg.confidence,
                       samples=n, baseline_samples=n, min_samples=cfg.min_samples, setting=setting,
                       method=MEAN_METHOD)
    figures = res.figures
    if projection is not None:
        figures.update(projected_candidate=_r(projection.candidate_usd), projected_primary=_r(projection.primary_usd),
                       projected_ratio=_r(projection.ratio))
    if n < cfg.min_samples:
        res.samples_needed = cfg.min_samples - n
        res.reason = (f"{name}: too few samples ({n} requests priced on both sides; need {cfg.min_samples}; "
                      f"{setting}.min_samples)")
        return res
    assert mc is not None and mp is not None
    d = [c - k * p for c, p in zip(cand[:n], prim[:n], strict=True)]
    md, sd = _mean_sd(d)
    alpha = 1.0 - cfg.confidence

    def bounds(f: float) -> tuple[float, float]:
        h = sd * radius(n * f, alpha, cfg.tune_samples) / (n * f)
        return md - h, md + h

    lo, hi = bounds(1.0)
    ratio = mc / mp if mp else (1.0 if mc == 0 else math.inf)
    band = cfg.equal_within * k * mp
    res.estimate = _r(ratio)
    if mp > 0:
        res.lower, res.upper = _r(k + lo / mp), _r(k + hi / mp)
    figures.update(ratio=_r(ratio), ratio_lower=res.lower, ratio_upper=res.upper)
    head = f"{name}: candidate {mc:.6f} vs primary {mp:.6f} per request (×{ratio:.2f})"
    if lo > band:
        res.outcome, res.samples_needed = Outcome.fail, 0
        res.reason = f"{head}: more expensive than the allowed ×{k:g} (always-valid, {cfg.confidence:.0%})"
        return res
    if lo >= -band and hi <= band:
        res.samples_needed = 0
        pr = projection.ratio if projection is not None else None
        if pr is None:
            res.outcome = Outcome.passed
            res.reason = (f"{head}: the samples cost the same as ×{k:g} (within ±{cfg.equal_within:.0%}); "
                          "no price table covers both models, so equal passes")
        elif pr <= k * (1 + cfg.equal_within):
            res.outcome = Outcome.passed
            res.reason = (f"{head}: the samples cost the same; at the dated price tables over the coming week "
                          f"the candidate costs ×{pr:.2f} — not more than the allowed ×{k:g}")
        else:
            res.outcome = Outcome.fail
            res.reason = (f"{head}: the samples cost the same, but at the dated price tables over the coming week "
                          f"the candidate costs ×{pr:.2f} (time-of-day prices included), above the allowed ×{k:g} "
                          f"({setting}.max_ratio)")
        return res
    if hi <= 0:
        res.outcome, res.samples_needed = Outcome.passed, 0
        res.reason = f"{head}: cheaper than the allowed ×{k:g} (always-valid, {cfg.confidence:.0%})"
        return res
    if not detail:
        res.reason = f"{head}: hold"
        return res

    def decides(f: float) -> bool:
        a, b = bounds(f)
        return a > band or b <= 0 or (a >= -band and b <= band)

    res.samples_needed = samples_to_decide(decides, n)
    res.reason = (f"{head}: inconclusive (×{res.lower if res.lower is not None else 0:.2f} to "
                  f"×{res.upper if res.upper is not None else 0:.2f} against ×{k:g}){_needs(res)}")
    return res


def mean_ratio_gate(name: str, cand: Sequence[float], prim: Sequence[float], cfg: RatioGateConfig) -> MetricResult:
    """The cost gate without a price-table projection (kept for callers of the previous name)."""
    c = cfg if isinstance(cfg, CostGateConfig) else CostGateConfig(**cfg.model_dump())
    return cost_gate(name, cand, prim, c)


def _r(x: float | None) -> float | None:
    if x is None or math.isinf(x) or math.isnan(x):
        return None
    return round(x, 6)


def evaluate(ev: Evidence, cfg: GateConfig | None = None, detail: bool = True) -> GateReport:
    """Run every gate over the evidence; the report's outcome is the worst non-dry-run metric.

    `detail=False` computes the outcomes only (the same outcomes): the controller's cheap per-tick look, redone
    in full whenever it records a decision."""
    cfg = cfg or GateConfig()
    results: list[MetricResult] = []
    if not ev.comparators:
        # Errors and latency alone say nothing about answer quality: without a single comparison the
        # candidate has not been shown to agree with the primary, so the ramp holds.
        results.append(MetricResult(name="agreement", kind="disagreement", outcome=Outcome.hold,
                                    reason="agreement: no comparisons of candidate and primary yet",
                                    setting="ramp.gates.disagreement", min_samples=cfg.disagreement.min_samples,
                                    samples_needed=cfg.disagreement.min_samples))
    for name in sorted(ev.comparators):
        c = ev.comparators[name]
        results.append(proportion_gate(name, "disagreement", c.candidate, c.noise, cfg.for_comparator(name),
                                       "noise", cfg.comparator_setting(name), detail))
    results.append(proportion_gate("json_validity", "invalid_json", ev.json_invalid_candidate,
                                   ev.json_invalid_primary, cfg.json_validity, "primary", "ramp.gates.json_validity",
                                   detail))
    results.append(proportion_gate("error_rate", "errors", ev.errors_candidate, ev.errors_primary,
                                   cfg.error_rate, "primary", "ramp.gates.error_rate", detail))
    results.append(quantile_ratio_gate("latency", ev.latency_candidate, ev.latency_primary, cfg.latency,
                                       "ramp.gates.latency", detail))
    results.append(quantile_ratio_gate("ttft", ev.ttft_candidate, ev.ttft_primary, cfg.ttft, "ramp.gates.ttft",
                                       detail))
    results.append(cost_gate("cost", ev.cost_candidate, ev.cost_primary, cfg.cost, ev.cost_projection,
                             "ramp.gates.cost", detail))
    advisory = _defaults().matches
    for r in results:
        r.dry_run = r.name in cfg.dry_run
        if advisory(r.name, cfg.advisory):
            r.dry_run = True
            r.reason += " [advisory: never holds the ramp, which serves chat completions only; ramp.gates.advisory]"
        if r.name in cfg.optional and _empty(r):
            r.applicable, r.outcome, r.samples_needed = False, Outcome.passed, None
            r.reason = f"{r.name}: not applicable (no data on either side)"
    blocking = [r for r in results if not r.dry_run and r.applicable]
    outcome = worst([r.outcome for r in blocking])
    reasons = [r.reason for r in blocking if r.outcome is outcome] if outcome is not Outcome.passed else [
        "every gate passed"]
    return GateReport(outcome=outcome, reasons=reasons, metrics=results)


def _empty(r: MetricResult) -> bool:
    f = r.figures
    return not f.get("candidate_n") and not (f.get("primary_n") or f.get("noise_n"))


def diffy_reportable(raw: int, noise: int, total: int, relative: float = 20.0, absolute: float = 0.03) -> bool:
    """Diffy's display filter (percent thresholds, strict): show a field only when raw clearly exceeds noise.
    Used to filter what the report shows, never to gate."""
    if total <= 0 or raw <= noise:
        return False
    return abs(raw - noise) / (raw + noise) * 100 > relative and abs(raw - noise) / total * 100 > absolute
