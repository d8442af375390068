"""Statistical gates for the ramp: is the candidate as good as the primary, up to the primary's own noise?

Every gate returns pass / hold / fail with the figures behind it. Proportion gates use a one-sided test on the
difference of proportions (Agresti-Caffo adjusted, so zero counts at small n do not give a zero standard error);
latency gates compare distribution-free confidence bounds of the p95 on each side; the cost gate uses a CLT bound
on mean cost per request. A metric with fewer than its minimum samples holds: no data is never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from enum import Enum
from statistics import NormalDist

from pydantic import BaseModel, Field

_N = NormalDist()


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


class ProportionGateConfig(BaseModel):
    """`margin` is the excess over the baseline rate that is tolerated; failing needs the lower confidence bound
    of the excess above it at `fail_confidence`, passing needs the upper bound at or below `pass_margin`."""

    min_samples: int = Field(100, ge=1)
    fail_confidence: float = Field(0.98, gt=0.5, lt=1.0)
    pass_confidence: float = Field(0.90, gt=0.5, lt=1.0)
    margin: float = Field(0.0025, ge=0.0, le=1.0)
    pass_margin: float = Field(0.03, ge=0.0, le=1.0)
    min_baseline_samples: int = Field(30, ge=1)


class RatioGateConfig(BaseModel):
    """Candidate statistic / primary statistic must stay at or below `max_ratio`."""

    min_samples: int = Field(50, ge=1)
    max_ratio: float = Field(1.5, gt=0.0)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    quantile: float = Field(0.95, gt=0.0, lt=1.0)


class GateConfig(BaseModel):
    disagreement: ProportionGateConfig = ProportionGateConfig()
    per_comparator: dict[str, ProportionGateConfig] = {}
    json_validity: ProportionGateConfig = ProportionGateConfig(pass_margin=0.02)
    error_rate: ProportionGateConfig = ProportionGateConfig(pass_margin=0.02, margin=0.005)
    latency: RatioGateConfig = RatioGateConfig(max_ratio=2.0)
    ttft: RatioGateConfig = RatioGateConfig(max_ratio=2.0)
    cost: RatioGateConfig = RatioGateConfig(max_ratio=1.0, min_samples=50)
    dry_run: list[str] = Field(default_factory=list, description="metrics evaluated and recorded, never blocking")
    optional: list[str] = Field(
        default_factory=lambda: ["json_validity", "ttft", "cost"],
        description="metrics that are not applicable (skipped) when neither side has any data, e.g. TTFT "
                    "without streaming traffic; every other metric holds the ramp until it has data",
    )

    def for_comparator(self, name: str) -> ProportionGateConfig:
        return self.per_comparator.get(name, self.disagreement)


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


class Evidence(BaseModel):
    """Everything the gates look at, aggregated over a window (and across replicas, by the store)."""

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


class MetricResult(BaseModel):
    name: str
    kind: str
    outcome: Outcome
    reason: str
    figures: dict[str, float | int | None] = Field(default_factory=dict)
    pair_ids: list[str] = Field(default_factory=list)
    dry_run: bool = False
    applicable: bool = True


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


def excess_bounds(cand: Proportion, base: Proportion, confidence: float) -> tuple[float, float, float]:
    """(estimate, lower, upper) one-sided bounds at `confidence` of cand.rate − base.rate (Agresti-Caffo)."""
    z = _N.inv_cdf(confidence)
    pc = (cand.bad + 1) / (cand.n + 2)
    pb = (base.bad + 1) / (base.n + 2)
    se = math.sqrt(pc * (1 - pc) / (cand.n + 2) + pb * (1 - pb) / (base.n + 2))
    est = pc - pb
    return est, est - z * se, est + z * se


def one_sided_p(cand: Proportion, base: Proportion, margin: float) -> float:
    """p-value of H0: excess ≤ margin against H1: excess > margin."""
    pc = (cand.bad + 1) / (cand.n + 2)
    pb = (base.bad + 1) / (base.n + 2)
    se = math.sqrt(pc * (1 - pc) / (cand.n + 2) + pb * (1 - pb) / (base.n + 2))
    return 1.0 - _N.cdf((pc - pb - margin) / se)


def proportion_gate(
    name: str, kind: str, cand: Proportion, base: Proportion, cfg: ProportionGateConfig, base_label: str
) -> MetricResult:
    est, lo, _ = excess_bounds(cand, base, cfg.fail_confidence)
    _, _, hi = excess_bounds(cand, base, cfg.pass_confidence)
    figures: dict[str, float | int | None] = {
        "candidate_rate": round(cand.rate, 6),
        "candidate_n": cand.n,
        f"{base_label}_rate": round(base.rate, 6),
        f"{base_label}_n": base.n,
        "excess": round(cand.rate - base.rate, 6),
        "excess_lower": round(lo, 6),
        "excess_upper": round(hi, 6),
        "p_value": round(one_sided_p(cand, base, cfg.margin), 6),
        "margin": cfg.margin,
        "pass_margin": cfg.pass_margin,
    }
    head = f"{name}: candidate {cand.rate:.2%} of {cand.n} vs {base_label} {base.rate:.2%} of {base.n}"
    if cand.n < cfg.min_samples or base.n < cfg.min_baseline_samples:
        return MetricResult(
            name=name, kind=kind, outcome=Outcome.hold, figures=figures, pair_ids=cand.pair_ids,
            reason=f"{head}: too few samples (need {cfg.min_samples} candidate, {cfg.min_baseline_samples} {base_label})",
        )
    if lo > cfg.margin:
        return MetricResult(
            name=name, kind=kind, outcome=Outcome.fail, figures=figures, pair_ids=cand.pair_ids,
            reason=f"{head}: excess ≥ {lo:+.2%} at {cfg.fail_confidence:.0%} confidence, above margin {cfg.margin:.2%}",
        )
    if hi <= cfg.pass_margin:
        return MetricResult(
            name=name, kind=kind, outcome=Outcome.passed, figures=figures,
            reason=f"{head}: excess ≤ {hi:+.2%} at {cfg.pass_confidence:.0%} confidence (allowed {cfg.pass_margin:.2%})",
        )
    return MetricResult(
        name=name, kind=kind, outcome=Outcome.hold, figures=figures, pair_ids=cand.pair_ids,
        reason=f"{head}: inconclusive (excess between {lo:+.2%} and {hi:+.2%})",
    )


def quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def quantile_bounds(values: Sequence[float], q: float, confidence: float) -> tuple[float, float]:
    """Distribution-free one-sided bounds of the q-quantile from order statistics (normal approximation
    of the binomial rank), clamped to the sample's range."""
    s = sorted(values)
    n = len(s)
    z = _N.inv_cdf(confidence)
    half = z * math.sqrt(n * q * (1 - q))
    lo_rank = max(0, min(n - 1, math.floor(n * q - half) - 1))
    hi_rank = max(0, min(n - 1, math.ceil(n * q + half)))
    return s[lo_rank], s[hi_rank]


