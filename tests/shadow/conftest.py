"""Fixtures: fake primary (OpenAI flavor) and candidate (DeepSeek flavor), and a running proxy factory."""

from __future__ import annotations

import contextlib

import pytest

from offramp.migrate.fake_upstream.testing import FakeUpstream
from offramp.shadow.config import ShadowConfig, Upstream
from offramp.shadow.proxy import ShadowProxy, start_site

APP_KEY = "sk-app-SECRET-0123456789abcdefXYZ"
CAND_KEY = "sk-cand-SECRET-9876543210zyxwvuQRS"
ADMIN = "admin-token-for-tests-123"


@pytest.fixture(scope="session")
def primary_fake():
    with FakeUpstream("openai") as fake:
        yield fake


@pytest.fixture(scope="session")
def candidate_fake():
    with FakeUpstream("deepseek") as fake:
        yield fake


@pytest.fixture(autouse=True)
def _reset(primary_fake, candidate_fake, monkeypatch):
    primary_fake.reset()
    candidate_fake.reset()
    monkeypatch.setenv("OFFRAMP_TEST_CAND_KEY", CAND_KEY)
    yield


def make_config(primary_url: str, candidate_url: str, store_url: str, **sections) -> ShadowConfig:
    data = {
        "primary": Upstream(name="openai", base_url=primary_url, kind="openai").model_dump(),
        "candidate": Upstream(
            name="deepseek", base_url=candidate_url, kind="deepseek", api_key_env="OFFRAMP_TEST_CAND_KEY",
            models={"*": "deepseek-flash"},
        ).model_dump(),
        "store": {"url": store_url, "flush_interval_s": 0.05},
        # worker_nice 0: on a CI host busy with other jobs a niced worker can wait long for the CPU, and these
        # tests wait for its pairs (the nice default is measured in bench/proxy).
        "mirror": {"noise_sample": 0.0, "worker_nice": 0},
        "comparators": {"enabled": ["structural", "text_exact", "token_similarity"]},
    }
    for k, v in sections.items():
        data.setdefault(k, {}).update(v)
    return ShadowConfig.model_validate(data)


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path / 'shadow.db'}"


@pytest.fixture
def proxy_factory(primary_fake, candidate_fake, store_url):
    """`async with proxy_factory(**sections) as (proxy, base_url)`: a proxy on a free port, stopped after."""
    runners = []

    @contextlib.asynccontextmanager
    async def factory(primary_url=None, candidate_url=None, admin_token=ADMIN, **sections):
        cfg = make_config(primary_url or primary_fake.base_url, candidate_url or candidate_fake.base_url,
                          store_url, **sections)
        proxy = ShadowProxy(cfg, admin_token=admin_token)
        runner = await start_site(proxy, "127.0.0.1", 0)
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        # The mirror worker processes import the comparators and the store first (seconds on a busy machine):
        # tests time what the proxy does, not a cold interpreter start.
        await wait_for(lambda: all(ln.ready for ln in proxy.mirror.links), timeout=60)
        try:
            yield proxy, f"http://{host}:{port}/v1"
        finally:
            if runner in runners:
                runners.remove(runner)
                await runner.cleanup()

    yield factory


@pytest.fixture(scope="session", autouse=True)
def _json_log_file(tmp_path_factory):
    """Every shadow log line of the suite goes to a file under the session's temp dir (grepped for keys)."""
    from offramp.shadow.logs import setup_logging

    path = tmp_path_factory.getbasetemp() / "shadow-suite.log"
    fh = open(path, "a", encoding="utf-8")  # noqa: SIM115
    setup_logging("debug", stream=fh)
    yield path
    fh.close()


def auth(key: str = APP_KEY) -> dict:
    return {"authorization": f"Bearer {key}"}


def chat(content: str = "hello", **extra) -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": content}], **extra}


async def wait_for(pred, timeout: float = 30.0, interval: float = 0.02):
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        await asyncio.sleep(interval)
    raise AssertionError("condition not reached in time")


def rows(store_url: str, table: str = "shadow_pairs") -> list[dict]:
    from sqlalchemy import text

    from offramp.shadow.store import migrate, open_engine

    eng = open_engine(store_url)
    migrate(eng)
    with eng.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table}"))]
    eng.dispose()
    return out
