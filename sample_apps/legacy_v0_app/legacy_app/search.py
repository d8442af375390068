"""Similar-ticket search over embeddings kept in memory (the ticket volume is small)."""

import math

import openai

from legacy_app import settings as cfg
from legacy_app.retry import with_retries


@with_retries()
def embed(texts):
    resp = openai.Embedding.create(input=texts, model=cfg.EMBEDDING_MODEL)
    return [item["embedding"] for item in sorted(resp["data"], key=lambda d: d["index"])]


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class TicketIndex:
    def __init__(self):
        self.tickets = []
        self.vectors = []

    def add(self, tickets):
        self.vectors.extend(embed(list(tickets)))
        self.tickets.extend(tickets)

    def similar(self, text, k=3):
        query = embed([text])[0]
        scored = sorted(
            ((cosine(query, vec), ticket) for vec, ticket in zip(self.vectors, self.tickets)),
            key=lambda pair: pair[0],
            reverse=True,
        )
        return [ticket for _, ticket in scored[:k]]
