"""Acme support chatbot: answers customer questions from the help-centre persona."""

from support_chatbot.async_bot import AsyncSupportBot
from support_chatbot.bot import SupportBot

__all__ = ["AsyncSupportBot", "SupportBot"]
