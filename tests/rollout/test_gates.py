"""The gates decide pass / hold / fail from figures a reviewer can check by hand."""

from __future__ import annotations

import random

from offramp.shadow.ramp.gates import (
    ComparatorEvidence,
    Evidence,
    GateConfig,
    Outcome,
    Proportion,
    ProportionGateConfig,
    RatioGateConfig,
    diffy_reportable,
    evaluate,
    excess_bounds,
    mean_ratio_gate,
    proportion_gate,
    quantile_ratio_gate,
)

CFG = ProportionGateConfig(min_samples=100, min_baseline_samples=30)


def gate(cb, cn, nb, nn, cfg=CFG):
    return proportion_gate("structural", "disagreement", Proportion(bad=cb, n=cn), Proportion(bad=nb, n=nn), cfg,
                           "noise")


def test_too_few_samples_holds_even_when_every_pair_disagrees():
    r = gate(50, 50, 0, 500)
    assert r.outcome is Outcome.hold
    assert "too few samples" in r.reason


def test_candidate_clearly_worse_than_noise_fails_with_figures():
    r = gate(120, 1000, 20, 1000)
    assert r.outcome is Outcome.fail
    assert r.figures["candidate_rate"] == 0.12 and r.figures["noise_rate"] == 0.02
    assert r.figures["excess_lower"] > 0


def test_candidate_at_noise_level_passes():
    r = gate(20, 1000, 21, 1000)
    assert r.outcome is Outcome.passed, r.reason


def test_same_rates_but_small_samples_are_inconclusive_not_pass():
    # 2% vs 2% on tiny samples: the upper bound of the excess is still above the 3-point allowance.
    r = gate(3, 100, 1, 40)
    assert r.outcome is Outcome.hold
    assert "inconclusive" in r.reason


def test_one_sided_test_is_not_a_bare_threshold():
    # Same 3-point excess: significant on 4000 pairs, not on 150.
    assert gate(200, 4000, 80, 4000).outcome is Outcome.fail
    assert gate(8, 150, 3, 150).outcome is not Outcome.fail


def test_margin_tolerates_a_small_excess():
    # A one-point excess: an always-valid bound needs more samples than a fixed-sample one to call it.
    strict = gate(600, 20000, 400, 20000)
    lenient = gate(600, 20000, 400, 20000, CFG.model_copy(update={"margin": 0.02}))
    assert strict.outcome is Outcome.fail
    assert lenient.outcome is not Outcome.fail


def test_excess_bounds_bracket_the_estimate():
    est, lo, hi = excess_bounds(Proportion(bad=30, n=300), Proportion(bad=10, n=300), 0.95)
    assert lo < est < hi
    assert est == 30 / 300 - 10 / 300  # the plain difference: the bounds, not the estimate, handle small counts


def test_latency_ratio_gate():
    rng = random.Random(1)
    prim = [rng.gauss(100, 10) for _ in range(400)]
    slow = [rng.gauss(300, 30) for _ in range(400)]
    same = [rng.gauss(100, 10) for _ in range(400)]
    cfg = RatioGateConfig(max_ratio=1.5, min_samples=50)
    assert quantile_ratio_gate("latency", slow, prim, cfg).outcome is Outcome.fail
    assert quantile_ratio_gate("latency", same, prim, cfg).outcome is Outcome.passed
    assert quantile_ratio_gate("latency", same[:10], prim, cfg).outcome is Outcome.hold


def test_cost_gate_uses_mean_cost_per_request():
    cheap = [0.001] * 60 + [0.002] * 40
    dear = [0.01] * 100
    cfg = RatioGateConfig(max_ratio=1.0, min_samples=50)
    assert mean_ratio_gate("cost", cheap, dear, cfg).outcome is Outcome.passed
    r = mean_ratio_gate("cost", dear, cheap, cfg)
    assert r.outcome is Outcome.fail and r.figures["ratio"] > 5


def _evidence(cand_bad=20, err_bad=0, n=1000) -> Evidence:
    rng = random.Random(2)
    lat = [rng.gauss(100, 5) for _ in range(300)]
    return Evidence(
        comparators={"structural": ComparatorEvidence(candidate=Proportion(bad=cand_bad, n=n, pair_ids=["p1"]),
                                                      noise=Proportion(bad=20, n=n))},
        json_invalid_candidate=Proportion(bad=0, n=n), json_invalid_primary=Proportion(bad=0, n=n),
        errors_candidate=Proportion(bad=err_bad, n=n, pair_ids=["e1"]), errors_primary=Proportion(bad=0, n=n),
        latency_candidate=lat, latency_primary=lat, ttft_candidate=lat, ttft_primary=lat,
        cost_candidate=[0.001] * 300, cost_primary=[0.004] * 300,
    )


