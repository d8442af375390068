"""Answer a question from the retrieved chunks, citing the documents used."""

from dataclasses import dataclass

from rag.clients import get_client
from rag.indexer import Embedder
from rag.settings import ANSWER_MODEL, TOP_K
from rag.store import VectorStore

PROMPT = (
    "Answer the question using only the handbook excerpts below. "
    "If they do not contain the answer, say you don't know.\n\n{context}"
)


@dataclass
class Answer:
    text: str
    sources: list[str]
    scores: list[float]


def answer(question: str, store: VectorStore, embedder: Embedder | None = None, k: int = TOP_K) -> Answer:
    embedder = embedder or Embedder(store.model)
    hits = store.search(embedder([question])[0], k)
    context = "\n\n".join(f"[{chunk.doc}]\n{chunk.text}" for _, chunk in hits)
    completion = get_client().chat.completions.create(
        model=ANSWER_MODEL,
        messages=[
            {"role": "system", "content": PROMPT.format(context=context)},
            {"role": "user", "content": question},
        ],
        temperature=0,
    )
    return Answer(
        text=completion.choices[0].message.content or "",
        sources=sorted({chunk.doc for _, chunk in hits}),
        scores=[score for score, _ in hits],
    )
