"""Gate defaults for comparators whose figures do not behave like a text comparator's, as data: a row per
comparator-name pattern, used when `ramp.gates.per_comparator` does not name the comparator.

Embeddings (`knn_at_K`, shadow.comparators.embeddings_knn): the primary's own neighbour churn is ~0 (the same
model embeds the same text the same way), while a different model always reorders some neighbours. So the
tolerated excess is wider than the text gates' 0.25 points: the gate fails once the share of inputs that lose
more than half of their k nearest neighbours (comparators.knn_threshold) exceeds the primary's own share by more
than `margin` (10 points), and passes once that excess is bounded by `pass_margin` (15 points).
"""

from __future__ import annotations

import fnmatch

from offramp.shadow.ramp.gates import ProportionGateConfig

COMPARATOR_DEFAULTS: dict[str, ProportionGateConfig] = {
    "knn_at_*": ProportionGateConfig(min_samples=200, min_baseline_samples=30, margin=0.10, pass_margin=0.15,
                                     tuned_excess=0.15),
}

# Metrics shown with their verdict but never holding or rolling back the ramp (`ramp.gates.advisory`): the ramp
# serves chat completions from the candidate and never embeddings, whose vectors need a re-index first.
ADVISORY = ["knn_at_*"]
# Pairs of these endpoints are left out of the ramp's operational gates (errors, latency, TTFT, cost) for the same
# reason; the report shows their errors per endpoint.
NOT_RAMPED_ENDPOINTS = ("/v1/embeddings",)


def default_for(name: str) -> ProportionGateConfig | None:
    return next((cfg for pat, cfg in COMPARATOR_DEFAULTS.items() if fnmatch.fnmatchcase(name, pat)), None)


def matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)
