import pytest

from classifier.classify import classify, normalize_label, route_all
from classifier.models import LABELS


def test_classify_routes_every_ticket_to_a_known_queue():
    routing = classify("I was charged twice for my subscription.")
    assert routing.label in LABELS
    assert routing.raw, "the model's raw answer is kept for auditing"
    # An answer that is not a bare label goes to the fallback queue, flagged as not confident.
    if routing.raw.strip().lower() not in LABELS:
        assert routing.label == "other" and not routing.confident


def test_route_all_puts_each_ticket_in_one_queue():
    tickets = ["parcel is late", "app crashes on start", "change my e-mail"]
    queues = route_all(tickets)
    assert set(queues) == set(LABELS)
    assert sorted(t for q in queues.values() for t in q) == sorted(tickets)


@pytest.mark.parametrize(
    ("raw", "label"),
    [("billing", "billing"), (" Shipping.\n", "shipping"), ("'technical'", "technical"), ("refund", "other")],
)
def test_normalize_label(raw, label):
    assert normalize_label(raw) == label
