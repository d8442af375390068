import os

import pytest

from legacy_app import settings
from legacy_app.summarize import draft_reply, subject_line, summarize_ticket

TICKET = "The invoice PDF for order 5521 is blank when I download it from the portal."


@pytest.fixture(autouse=True)
def configured(monkeypatch):
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    return settings.configure()


def test_configure_reads_the_environment(configured):
    assert not configured.is_azure
    assert configured.api_base == os.environ["OPENAI_API_BASE"]
    assert configured.api_key == os.environ["OPENAI_API_KEY"]


def test_configure_refuses_to_run_without_a_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    with pytest.raises(RuntimeError, match="OPENAI_API_KEY"):
        settings.configure()


def test_summarize_ticket_returns_the_model_text():
    summary = summarize_ticket(TICKET)
    assert TICKET in summary
    assert summary == summary.strip()


async def test_draft_reply_reports_text_and_usage():
    draft = await draft_reply(TICKET, tone="formal")
    assert TICKET in draft["text"]
    assert draft["tokens"] > 0


def test_subject_line_uses_the_completions_endpoint():
    subject = subject_line(TICKET)
    assert subject
    assert subject == subject.strip()
