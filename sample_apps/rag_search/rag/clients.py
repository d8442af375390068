"""The one OpenAI client of the process (connection pooling across the indexer and the answerer)."""

from openai import OpenAI

_client: OpenAI | None = None


def get_client() -> OpenAI:
    global _client
    if _client is None:
        _client = OpenAI(max_retries=4)
    return _client
