"""The synchronous bot used by the web widget and the CLI."""

from collections.abc import Iterator

from support_chatbot.clients import make_client
from support_chatbot.config import CHAT_MODEL
from support_chatbot.history import History


class SupportBot:
    def __init__(self, client=None, model: str = CHAT_MODEL) -> None:
        self.client = client or make_client()
        self.model = model
        self.history = History()

    def reply(self, question: str) -> str:
        self.history.add("user", question)
        completion = self.client.chat.completions.create(
            model=self.model,
            messages=self.history.messages(),
            temperature=0.2,
        )
        answer = completion.choices[0].message.content or ""
        self.history.add("assistant", answer)
        return answer

    def stream_reply(self, question: str) -> Iterator[str]:
        """Yield the answer piece by piece so the widget can render as it arrives."""
        self.history.add("user", question)
        stream = self.client.chat.completions.create(
            model=self.model,
            messages=self.history.messages(),
            stream=True,
        )
        parts: list[str] = []
        for chunk in stream:
            if not chunk.choices:
                continue
            delta = chunk.choices[0].delta.content
            if delta:
                parts.append(delta)
                yield delta
        self.history.add("assistant", "".join(parts))
