"""The async bot used by the websocket gateway: many conversations share one event loop."""

import asyncio
from collections.abc import AsyncIterator

from support_chatbot.clients import make_async_client
from support_chatbot.config import CHAT_MODEL
from support_chatbot.history import History


class AsyncSupportBot:
    def __init__(self, model: str = CHAT_MODEL) -> None:
        self.client = make_async_client()
        self.model = model
        self.history = History()

    async def reply(self, question: str) -> str:
        self.history.add("user", question)
        completion = await self.client.chat.completions.create(
            model=self.model,
            messages=self.history.messages(),
        )
        answer = completion.choices[0].message.content or ""
        self.history.add("assistant", answer)
        return answer

    async def stream_reply(self, question: str) -> AsyncIterator[str]:
        self.history.add("user", question)
        stream = await self.client.chat.completions.create(
            model=self.model,
            messages=self.history.messages(),
            stream=True,
        )
        parts: list[str] = []
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                parts.append(chunk.choices[0].delta.content)
                yield chunk.choices[0].delta.content
        self.history.add("assistant", "".join(parts))

    async def close(self) -> None:
        await self.client.close()


async def answer_all(questions: list[str]) -> list[str]:
    """Answer independent questions concurrently, one bot (and history) per question."""
    bots = [AsyncSupportBot() for _ in questions]
    try:
        return await asyncio.gather(*(bot.reply(q) for bot, q in zip(bots, questions, strict=True)))
    finally:
        await asyncio.gather(*(bot.close() for bot in bots))
