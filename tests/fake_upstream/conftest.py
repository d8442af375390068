"""One fake server per flavor per module (start/stop costs milliseconds); state is reset before each test."""

from __future__ import annotations

import openai
import pytest

from offramp.migrate.fake_upstream.testing import FakeUpstream, fleet, reset_all

MODELS = {"openai": "gpt-4o", "deepseek": "deepseek-flash", "vllm": "deepseek-ai/DeepSeek-V4-Flash"}


@pytest.fixture(scope="module")
def _servers():
    with fleet(MODELS) as fakes:
        yield fakes


@pytest.fixture
def fakes(_servers):
    return reset_all(_servers)


@pytest.fixture(params=list(MODELS))
def fake(request, fakes):
    return fakes[request.param]


def client(fake: FakeUpstream, **kw) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=fake.base_url, api_key="sk-test-key", max_retries=kw.pop("max_retries", 0), **kw
    )


def aclient(fake: FakeUpstream, **kw) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=fake.base_url, api_key="sk-test-key", max_retries=kw.pop("max_retries", 0), **kw
    )
