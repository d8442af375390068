"""Text comparators: normalised exact match (fine for labels and short answers) and token-level F1 (free text).
Both are 'not applicable' when neither side has text, e.g. a pure tool call."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from offramp.shadow.comparators.base import Comparator, CompareContext, Verdict, content_text

_WS = re.compile(r"\s+")
_TOKEN = re.compile(r"\w+", re.UNICODE)


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return _WS.sub(" ", text).strip().strip(".!?;:,\"'` ")


class TextExact(Comparator):
    name = "text_exact"

    def compare(self, a: dict, b: dict, ctx: CompareContext) -> Verdict:
        ta, tb = content_text(a), content_text(b)
        if ta is None and tb is None:
            return Verdict(None)
        same = ta is not None and tb is not None and normalize(ta) == normalize(tb)
        return Verdict(same, 1.0 if same else 0.0)


def token_f1(a: str, b: str) -> float:
    """Bag-of-tokens F1, linear in the texts' length (one count per side, one pass over the smaller)."""
    ta, tb = _TOKEN.findall(a.casefold()), _TOKEN.findall(b.casefold())
    if not ta and not tb:
        return 1.0
    if ta == tb:
        return 1.0
    ca, cb = Counter(ta), Counter(tb)
    if len(ca) > len(cb):
        ca, cb = cb, ca
    get = cb.get
    common = 0
    for w, n in ca.items():
        m = get(w)
        if m:
            common += n if n < m else m
    if common == 0:
        return 0.0
    p, r = common / len(tb), common / len(ta)
    return 2 * p * r / (p + r)


class TokenSimilarity(Comparator):
    name = "token_similarity"

    def __init__(self, threshold: float = 0.6) -> None:
        self.threshold = threshold

    def compare(self, a: dict, b: dict, ctx: CompareContext) -> Verdict:
        ta, tb = content_text(a), content_text(b)
        if ta is None and tb is None:
            return Verdict(None)
        score = token_f1(ta or "", tb or "")
        return Verdict(score >= self.threshold, round(score, 4))
