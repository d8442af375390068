"""The always-valid statistics behind the gates: bounds that survive peeking, and the figures they report."""

from __future__ import annotations

import math
import random

from offramp.shadow.ramp.gates import Proportion, ProportionGateConfig, proportion_gate
from offramp.shadow.ramp.sequential import (
    Mixture,
    TwoProportions,
    radius,
    restricted_rates,
    samples_to_decide,
)

CFG = ProportionGateConfig()
ALPHA = 1 - CFG.fail_confidence


def _numeric_rmle(x1, n1, x2, n2, d):
    lo, hi = max(0.0, -d) + 1e-12, min(1.0, 1.0 - d) - 1e-12
    for _ in range(200):  # the score equation of p2 is decreasing: bisect it
        p = (lo + hi) / 2
        g = x1 / (p + d) - (n1 - x1) / (1 - p - d) + x2 / p - (n2 - x2) / (1 - p)
        lo, hi = (p, hi) if g > 0 else (lo, p)
    return lo + d, lo


def test_restricted_rates_are_the_constrained_maximum_likelihood():
    for args in [(25, 500, 40, 2000, 0.0025), (5, 100, 20, 2000, 0.03), (25, 500, 40, 2000, -0.01),
                 (10, 300, 3, 2000, 0.01)]:
        p1, p2 = restricted_rates(*args)
        q1, q2 = _numeric_rmle(*args)
        assert abs(p1 - q1) < 1e-9 and abs(p2 - q2) < 1e-9
        assert abs((p1 - p2) - args[4]) < 1e-12


def _stream(seed: int, p_noise: float, excess: float, n: int, prior: int = 2000):
    rng = random.Random(seed)
    nb = sum(rng.random() < p_noise for _ in range(prior))
    cb = 0
    for i in range(1, n + 1):
        cb += rng.random() < p_noise + excess
        yield cb, i, nb, prior


def _wald_fails(cb, cn, nb, nn, z=2.054):  # the previous fixed-sample one-sided 98% bound (Agresti-Caffo)
    pc, pb = (cb + 1) / (cn + 2), (nb + 1) / (nn + 2)
    se = math.sqrt(pc * (1 - pc) / (cn + 2) + pb * (1 - pb) / (nn + 2))
    return pc - pb - z * se > CFG.margin


def test_peeking_at_every_tenth_sample_keeps_the_false_rollback_rate_at_the_margin_below_alpha():
    """A candidate exactly `margin` worse than the noise floor is what the gate tolerates: however often it is
    looked at, it must be rolled back in at most 1 − fail_confidence of runs. The fixed-sample bound looked at as
    often rolls back several times more."""
    mix = CFG.fail_mixture()
    runs, seq, fixed = 300, 0, 0
    for seed in range(runs):
        s_hit = f_hit = False
        for cb, cn, nb, nn in _stream(seed, 0.01, CFG.margin, 1500):
            if cn < CFG.min_samples or cn % 10:
                continue
            s_hit = s_hit or TwoProportions(cb, cn, nb, nn).above(CFG.margin, ALPHA, mix)
            f_hit = f_hit or _wald_fails(cb, cn, nb, nn)
            if s_hit and f_hit:
                break
        seq += s_hit
        fixed += f_hit
    assert seq / runs <= ALPHA
    assert fixed / runs > 2 * ALPHA


def test_a_clearly_worse_candidate_is_caught_under_the_same_peeking():
    mix = CFG.fail_mixture()
    caught = 0
    for seed in range(100):
        for cb, cn, nb, nn in _stream(seed, 0.01, 0.05, 600):
            if cn >= CFG.min_samples and cn % 10 == 0 and TwoProportions(cb, cn, nb, nn).above(CFG.margin, ALPHA,
                                                                                                  mix):
                caught += 1
                break
    assert caught >= 95


def test_bounds_bracket_the_estimate_and_narrow_with_samples():
    m = Mixture(point=0.0275, scale=0.03, weight=0.5)
    small, large = TwoProportions(6, 200, 40, 2000), TwoProportions(60, 2000, 400, 20000)
    for t in (small, large):
        assert t.lower(0.02, m) < t.estimate < t.upper(0.1, m)
    assert large.upper(0.1, m) - large.lower(0.02, m) < small.upper(0.1, m) - small.lower(0.02, m)
    assert TwoProportions(0, 200, 0, 2000).lower(0.02, m) < 0 < TwoProportions(0, 200, 0, 2000).upper(0.1, m)


def test_the_lower_bound_is_where_the_test_stops_rejecting():
    m = CFG.fail_mixture()
    t = TwoProportions(40, 600, 40, 2000)
    lo = t.lower(ALPHA, m)
    assert t.above(lo - 1e-4, ALPHA, m) and not t.above(lo + 1e-4, ALPHA, m)


def test_samples_still_needed_are_enough_at_the_same_rates():
    r = proportion_gate("structural", "disagreement", Proportion(bad=4, n=100), Proportion(bad=20, n=2000), CFG,
                        "noise", "ramp.gates.disagreement")
    assert r.outcome.value == "hold" and r.samples_needed and r.samples_needed > 0
    assert "more samples at these rates (ramp.gates.disagreement)" in r.reason
    f = (100 + r.samples_needed) / 100
    later = proportion_gate("structural", "disagreement", Proportion(bad=round(4 * f), n=round(100 * f)),
                            Proportion(bad=round(20 * f), n=round(2000 * f)), CFG, "noise")
    assert later.outcome.value != "hold"


def test_samples_to_decide_reports_none_when_no_decision_is_in_sight():
    assert samples_to_decide(lambda f: False, 100) is None
    assert samples_to_decide(lambda f: True, 100) == 0
    assert samples_to_decide(lambda f: f >= 3, 100) in range(200, 203)


def test_the_radius_grows_like_the_law_of_the_iterated_logarithm():
    # Wider than a fixed-sample z at every n, yet its width per sample still shrinks to zero.
    for n in (50, 200, 1000, 10_000):
        assert radius(n, 0.05, 200) > 1.645 * math.sqrt(n)
    assert radius(10_000, 0.05, 200) / 10_000 < radius(1000, 0.05, 200) / 1000


def test_the_point_part_is_the_exact_binomial_likelihood_ratio_and_fails_a_bad_pair_sooner():
    """Against a floor known exactly, the point part of the failing martingale is Wald's Bernoulli likelihood
    ratio itself; the Gaussian one it replaced needed one more bad pair in 500 at the dropped-call gate's
    tuning (a 1% floor, 95%, 80% of the mixture on a 2.2-point excess)."""
    from offramp.shadow.ramp.comparator_gates import default_for

    cfg = default_for("tool_calls_dropped")
    mix, alpha = cfg.fail_mixture(), 1 - cfg.fail_confidence
    floor = TwoProportions(0, 1, 100_000, 10_000_000)  # 1.00% of ten million: as good as known
    p0, p1 = 0.01 + cfg.margin, 0.01 + cfg.margin + mix.point
    t = TwoProportions(14, 500, floor.bad2, floor.n2)
    assert abs(t.point_llr(cfg.margin, mix.point) - (14 * math.log(p1 / p0) + 486 * math.log((1 - p1) / (1 - p0)))) \
        < 1e-3
    assert not TwoProportions(13, 500, floor.bad2, floor.n2).above(cfg.margin, alpha, mix)
    assert t.above(cfg.margin, alpha, mix)
    z, v = t._stat(cfg.margin)  # the Gaussian point part on the same counts: not yet
    assert mix.log_martingale(z * math.sqrt(v), v) < math.log(1 / alpha)
