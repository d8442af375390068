"""The chain: prompt | ChatOpenAI | string parser. LangChain hides the SDK, not the lock-in."""

import os
from collections.abc import Iterator

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

from faq.knowledge import faq_text

FAQ_MODEL = os.environ.get("FAQ_MODEL", "gpt-4o-mini")

PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer from this FAQ only; otherwise say you will forward the question.\n{faq}"),
        ("human", "{question}"),
    ]
)


def build_llm(streaming: bool = False) -> ChatOpenAI:
    return ChatOpenAI(model=FAQ_MODEL, temperature=0, max_retries=2, streaming=streaming)


class FaqAssistant:
    def __init__(self) -> None:
        self.chain = PROMPT | build_llm() | StrOutputParser()
        self.streaming_chain = PROMPT | build_llm(streaming=True) | StrOutputParser()

    def ask(self, question: str) -> str:
        return self.chain.invoke({"faq": faq_text(), "question": question})

    def stream(self, question: str) -> Iterator[str]:
        yield from self.streaming_chain.stream({"faq": faq_text(), "question": question})

    async def aask(self, question: str) -> str:
        return await self.chain.ainvoke({"faq": faq_text(), "question": question})