def test_evaluate_passes_a_good_candidate_and_names_the_failing_gate():
    assert evaluate(_evidence()).outcome is Outcome.passed
    bad = evaluate(_evidence(err_bad=80))
    assert bad.outcome is Outcome.fail
    assert any(r.startswith("error_rate") for r in bad.reasons)
    assert "e1" in bad.pair_ids


def test_dry_run_metric_is_recorded_but_never_blocks():
    report = evaluate(_evidence(err_bad=80), GateConfig(dry_run=["error_rate"]))
    assert report.outcome is Outcome.passed
    err = next(m for m in report.metrics if m.name == "error_rate")
    assert err.outcome is Outcome.fail and err.dry_run


def test_no_data_is_never_a_pass():
    assert evaluate(Evidence()).outcome is Outcome.hold


def test_errors_and_latency_alone_never_pass_without_a_single_comparison():
    ev = _evidence()
    ev.comparators = {}  # healthy candidate on errors, latency and cost, but nothing was ever compared
    report = evaluate(ev)
    assert report.outcome is Outcome.hold
    assert report.reasons == ["agreement: no comparisons of candidate and primary yet"]


def test_diffy_display_filter_matches_its_worked_example():
    assert diffy_reportable(50, 30, 10_000)
    assert not diffy_reportable(50, 45, 10_000)
    assert not diffy_reportable(30, 50, 10_000)


def _cost(cand, prim, projection=None, **cfg):
    from offramp.shadow.ramp.gates import CostGateConfig, cost_gate

    return cost_gate("cost", cand, prim, CostGateConfig(**cfg), projection, "ramp.gates.cost")


def test_cost_gate_equal_samples_are_decided_by_the_price_table():
    """Issue 14: an equally priced candidate stalled at "×1.00: inconclusive against ×1" for 2,500 requests."""
    from offramp.shadow.ramp.gates import CostProjection

    same = [0.000014] * 60
    r = _cost(same, same)
    assert r.outcome is Outcome.passed and "cost the same" in r.reason and r.samples_needed == 0
    cheaper = CostProjection(primary_usd=0.00027, candidate_usd=0.00020, pairs=60)
    r = _cost(same, same, cheaper)
    assert r.outcome is Outcome.passed and "×0.74" in r.reason
    dearer = CostProjection(primary_usd=0.00027, candidate_usd=0.000326, pairs=60)  # DeepSeek's peak hours
    r = _cost(same, same, dearer)
    assert r.outcome is Outcome.fail and "×1.21" in r.reason and "ramp.gates.cost.max_ratio" in r.reason
    assert r.figures["projected_ratio"] == round(0.000326 / 0.00027, 6)
    assert _cost(same, same, dearer, max_ratio=1.25).outcome is Outcome.passed


def test_cost_gate_decides_an_equal_candidate_with_noisy_costs_within_2500_requests():
    rng = random.Random(3)
    prim = [0.0001 + 0.00004 * rng.random() for _ in range(2500)]
    cand = [p * (0.8 + 0.4 * rng.random()) for p in prim]  # same price on average, ±20% per request
    assert _cost(cand[:100], prim[:100]).outcome is Outcome.hold  # too early to call it equal
    r = _cost(cand, prim)
    assert r.outcome is Outcome.passed, r.reason


def test_cost_gate_fails_a_dearer_candidate_and_says_how_many_samples_a_hold_needs():
    rng = random.Random(4)
    prim = [0.0001 * (0.5 + rng.random()) for _ in range(400)]
    assert _cost([p * 1.5 for p in prim], prim).outcome is Outcome.fail
    r = _cost([p * (1.06 + 0.4 * (rng.random() - 0.5)) for p in prim[:80]], prim[:80])
    assert r.outcome is Outcome.hold and r.samples_needed and "ramp.gates.cost" in r.reason
    assert r.lower is not None and r.lower < r.estimate < r.upper


def test_latency_upper_bound_waits_for_samples_above_the_quantile():
    rng = random.Random(5)
    prim = [rng.lognormvariate(5, 0.3) for _ in range(80)]
    r = quantile_ratio_gate("latency", prim, prim, RatioGateConfig(max_ratio=2.0, min_samples=50))
    assert r.outcome is Outcome.hold and r.upper is None and "∞" in r.reason and r.samples_needed


def test_gate_settings_are_checked():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="max_ratoi"):
        GateConfig.model_validate({"cost": {"max_ratoi": 1.2}})


