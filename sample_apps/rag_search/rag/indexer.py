"""Split documents into chunks, embed them in batches, write the store."""

from pathlib import Path

from rag.clients import get_client
from rag.settings import CHUNK_CHARS, EMBED_BATCH, EMBEDDING_MODEL
from rag.store import VectorStore


def split(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """Paragraph-aware chunks of at most `size` characters (a longer paragraph is cut)."""
    chunks: list[str] = []
    current = ""
    for para in (p.strip() for p in text.split("\n\n")):
        if not para:
            continue
        if current and len(current) + len(para) + 2 > size:
            chunks.append(current)
            current = ""
        while len(para) > size:
            chunks.append(para[:size])
            para = para[size:]
        current = f"{current}\n\n{para}" if current else para
    if current:
        chunks.append(current)
    return chunks


class Embedder:
    def __init__(self, model: str = EMBEDDING_MODEL) -> None:
        self.model = model

    def __call__(self, texts: list[str]) -> list[list[float]]:
        client = get_client()
        # Bound once: a full re-index calls it thousands of times.
        embed = client.embeddings.create
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            batch = texts[start:start + EMBED_BATCH]
            response = embed(model=self.model, input=batch)
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        return vectors


def build_index(docs_dir: Path, index_path: Path, embedder: Embedder | None = None) -> VectorStore:
    embedder = embedder or Embedder()
    store = VectorStore(index_path, embedder.model)
    for doc in sorted(docs_dir.glob("*.md")):
        texts = split(doc.read_text(encoding="utf-8"))
        if texts:
            store.add(doc.name, texts, embedder(texts))
    store.save()
    return store
