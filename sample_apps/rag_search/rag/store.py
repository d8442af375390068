"""A tiny vector store: chunks and their vectors in one JSON file, searched by cosine similarity.

Pure Python on purpose: the handbook is a few hundred chunks, numpy would be the heaviest dependency.
"""

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Chunk:
    doc: str
    text: str
    vector: list[float]


class StoreError(ValueError):
    pass


def cosine(a: list[float], b: list[float]) -> float:
    if len(a) != len(b):
        raise StoreError(f"vector sizes differ: {len(a)} vs {len(b)} (was the index built with another model?)")
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class VectorStore:
    def __init__(self, path: Path, model: str) -> None:
        self.path = path
        self.model = model
        self.chunks: list[Chunk] = []

    def add(self, doc: str, texts: list[str], vectors: list[list[float]]) -> None:
        self.chunks.extend(Chunk(doc, t, v) for t, v in zip(texts, vectors, strict=True))

    def search(self, query: list[float], k: int) -> list[tuple[float, Chunk]]:
        scored = [(cosine(query, c.vector), c) for c in self.chunks]
        scored.sort(key=lambda pair: pair[0], reverse=True)
        return scored[:k]

    def save(self) -> None:
        data = {"model": self.model, "chunks": [asdict(c) for c in self.chunks]}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self.path)

    @classmethod
    def load(cls, path: Path, model: str) -> "VectorStore":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{path}: cannot read index: {exc}") from exc
        if data.get("model") != model:
            raise StoreError(f"{path}: index built with {data.get('model')!r}, not {model!r}: re-index")
        store = cls(path, model)
        store.chunks = [Chunk(**c) for c in data.get("chunks", [])]
        return store
