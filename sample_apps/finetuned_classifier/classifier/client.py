"""The shared client; the org header keeps the fine-tuned model visible to this project."""

import os
from functools import lru_cache

from openai import OpenAI


@lru_cache(maxsize=1)
def shared_client() -> OpenAI:
    return OpenAI(organization=os.environ.get("OPENAI_ORG_ID"), max_retries=3)
