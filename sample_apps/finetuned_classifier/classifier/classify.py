"""Route a ticket to a queue. The fine-tuned model answers with the bare label."""

from dataclasses import dataclass

from classifier.client import shared_client
from classifier.models import FALLBACK_LABEL, LABELS, TICKET_MODEL

SYSTEM = "Classify the support ticket. Answer with one label: " + ", ".join(LABELS) + "."


@dataclass(frozen=True)
class Routing:
    label: str
    raw: str
    confident: bool


def normalize_label(raw: str) -> str:
    word = raw.strip().lower().strip(".!\"' ")
    return word if word in LABELS else FALLBACK_LABEL


def classify(ticket: str) -> Routing:
    client = shared_client()
    completion = client.chat.completions.create(
        model=TICKET_MODEL,
        messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": ticket}],
        temperature=0,
        max_tokens=5,
    )
    raw = completion.choices[0].message.content or ""
    label = normalize_label(raw)
    return Routing(label=label, raw=raw, confident=label != FALLBACK_LABEL or raw.strip().lower() == FALLBACK_LABEL)


def route_all(tickets: list[str]) -> dict[str, list[str]]:
    queues: dict[str, list[str]] = {label: [] for label in LABELS}
    for ticket in tickets:
        queues[classify(ticket).label].append(ticket)
    return queues