def test_a_quick_look_gives_the_same_outcomes_as_the_full_one():
    for ev in (_evidence(), _evidence(err_bad=80), _evidence(cand_bad=35, n=400)):
        quick, full = evaluate(ev, detail=False), evaluate(ev)
        assert [m.outcome for m in quick.metrics] == [m.outcome for m in full.metrics]


def test_dropped_tool_calls_are_tuned_apart_on_top_of_the_users_disagreement_table():
    cfg = GateConfig()
    row = cfg.for_comparator("tool_calls_dropped")
    assert (row.fail_confidence, row.tuned_excess, row.tuned_weight) == (0.95, 0.022, 0.8)
    assert (row.margin, row.min_samples) == (cfg.disagreement.margin, cfg.disagreement.min_samples)
    assert cfg.comparator_setting("tool_calls_dropped") == "ramp.gates.disagreement"
    assert cfg.for_comparator("tool_calls") is cfg.disagreement  # the undirected metric keeps the default table
    # The user's disagreement table still governs it, key by key: what they set wins over the tuning row.
    users = GateConfig(disagreement={"min_samples": 20, "fail_confidence": 0.99})
    row = users.for_comparator("tool_calls_dropped")
    assert (row.min_samples, row.fail_confidence, row.tuned_excess) == (20, 0.99, 0.022)
    mine = GateConfig(per_comparator={"tool_calls_dropped": {"fail_confidence": 0.97}})
    assert mine.for_comparator("tool_calls_dropped").fail_confidence == 0.97
    assert mine.comparator_setting("tool_calls_dropped") == "ramp.gates.per_comparator.tool_calls_dropped"


def test_a_three_point_drop_in_tool_calls_fails_where_the_undirected_gate_still_holds():
    # 500 pairs with tools: the primary drops its own call 0.5% of the time (2,000 noise pairs) and disagrees with
    # itself on tool calls 1%; the candidate answers in prose on 3 more points of requests, and these 500 pairs
    # show the low end of that (13 drops, 2.6%). The dropped-call gate fails on 2.6% against 0.5%; the undirected
    # tool_calls gate, on 3% against 1%, is still unsure.
    ev = Evidence(comparators={
        "tool_calls_dropped": ComparatorEvidence(candidate=Proportion(bad=13, n=500, pair_ids=["d1"]),
                                                 noise=Proportion(bad=10, n=2000)),
        "tool_calls": ComparatorEvidence(candidate=Proportion(bad=15, n=500), noise=Proportion(bad=20, n=2000)),
    })
    report = evaluate(ev)
    by = {m.name: m for m in report.metrics}
    assert by["tool_calls_dropped"].outcome is Outcome.fail, by["tool_calls_dropped"].reason
    assert by["tool_calls"].outcome is Outcome.hold, by["tool_calls"].reason
    assert report.outcome is Outcome.fail and "d1" in report.pair_ids
    # The same counts at the primary's own rate pass neither way: an equal candidate is not rolled back.
    equal = evaluate(Evidence(comparators={"tool_calls_dropped": ComparatorEvidence(
        candidate=Proportion(bad=3, n=500), noise=Proportion(bad=10, n=2000))}))
    assert next(m for m in equal.metrics if m.name == "tool_calls_dropped").outcome is not Outcome.fail


def test_ramp_start_names_a_dropped_call_floor_measured_on_too_few_pairs_for_the_gates_stated_detection():
    from offramp.shadow.ramp.comparator_gates import DETECTION_NOISE_PAIRS, detection_warnings

    def floor(bad: int, n: int) -> dict[str, ComparatorEvidence]:
        return {"tool_calls_dropped": ComparatorEvidence(candidate=Proportion(), noise=Proportion(bad=bad, n=n))}

    (_, low), (top, high) = DETECTION_NOISE_PAIRS["tool_calls_dropped"][1]
    assert low == 2000 and top == 0.01 and high > low
    # A 0.5% floor (a 1% tool-call floor) on 2,000 pairs: the detection figures were measured there.
    assert detection_warnings(floor(10, 2000)) == []
    # A 1% floor on the same 2,000 pairs: the 95% detection needs more of them.
    [line] = detection_warnings(floor(20, 2000))
    assert "1.00%" in line and "2000 noise pairs" in line and f"with {high} at this floor" in line
    assert detection_warnings(floor(high // 100, high)) == []
    # Above the floors measured: the largest count, said to be measured lower.
    [line] = detection_warnings(floor(30, 2000))
    assert f"with {high}" in line and "measured up to a 1.0% floor" in line
    # No floor at all is the generic warning's business; other comparators are not concerned.
    assert detection_warnings(floor(0, 0)) == [] and detection_warnings({}) == []
