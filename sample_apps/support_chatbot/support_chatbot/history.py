"""Conversation history trimmed to the last turns, so long chats stay inside the context window."""

from support_chatbot.config import MAX_HISTORY_TURNS, SYSTEM_PROMPT


class History:
    def __init__(self, max_turns: int = MAX_HISTORY_TURNS) -> None:
        self.max_turns = max_turns
        self.turns: list[dict[str, str]] = []

    def add(self, role: str, content: str) -> None:
        self.turns.append({"role": role, "content": content})
        # A turn is a user message and the assistant's answer.
        excess = len(self.turns) - 2 * self.max_turns
        if excess > 0:
            del self.turns[:excess]

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": SYSTEM_PROMPT}, *self.turns]
