"""Gate defaults for comparators whose figures do not behave like a text comparator's, as data: a row per
comparator-name pattern, used when `ramp.gates.per_comparator` does not name the comparator.

Embeddings (`knn_at_K`, shadow.comparators.embeddings_knn): the primary's own neighbour churn is ~0 (the same
model embeds the same text the same way), while a different model always reorders some neighbours. So the
tolerated excess is wider than the text gates' 0.25 points: the gate fails once the share of inputs that lose
more than half of their k nearest neighbours (comparators.knn_threshold) exceeds the primary's own share by more
than `margin` (10 points), and passes once that excess is bounded by `pass_margin` (15 points).

Dropped tool calls (`tool_calls_dropped`, derived from the structural diff): a candidate that answers in prose
where the primary called a tool is the failure that breaks an agent, and it is directional, so its floor is the
primary dropping a call against itself (about half the tool-call noise). Its failing test is tuned to catch a
3-point drop within 500 compared requests (bench/rollout: 97.5% of runs at a 1% floor, 92.5% at 2% when all of
the primary's own tool-call noise is dropped calls, 96% when half of it is): the mixture sits
mostly (80%) on a 2.2-point excess, the low end of what a 3-point drop shows after a few hundred pairs, and a
candidate exactly at the 0.25-point margin is rolled back at most 5% of the time instead of 2% (an equal
candidate: measured at most 1% at every evaluation interval).

At a 2% floor the limit is the floor's own precision, not the test: measured on 2,000 noise pairs, no unbiased
test valid whatever the floor catches the drop within 500 in more than 95.7% of cases even looking once at exactly
500 (Fisher's conditional test, the bench's third ceiling; 97.9% if the floor were known), and no retuning of this
row tried moved the gate alone above 93% (600 runs every 1 s: tuned_excess 1.8-2.6 points with tuned_weight 0.8
or 0.95, 92.0-93.0%; 3 points, 90.5%). More pairs do (bench/rollout, 1,000 runs, every 1 / 5 / 30 s): 92.7 /
92.5 / 90.6% on 2,000, 93.6 / 93.6 / 92.5% on 5,000, 94.6 / 94.5 / 93.6% on 10,000, 95.2 / 95.2 / 93.7% on
20,000 — hence DETECTION_NOISE_PAIRS, from which `ramp start` warns. Every 30 s the 95% is not reached at a 2% floor even with the floor all but known (the gate
alone: 94.8% on a million pairs): its decisions come up to 30 requests later.
"""

from __future__ import annotations

import fnmatch

from offramp.shadow.ramp.gates import ComparatorEvidence, ProportionGateConfig

COMPARATOR_DEFAULTS: dict[str, ProportionGateConfig] = {
    "knn_at_*": ProportionGateConfig(min_samples=200, min_baseline_samples=30, margin=0.10, pass_margin=0.15,
                                     tuned_excess=0.15),
}

# Rows applied on top of `ramp.gates.disagreement`, for the keys the user's table does not set: the comparator is
# gated like the others (the user's margin, min_samples, pass_margin) but its sequential test is tuned apart.
COMPARATOR_TUNING: dict[str, dict[str, float]] = {
    "tool_calls_dropped": {"fail_confidence": 0.95, "tuned_excess": 0.022, "tuned_weight": 0.8},
}

# The noise pairs a row's stated detection was measured with (bench/rollout, the worst case: all of the primary's
# own tool-call noise dropped calls; the controller evaluating every 5 s, its default), by the comparator's floor:
# (floor up to, pairs). A 0.5% dropped-call floor (1% of tool-call noise): 97.0% on 2,000 pairs (200 runs); 1%
# (2%): 95.2% on 20,000 pairs, 94.5% on 10,000 (1,000 runs). `ramp start` warns when the floor rests on fewer; a
# floor above the last row was not measured.
DETECTION_NOISE_PAIRS: dict[str, tuple[str, tuple[tuple[float, int], ...]]] = {
    "tool_calls_dropped": ("a 3-point drop within 500 compared requests in 95% of cases",
                           ((0.005, 2000), (0.01, 20000))),
}

# Metrics shown with their verdict but never holding or rolling back the ramp (`ramp.gates.advisory`): the ramp
# serves chat completions from the candidate and never embeddings, whose vectors need a re-index first.
ADVISORY = ["knn_at_*"]
# Pairs of these endpoints are left out of the ramp's operational gates (errors, latency, TTFT, cost) for the same
# reason; the report shows their errors per endpoint.
NOT_RAMPED_ENDPOINTS = ("/v1/embeddings",)


def own_table(name: str) -> ProportionGateConfig | None:
    return next((cfg for pat, cfg in COMPARATOR_DEFAULTS.items() if fnmatch.fnmatchcase(name, pat)), None)


def default_for(name: str, disagreement: ProportionGateConfig | None = None) -> ProportionGateConfig | None:
    """The comparator's row: a table of its own, or `disagreement` with the tuning row's keys it leaves unset."""
    row = own_table(name)
    if row is not None:
        return row
    tuning = COMPARATOR_TUNING.get(name)
    if tuning is None:
        return None
    base = disagreement or ProportionGateConfig()
    return base.model_copy(update={k: v for k, v in tuning.items() if k not in base.model_fields_set})


def detection_warnings(comparators: dict[str, ComparatorEvidence]) -> list[str]:
    """One line per comparator whose noise floor rests on fewer pairs than its stated detection was measured
    with, at the floor measured now (DETECTION_NOISE_PAIRS)."""
    out = []
    for name, (detects, rows) in DETECTION_NOISE_PAIRS.items():
        ev = comparators.get(name)
        if ev is None or not ev.noise.n:
            continue
        floor = ev.noise.rate
        need = next((pairs for upto, pairs in rows if floor <= upto), rows[-1][1])
        if ev.noise.n >= need:
            continue
        above = f" (measured up to a {rows[-1][0]:.1%} floor)" if floor > rows[-1][0] else ""
        out.append(f"{name}: its floor, {floor:.2%}, rests on {ev.noise.n} noise pairs; {detects} was measured "
                   f"with {need} at this floor{above} (bench/rollout) — keep shadowing or raise --noise-sample")
    return out


def matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)
