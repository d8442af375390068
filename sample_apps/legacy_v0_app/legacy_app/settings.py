"""OpenAI configuration from the environment, applied to the SDK's module globals at start-up.

Works against Azure OpenAI (deployments) when AZURE_OPENAI_ENDPOINT is set, else against OpenAI or any
OpenAI-compatible server given by OPENAI_API_BASE.
"""

import os

import openai

CHAT_MODEL = "gpt-3.5-turbo"
COMPLETION_MODEL = "gpt-3.5-turbo-instruct"
EMBEDDING_MODEL = "text-embedding-ada-002"
AZURE_API_VERSION = "2023-05-15"


class Settings:
    def __init__(self):
        self.azure_endpoint = os.environ.get("AZURE_OPENAI_ENDPOINT")
        self.api_key = os.environ.get("AZURE_OPENAI_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self.api_base = os.environ.get("OPENAI_API_BASE", "https://api.openai.com/v1")
        self.chat_deployment = os.environ.get("AZURE_CHAT_DEPLOYMENT", "chat-gpt35")
        self.embedding_deployment = os.environ.get("AZURE_EMBEDDING_DEPLOYMENT", "embed-ada")
        self.request_timeout = float(os.environ.get("TICKETS_REQUEST_TIMEOUT", "20"))
        self.retry_base_delay = float(os.environ.get("TICKETS_RETRY_BASE_DELAY", "0.5"))

    @property
    def is_azure(self):
        return bool(self.azure_endpoint)


settings = Settings()


def configure():
    """Read the environment again and point the SDK at the right service."""
    global settings
    settings = Settings()
    if not settings.api_key:
        raise RuntimeError("set OPENAI_API_KEY (or AZURE_OPENAI_API_KEY for Azure)")
    openai.api_key = settings.api_key
    if settings.is_azure:
        openai.api_type = "azure"
        openai.api_base = settings.azure_endpoint
        openai.api_version = AZURE_API_VERSION
    else:
        openai.api_type = "open_ai"
        openai.api_base = settings.api_base
    return settings
