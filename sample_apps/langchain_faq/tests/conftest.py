"""These tests talk to a real OpenAI-compatible server (never mocks): point OPENAI_BASE_URL at one."""

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get("OPENAI_BASE_URL"):
        raise pytest.UsageError(
            "OPENAI_BASE_URL is not set: start a test server (`migrate fake-upstream --port 8765`) and export "
            "OPENAI_BASE_URL=http://127.0.0.1:8765/v1 OPENAI_API_KEY=test-key"
        )
    os.environ.setdefault("OPENAI_API_KEY", "test-key")
