"""Embeddings judged by what a vector store relies on: which stored items come back as the nearest neighbours.

Vectors of two models are not comparable (other dimensions, other coordinates), so nothing is compared
vector to vector. Each request family keeps a rolling window of recently mirrored inputs, embedded by both
sides; a new input is searched against that window in the primary's space and in the other side's space, and
the verdict is the overlap of the two top-k neighbour sets (|A∩B| / k, the share of the primary's k nearest
neighbours the candidate still returns; Jaccard in the detail). One verdict per input and k — a batched
`input` list counts as several inputs, up to `max_inputs` evenly spaced ones per request — agreeing when the
overlap is at least `threshold`. The second primary's vectors (side `noise`) go through the same search
against their own window: the primary's own neighbour churn, the noise floor the gates compare with.

Memory is bounded: `window` inputs per family, model and side (float32, unit-normalised), at most `families`
families (the least recently used is dropped). Inputs are kept as hashes, never as text. A verdict needs
`MIN_WINDOW_FACTOR` × k earlier inputs in the window, so a chance overlap (k/window) cannot pass for agreement.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import OrderedDict

import numpy as np

from offramp.shadow.comparators.base import Comparator, CompareContext, Verdict

MIN_WINDOW_FACTOR = 5
DEFAULT_KS = (5, 10)


def comparator_name(k: int) -> str:
    return f"knn_at_{k}"


def input_keys(request: dict) -> list[str]:
    """One key per input of an embeddings request (a string, a token array, or a list of either)."""
    raw = request.get("input") if isinstance(request, dict) else None
    items = [raw] if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)) else raw
    out = []
    for item in items or []:
        text = item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))
        out.append(hashlib.blake2b(text.encode(), digest_size=12).hexdigest())
    return out


def vectors(body: dict | None) -> list[np.ndarray] | None:
    """The embeddings of a response in `index` order, float32 (base64 little-endian float32 or float lists)."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return None
    items = sorted((d for d in body["data"] if isinstance(d, dict)), key=lambda d: d.get("index", 0))
    out = []
    for d in items:
        e = d.get("embedding")
        if isinstance(e, str):
            v = np.frombuffer(base64.b64decode(e), dtype="<f4").astype(np.float32)
        elif isinstance(e, list):
            v = np.asarray(e, dtype=np.float32)
        else:
            return None
        out.append(v)
    return out


def dims_of(body: dict | None) -> int | None:
    """The dimension of a response's vectors (None when there are none, or they disagree among themselves)."""
    vs = vectors(body)
    if not vs:
        return None
    sizes = {v.shape[0] for v in vs}
    return sizes.pop() if len(sizes) == 1 else None


def summary(body: dict, dims: int | None) -> dict:
    """What is stored of an embeddings response: the vectors' count and size, never the vectors (they are
    large, unreadable, and can be inverted back to text)."""
    data = body.get("data") if isinstance(body.get("data"), list) else []
    out = {"object": body.get("object", "list"), "model": body.get("model"), "dims": dims,
           "data": [{"index": d.get("index", i), "object": "embedding", "dims": dims}
                    for i, d in enumerate(data) if isinstance(d, dict)]}
    if isinstance(body.get("usage"), dict):
        out["usage"] = body["usage"]
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class _Window:
    """A ring of (key, primary vector, other vector) for one family and side."""

    def __init__(self, size: int, dp: int, do: int) -> None:
        self.size, self.dp, self.do = size, dp, do
        self.p = np.zeros((size, dp), dtype=np.float32)
        self.o = np.zeros((size, do), dtype=np.float32)
        self.keys: list[str | None] = [None] * size
        self.n = 0
        self.pos = 0

    def add(self, key: str, p: np.ndarray, o: np.ndarray) -> None:
        self.p[self.pos], self.o[self.pos], self.keys[self.pos] = p, o, key
        self.pos = (self.pos + 1) % self.size
        self.n = min(self.n + 1, self.size)


class KnnAgreement(Comparator):
    """Stateful (the window): one instance per proxy process, fed by the mirror in arrival order."""

    name = "knn"
    multi = True  # returns {comparator name: [one verdict per input]}

    def __init__(self, ks=DEFAULT_KS, threshold: float = 0.5, window: int = 256, families: int = 16,
                 max_inputs: int = 32) -> None:
        self.ks = tuple(sorted(set(int(k) for k in ks)))
        self.max_inputs = max_inputs
        self.threshold = threshold
        self.window = window
        self.families = families
        self.names = [comparator_name(k) for k in self.ks]
        self._windows: OrderedDict[tuple[str, str, str], _Window] = OrderedDict()

    def _window(self, family: str, model: str, side: str, dp: int, do: int) -> _Window:
        key = (family, model, side)  # two embedding models are two spaces, even in one request family
        w = self._windows.get(key)
        if w is None or w.dp != dp or w.do != do:  # a model or `dimensions` change starts the window afresh
            w = self._windows[key] = _Window(self.window, dp, do)
        self._windows.move_to_end(key)
        while len(self._windows) > self.families * 2:  # two sides (candidate, noise) per family and model
            self._windows.popitem(last=False)
        return w

    def memory_bytes(self) -> int:
        return sum(w.p.nbytes + w.o.nbytes for w in self._windows.values())

    def compare(self, a: dict, b: dict, ctx: CompareContext) -> dict[str, list[Verdict]]:
        va, vb = vectors(a), vectors(b)
        keys = input_keys(ctx.request)
        if not va or not vb or len(va) != len(vb) or len(keys) != len(va):
            detail = {"error": "the two sides returned different numbers of vectors"} if va and vb else {}
            return {n: [Verdict(None, None, detail)] for n in self.names}
        dp, do = va[0].shape[0], vb[0].shape[0]
        if any(v.shape[0] != dp for v in va) or any(v.shape[0] != do for v in vb):
            return {n: [Verdict(None, None, {"error": "vectors of one response differ in size"})] for n in self.names}
        w = self._window(ctx.family or "", str(ctx.request.get("model")), ctx.side, dp, do)
        out: dict[str, list[Verdict]] = {n: [] for n in self.names}
        picked = range(len(keys))
        if len(keys) > self.max_inputs:  # a large batch (an indexing job): evenly spaced inputs, bounded CPU
            step = len(keys) / self.max_inputs
            picked = sorted({int(j * step) for j in range(self.max_inputs)})
        for i in picked:
            key, p, o = keys[i], _unit(va[i]), _unit(vb[i])
            m = w.n
            seen = [j for j in range(m) if w.keys[j] == key]
            sp, so = w.p[:m] @ p, w.o[:m] @ o
            if seen:  # the same input again: its own earlier copy is not a neighbour
                sp[seen], so[seen] = -np.inf, -np.inf
            usable = m - len(seen)
            for k, name in zip(self.ks, self.names, strict=True):
                if usable < MIN_WINDOW_FACTOR * k:
                    continue  # the window is warming up: no verdict for this input
                ta = set(np.argpartition(-sp, k - 1)[:k].tolist())
                tb = set(np.argpartition(-so, k - 1)[:k].tolist())
                common = len(ta & tb)
                overlap = common / k
                out[name].append(Verdict(bool(overlap >= self.threshold), round(overlap, 4),
                                         {"input": i, "k": k, "jaccard": round(common / len(ta | tb), 4),
                                          "window": usable}))
            if not seen:
                w.add(key, p, o)
        for k, name in zip(self.ks, self.names, strict=True):
            if not out[name]:  # one "not yet" per pair and k, not one per input
                out[name].append(Verdict(None, None, {"warming_up": w.n, "needs": MIN_WINDOW_FACTOR * k}))
        return out