def quantile_ratio_gate(
    name: str, cand: Sequence[float], prim: Sequence[float], cfg: RatioGateConfig
) -> MetricResult:
    q = cfg.quantile
    figures: dict[str, float | int | None] = {
        "candidate_n": len(cand), "primary_n": len(prim), "max_ratio": cfg.max_ratio, "quantile": q,
        "candidate_q": quantile(cand, q), "primary_q": quantile(prim, q),
    }
    label = f"{name} p{round(q * 100)}"
    if len(cand) < cfg.min_samples or len(prim) < cfg.min_samples:
        return MetricResult(name=name, kind="ratio", outcome=Outcome.hold, figures=figures,
                            reason=f"{label}: too few samples ({len(cand)} candidate, {len(prim)} primary; "
                                   f"need {cfg.min_samples})")
    c_lo, c_hi = quantile_bounds(cand, q, cfg.confidence)
    p_lo, p_hi = quantile_bounds(prim, q, cfg.confidence)
    ratio = figures["candidate_q"] / figures["primary_q"] if figures["primary_q"] else math.inf  # type: ignore[operator]
    ratio_lo = c_lo / p_hi if p_hi > 0 else math.inf
    ratio_hi = c_hi / p_lo if p_lo > 0 else math.inf
    figures.update(ratio=_r(ratio), ratio_lower=_r(ratio_lo), ratio_upper=_r(ratio_hi))
    head = f"{label}: candidate {figures['candidate_q']:.1f} vs primary {figures['primary_q']:.1f} (×{ratio:.2f})"
    if ratio_lo > cfg.max_ratio:
        return MetricResult(name=name, kind="ratio", outcome=Outcome.fail, figures=figures,
                            reason=f"{head}: ratio ≥ {ratio_lo:.2f} above the allowed ×{cfg.max_ratio:g}")
    if ratio_hi <= cfg.max_ratio:
        return MetricResult(name=name, kind="ratio", outcome=Outcome.passed, figures=figures,
                            reason=f"{head}: ratio ≤ {ratio_hi:.2f} within ×{cfg.max_ratio:g}")
    return MetricResult(name=name, kind="ratio", outcome=Outcome.hold, figures=figures,
                        reason=f"{head}: inconclusive (ratio between {ratio_lo:.2f} and {ratio_hi:.2f})")


