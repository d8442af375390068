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
"""

from __future__ import annotations

import fnmatch

from offramp.shadow.ramp.gates import ProportionGateConfig

COMPARATOR_DEFAULTS: dict[str, ProportionGateConfig] = {
    "knn_at_*": ProportionGateConfig(min_samples=200, min_baseline_samples=30, margin=0.10, pass_margin=0.15,
                                     tuned_excess=0.15),
}

# Rows applied on top of `ramp.gates.disagreement`, for the keys the user's table does not set: the comparator is
# gated like the others (the user's margin, min_samples, pass_margin) but its sequential test is tuned apart.
COMPARATOR_TUNING: dict[str, dict[str, float]] = {
    "tool_calls_dropped": {"fail_confidence": 0.95, "tuned_excess": 0.022, "tuned_weight": 0.8},
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


def matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)
