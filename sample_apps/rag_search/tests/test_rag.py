import json
from pathlib import Path

import pytest

from rag.answer import answer
from rag.indexer import Embedder, build_index, split
from rag.store import StoreError, VectorStore, cosine

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_index(DOCS, tmp_path_factory.mktemp("index") / "handbook.json")


def test_index_holds_every_document_and_survives_a_reload(store):
    assert {c.doc for c in store.chunks} == {"leave.md", "expenses.md", "security.md"}
    reloaded = VectorStore.load(store.path, store.model)
    assert [(c.doc, c.text) for c in reloaded.chunks] == [(c.doc, c.text) for c in store.chunks]
    assert json.loads(store.path.read_text())["model"] == store.model


def test_the_chunk_asked_about_is_retrieved_first(store):
    target = next(c for c in store.chunks if c.doc == "security.md")
    hits = store.search(Embedder(store.model)([target.text])[0], k=2)
    assert hits[0][1].text == target.text
    assert hits[0][0] == pytest.approx(1.0)
    assert hits[0][0] >= hits[1][0]


def test_answer_uses_the_retrieved_context(store):
    question = next(c for c in store.chunks if c.doc == "expenses.md").text
    result = answer(question, store, k=2)
    assert "expenses.md" in result.sources
    assert result.scores == sorted(result.scores, reverse=True)
    assert result.text


def test_embedder_batches_keep_the_input_order(monkeypatch):
    monkeypatch.setattr("rag.indexer.EMBED_BATCH", 2)
    texts = ["alpha", "beta", "gamma", "delta", "epsilon"]
    vectors = Embedder()(texts)
    assert len(vectors) == 5
    assert vectors[3] == pytest.approx(Embedder()(["delta"])[0])


def test_index_built_with_another_model_is_refused(store):
    with pytest.raises(StoreError, match="re-index"):
        VectorStore.load(store.path, "text-embedding-3-large")


def test_split_respects_the_chunk_size():
    text = "\n\n".join(["a" * 50, "b" * 50, "c" * 130])
    chunks = split(text, size=120)
    assert all(len(c) <= 120 for c in chunks)
    assert "".join(chunks).replace("\n", "") == text.replace("\n", "")


def test_cosine_refuses_vectors_of_different_sizes():
    with pytest.raises(StoreError, match="sizes differ"):
        cosine([1.0, 2.0], [1.0])
