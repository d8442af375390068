"""Settings read from the environment once, so every module agrees on the model and limits."""

import os

CHAT_MODEL = os.environ.get("SUPPORT_CHAT_MODEL", "gpt-4o-mini")
MAX_HISTORY_TURNS = int(os.environ.get("SUPPORT_MAX_HISTORY", "10"))
REQUEST_TIMEOUT = float(os.environ.get("SUPPORT_TIMEOUT_SECONDS", "30"))
MAX_RETRIES = int(os.environ.get("SUPPORT_MAX_RETRIES", "2"))

SYSTEM_PROMPT = (
    "You are Acme's support assistant. Answer briefly and politely. "
    "If you do not know, say so and offer to open a ticket."
)