def mean_ratio_gate(name: str, cand: Sequence[float], prim: Sequence[float], cfg: RatioGateConfig) -> MetricResult:
    """Bound on mean(cand) − max_ratio·mean(prim) by the CLT: cost per request may not exceed the allowed ratio."""
    nc, np_ = len(cand), len(prim)
    mc = sum(cand) / nc if nc else None
    mp = sum(prim) / np_ if np_ else None
    figures: dict[str, float | int | None] = {
        "candidate_n": nc, "primary_n": np_, "candidate_mean": _r(mc), "primary_mean": _r(mp),
        "max_ratio": cfg.max_ratio,
    }
    if nc < cfg.min_samples or np_ < cfg.min_samples:
        return MetricResult(name=name, kind="ratio", outcome=Outcome.hold, figures=figures,
                            reason=f"{name}: too few samples ({nc} candidate, {np_} primary; need {cfg.min_samples})")
    assert mc is not None and mp is not None
    vc = sum((x - mc) ** 2 for x in cand) / max(nc - 1, 1)
    vp = sum((x - mp) ** 2 for x in prim) / max(np_ - 1, 1)
    k = cfg.max_ratio
    se = math.sqrt(vc / nc + k * k * vp / np_)
    z = _N.inv_cdf(cfg.confidence)
    d = mc - k * mp
    ratio = mc / mp if mp else math.inf
    figures.update(ratio=_r(ratio))
    head = f"{name}: candidate {mc:.6f} vs primary {mp:.6f} per request (×{ratio:.2f})"
    if d - z * se > 0:
        return MetricResult(name=name, kind="ratio", outcome=Outcome.fail, figures=figures,
                            reason=f"{head}: above the allowed ×{k:g} at {cfg.confidence:.0%} confidence")
    if d + z * se <= 0:
        return MetricResult(name=name, kind="ratio", outcome=Outcome.passed, figures=figures,
                            reason=f"{head}: within ×{k:g}")
    return MetricResult(name=name, kind="ratio", outcome=Outcome.hold, figures=figures,
                        reason=f"{head}: inconclusive against ×{k:g}")


def _r(x: float | None) -> float | None:
    if x is None or math.isinf(x) or math.isnan(x):
        return None
    return round(x, 6)


def evaluate(ev: Evidence, cfg: GateConfig | None = None) -> GateReport:
    """Run every gate over the evidence; the report's outcome is the worst non-dry-run metric."""
    cfg = cfg or GateConfig()
    results: list[MetricResult] = []
    if not ev.comparators:
        # Errors and latency alone say nothing about answer quality: without a single comparison the
        # candidate has not been shown to agree with the primary, so the ramp holds.
        results.append(MetricResult(name="agreement", kind="disagreement", outcome=Outcome.hold,
                                    reason="agreement: no comparisons of candidate and primary yet"))
    for name in sorted(ev.comparators):
        c = ev.comparators[name]
        results.append(proportion_gate(name, "disagreement", c.candidate, c.noise, cfg.for_comparator(name),
                                       "noise"))
    results.append(proportion_gate("json_validity", "invalid_json", ev.json_invalid_candidate,
                                   ev.json_invalid_primary, cfg.json_validity, "primary"))
    results.append(proportion_gate("error_rate", "errors", ev.errors_candidate, ev.errors_primary,
                                   cfg.error_rate, "primary"))
    results.append(quantile_ratio_gate("latency", ev.latency_candidate, ev.latency_primary, cfg.latency))
    results.append(quantile_ratio_gate("ttft", ev.ttft_candidate, ev.ttft_primary, cfg.ttft))
    results.append(mean_ratio_gate("cost", ev.cost_candidate, ev.cost_primary, cfg.cost))
    for r in results:
        r.dry_run = r.name in cfg.dry_run
        if r.name in cfg.optional and _empty(r):
            r.applicable, r.outcome = False, Outcome.passed
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
