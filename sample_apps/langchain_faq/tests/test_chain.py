import pytest

pytest.importorskip("langchain_openai", reason="langchain-openai is not installed: pip install langchain-openai")

from faq.chain import FaqAssistant  # noqa: E402
from faq.knowledge import faq_text  # noqa: E402


def test_ask_answers_the_question():
    answer = FaqAssistant().ask("When are you open on Saturday?")
    assert "When are you open on Saturday?" in answer


def test_stream_yields_the_answer_in_pieces():
    pieces = list(FaqAssistant().stream("Do you ship to Austria?"))
    assert len(pieces) > 1
    assert "Do you ship to Austria?" in "".join(pieces)


async def test_async_ask():
    assert "How do returns work?" in await FaqAssistant().aask("How do returns work?")


def test_faq_text_lists_every_topic():
    assert faq_text().count("\n") == 2 and "returns" in faq_text()
