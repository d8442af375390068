"""Client factories: one place decides timeouts and retries for every caller."""

from openai import AsyncOpenAI, OpenAI

from support_chatbot.config import MAX_RETRIES, REQUEST_TIMEOUT


def make_client() -> OpenAI:
    # api_key and base_url come from OPENAI_API_KEY / OPENAI_BASE_URL.
    return OpenAI(timeout=REQUEST_TIMEOUT, max_retries=MAX_RETRIES)


def make_async_client() -> AsyncOpenAI:
    return AsyncOpenAI(timeout=REQUEST_TIMEOUT, max_retries=MAX_RETRIES)
