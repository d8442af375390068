"""Fakes per flavor (one server each for the whole session, reset per test) and config helpers."""

from __future__ import annotations

import pytest

FLAVORS = ("openai", "deepseek", "vllm")


@pytest.fixture(scope="session")
def _servers():
    from offramp.migrate.fake_upstream.testing import fleet

    with fleet(FLAVORS) as fakes:
        yield fakes


@pytest.fixture
def fakes(_servers):
    from offramp.migrate.fake_upstream.testing import reset_all

    return reset_all(_servers)


@pytest.fixture
def ds(fakes):
    return fakes["deepseek"]


@pytest.fixture
def oa(fakes):
    return fakes["openai"]


@pytest.fixture
def vl(fakes):
    return fakes["vllm"]


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
    monkeypatch.setenv("DS_KEY", "sk-deepseek-test")
    monkeypatch.delenv("OFFRAMP_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no stray offramp.toml from the repo or a parent
    from offramp import adapters

    adapters.reset()


