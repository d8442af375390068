import pytest

from extraction.schemas import Invoice, Triage, strict_schema
from extraction.service import InvoiceExtractor

EMAIL = """From: billing@northwind.example
Invoice NW-2291 — 3 x espresso machine descaler at 12.50 EUR, 1 x grinder burr set at 48.00 EUR.
Total due: 85.50 EUR."""


@pytest.fixture(scope="module")
def extractor():
    return InvoiceExtractor()


def test_extract_returns_a_typed_invoice(extractor):
    invoice = extractor.extract(EMAIL)
    assert isinstance(invoice, Invoice)
    assert invoice.items and all(isinstance(item.quantity, int) for item in invoice.items)
    assert isinstance(invoice.total, float)


def test_extract_beta_gives_the_same_shape(extractor):
    invoice = extractor.extract_beta(EMAIL)
    assert isinstance(invoice, Invoice)
    assert set(invoice.model_dump()) == {"supplier", "invoice_number", "currency", "total", "items"}


def test_extract_raw_schema_validates_the_json(extractor):
    invoice = extractor.extract_raw_schema(EMAIL)
    assert isinstance(invoice, Invoice)
    assert invoice.items[0].description


def test_triage_parses_json_mode(extractor):
    triage = extractor.triage("Reminder: your invoice NW-2291 is overdue.")
    assert isinstance(triage, Triage)
    assert triage.kind in ("invoice", "reminder", "other")


def test_strict_schema_requires_every_field_and_forbids_extras():
    schema = strict_schema(Invoice)
    assert schema["required"] == ["supplier", "invoice_number", "currency", "total", "items"]
    assert schema["additionalProperties"] is False
    line_item = schema["$defs"]["LineItem"]
    assert line_item["required"] == ["description", "quantity", "unit_price"]
    assert line_item["additionalProperties"] is False
