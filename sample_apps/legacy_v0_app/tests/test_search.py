import pytest

from legacy_app import settings
from legacy_app.search import TicketIndex, cosine, embed

TICKETS = [
    "Refund not received after returning the blender.",
    "Cannot log in since the password reset.",
    "Parcel delivered to the wrong address.",
]


@pytest.fixture(autouse=True)
def configured(monkeypatch):
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    settings.configure()


def test_embed_returns_one_vector_per_text_in_order():
    vectors = embed(TICKETS)
    assert len(vectors) == 3
    assert len({len(v) for v in vectors}) == 1 and len(vectors[0]) > 8
    assert embed([TICKETS[1]])[0] == pytest.approx(vectors[1])


def test_similar_finds_the_same_ticket_first():
    index = TicketIndex()
    index.add(TICKETS)
    assert index.similar(TICKETS[2], k=1) == [TICKETS[2]]
    assert len(index.similar("anything", k=2)) == 2


def test_cosine():
    assert cosine([1.0, 0.0], [1.0, 0.0]) == pytest.approx(1.0)
    assert cosine([1.0, 0.0], [0.0, 1.0]) == pytest.approx(0.0)
    assert cosine([0.0, 0.0], [1.0, 0.0]) == 0.0
