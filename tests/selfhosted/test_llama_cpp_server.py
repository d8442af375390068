"""Offramp against a real self-hosted server: llama-cpp-python's OpenAI-compatible server, built from the package
registry, serving a tiny random-weight model made locally (make_tiny_gguf.py). `migrate probe`, the adapter and
`migrate shadow serve` are run against it as a user runs them; the shipped profile and the recorded wire shapes
(tests/fixtures/llamacpp/) are held to what it really answers.

Needs `pip install "llama-cpp-python[server]" gguf` (compiles llama.cpp) and torch + transformers (the model
recipe); skipped without them, a failure in CI.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import need_service
from tests.proxy_log import proxy_url

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "llamacpp"
KEY_ENV = "OFFRAMP_TEST_LLAMA_KEY"
SERVER_KEY = "sk-llama-local-0123456789"  # the server's own key: the candidate must use it, never the app's
APP_KEY = "sk-app-SECRET-0123456789abcdefXYZ"
N_CTX = 512
TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "Tokyo"]}},
            "required": ["city"],
        },
    },
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_gguf() -> Path:
    for module, why in (
        ("llama_cpp", "llama-cpp-python is not installed: pip install 'llama-cpp-python[server]' (compiles llama.cpp)"),
        ("uvicorn", "llama-cpp-python's server extra is not installed: pip install 'llama-cpp-python[server]'"),
        ("gguf", "gguf is not installed: pip install gguf (writes the test model)"),
        ("torch", "torch is not installed (makes the test model): pip install torch"),
        ("transformers", "transformers is not installed (makes the test model): pip install transformers"),
    ):
        if importlib.util.find_spec(module) is None:
            need_service(why)
    from tests.selfhosted import make_tiny_gguf

    return make_tiny_gguf.cached(REPO / ".offramp-cache" / "llama")


@pytest.fixture(scope="module")
def llama_server(tiny_gguf, tmp_path_factory):
    """`python -m llama_cpp.server` on 127.0.0.1 with the tiny model and an API key; yields its base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(tiny_gguf), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(N_CTX), "--model_alias", "tiny", "--seed", "1",
           "--api_key", SERVER_KEY]
    base = f"http://127.0.0.1:{port}/v1"
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120  # a deadline, not a wait: a loaded 2-core box loads slowly
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
                try:
                    r = httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {SERVER_KEY}"}, timeout=2)
                    if r.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not answer in 120 s:\n{log.read_text()[-2000:]}")
                time.sleep(0.2)
            yield base
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def server_env(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SERVER_KEY)
    return {**os.environ, KEY_ENV: SERVER_KEY}


def _migrate(*args: str, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "offramp.migrate", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


# --- migrate probe ------------------------------------------------------------------------------------------


def test_probe_finds_what_the_shipped_profile_says(llama_server, server_env, tmp_path):
    """The probe's findings on the real server agree with rules/backends/llama-cpp-python.toml."""
    from offramp.adapters.profiles import load_profile, load_profile_file

    out = tmp_path / "probed.toml"
    r = _migrate("probe", llama_server, "--model", "tiny", "--key-env", KEY_ENV, "--name", "llama-cpp-python",
                 "--output", str(out), env=server_env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert SERVER_KEY not in r.stdout + r.stderr + out.read_text()
    probed = load_profile_file(out).for_model("tiny")
    shipped = load_profile("llama-cpp-python", "tiny")
    for field in ("tools", "developer_role", "max_completion_tokens", "n", "json_object", "json_schema", "logprobs",
                  "stream_usage", "cache_usage", "reasoning_field", "tool_choice_forced", "tool_choice_required"):
        assert getattr(probed, field) == getattr(shipped, field), (field, r.stdout)
    assert "completions" in probed.capabilities


def test_probe_with_the_wrong_key_is_one_line(llama_server, tmp_path):
    env = {**os.environ, KEY_ENV: "sk-wrong"}
    r = _migrate("probe", llama_server, "--model", "tiny", "--key-env", KEY_ENV, "--output",
                 str(tmp_path / "p.toml"), env=env)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("error: authentication failed") and len(r.stderr.strip().splitlines()) == 1


# --- the adapter ----------------------------------------------------------------------------------------------


@pytest.fixture
def adapter_client(llama_server, server_env, tmp_path, monkeypatch):
    cfg = tmp_path / "offramp.toml"
    cfg.write_text(
        f'[backends.local]\nkind = "llama-cpp-python"\nbase_url = "{llama_server}"\napi_key_env = "{KEY_ENV}"\n'
        'default_model = "tiny"\n\n[routes]\ndefault = "local"\nfallback = []\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("OFFRAMP_CONFIG", str(cfg))
    from offramp.adapters import OpenAI

    return OpenAI(api_key=APP_KEY)


def _record(obj):
    return obj._offramp if hasattr(obj, "_offramp") else None


def test_adapter_chat(adapter_client):
    r = adapter_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "developer", "content": "Be brief."},
                                       {"role": "user", "content": "Hello"}],
        max_completion_tokens=8, seed=1,  # the server's sampler is seeded per request: the same words every run
    )
    choice = r.choices[0]
    assert isinstance(choice.message.content, str) and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens > 0
    rec = _record(r)
    assert rec.backend == "local" and rec.model_sent == "tiny" and rec.status == 200
    fields = {c.field for c in rec.changes}
    assert {"max_completion_tokens"} <= fields  # renamed to max_tokens: the server ignores the new name
    assert r.usage.completion_tokens <= 8  # …and the renamed limit was honoured


def test_adapter_stream(adapter_client):
    stream = adapter_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}], max_tokens=8, stream=True, seed=1,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_adapter_forced_tool_call_and_the_next_turn(adapter_client):
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    r = adapter_client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=[TOOL], tool_choice=NAMED, max_tokens=64,
    )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather" and call.id
    assert json.loads(call.function.arguments)["city"] in ("Paris", "Tokyo")
    assert choice.message.function_call is None  # the server sends both; OpenAI never does
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"}]
    after = adapter_client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[TOOL],
                                                   max_tokens=8)
    assert after.choices[0].message.content is not None and not after.choices[0].message.tool_calls


def test_adapter_required_with_one_tool_gets_its_call(adapter_client):
    r = adapter_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather?"}], tools=[TOOL],
        tool_choice="required", max_tokens=64,
    )
    assert r.choices[0].message.tool_calls[0].function.name == "get_weather"


def test_adapter_streamed_tool_call_accumulates_like_openai(adapter_client):
    """An app joins streamed tool-call pieces as OpenAI sends them: id and name once, arguments in pieces. The
    server repeats id and name in every delta; the app must still see one call named get_weather."""
    stream = adapter_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[TOOL],
        tool_choice=NAMED, max_tokens=64, stream=True,
    )
    calls: dict[int, dict] = {}
    finish = None
    for chunk in stream:
        for ch in chunk.choices:
            assert ch.delta.function_call is None
            for tc in ch.delta.tool_calls or []:
                acc = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                acc["id"] += tc.id or ""
                acc["name"] += (tc.function.name or "") if tc.function else ""
                acc["arguments"] += (tc.function.arguments or "") if tc.function else ""
            finish = ch.finish_reason or finish
    assert finish == "tool_calls"
    assert list(calls) == [0]
    assert calls[0]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"])["city"] in ("Paris", "Tokyo")


def test_adapter_answers_the_servers_500_rejection_as_a_400(adapter_client):
    """The server's ValueError for a tool_choice naming no given tool is an HTTP 500; retried, it would be sent
    three times and reach the app as a server fault."""
    from offramp.adapters import BadRequestError

    with pytest.raises(BadRequestError) as exc:
        adapter_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], tools=[TOOL], max_tokens=8,
            tool_choice={"type": "function", "function": {"name": "get_time"}},
        )
    assert "Tool choice 'get_time' not found in tools." in str(exc.value)


def test_adapter_emulates_json_schema(adapter_client):
    """json_schema (500 on this server) becomes json_object + the schema in the prompt, validated; the random
    model's output is gibberish, so the adapter's answer is a conforming reply or its one-line schema error."""
    from offramp.adapters import APIStatusError

    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    try:
        r = adapter_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Give n."}], max_tokens=32,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        )
    except APIStatusError as exc:
        assert exc.status_code == 422 and "does not match the requested JSON schema" in str(exc)
    else:
        assert isinstance(json.loads(r.choices[0].message.content)["n"], int)


# --- migrate shadow serve ------------------------------------------------------------------------------------


def test_shadow_serve_with_the_real_server_as_candidate(llama_server, server_env, tmp_path):
    from offramp.migrate.fake_upstream.testing import FakeUpstream

    store = tmp_path / "shadow.db"
    cfg = tmp_path / "shadow.toml"
    log = tmp_path / "serve.log"
    with FakeUpstream("openai") as primary:
        cfg.write_text(
            f'[primary]\nbase_url = "{primary.base_url}"\nkind = "openai"\n\n'
            f'[candidate]\nname = "llama"\nbase_url = "{llama_server}"\nkind = "llama-cpp-python"\n'
            f'api_key_env = "{KEY_ENV}"\nmodels = {{ "*" = "tiny" }}\n\n'
            f'[mirror]\nnoise_sample = 0.0\ntimeout_s = 120\n\n'
            f'[comparators]\nenabled = ["structural", "text_exact", "token_similarity"]\n\n'
            f'[store]\nurl = "sqlite:///{store}"\nflush_interval_s = 0.05\n',
            encoding="utf-8",
        )
        env = {**server_env, "OFFRAMP_ADMIN_TOKEN": "llama-admin-token-xyz"}
        requests = [
            {"messages": [{"role": "user", "content": "Name three prime numbers."}], "max_tokens": 8},
            {"messages": [{"role": "user", "content": "Count to five."}], "max_tokens": 8, "stream": True},
            {"messages": [{"role": "user", "content": "Weather in Paris?"}], "max_tokens": 48,
             "tools": [TOOL], "tool_choice": NAMED, "stream": True},
        ]
        with open(log, "w") as fh:
            proc = subprocess.Popen([sys.executable, "-m", "offramp.migrate", "shadow", "serve", "--config", str(cfg),
                                     "--port", "0"], stderr=fh, stdout=subprocess.DEVNULL, env=env)
            try:
                base = proxy_url(log)
                answers = []
                for i, body in enumerate(requests, 1):
                    r = httpx.post(f"{base}/chat/completions", json={"model": "gpt-4o-mini", **body},
                                   headers={"Authorization": f"Bearer {APP_KEY}"}, timeout=60)
                    assert r.status_code == 200, r.text
                    answers.append(r.text)
                    # one at a time: this server cuts a stream in progress when another request arrives
                    _wait_pairs(store, i, server_env)
            finally:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(30) == 0, log.read_text()[-2000:]
        # The primary's answers are the fake OpenAI's, untouched by the candidate.
        assert json.loads(answers[0])["choices"][0]["message"]["content"].startswith("Echo: ")
        assert answers[1].rstrip().endswith("data: [DONE]")
        assert primary.requests[-1].headers.get("authorization") != f"Bearer {SERVER_KEY}"
    summary = json.loads(_migrate("shadow", "status", "--store", str(store), "--json", env=server_env).stdout)
    assert summary["pairs"] == 3
    assert summary["comparators"]["structural"]["candidate"]["n"] == 3
    # The candidate answered all three with its own key (the app's would be a 401 error here).
    assert summary["sides"]["candidate"]["errors"] == 0, summary
    assert summary["sides"]["candidate"]["n"] == 3
    assert SERVER_KEY not in log.read_text() and APP_KEY not in log.read_text()
    from sqlalchemy import create_engine, text

    eng = create_engine(f"sqlite:///{store}")
    with eng.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM shadow_pairs ORDER BY created_at"))]
    eng.dispose()
    assert [r["candidate_status"] for r in rows] == [200, 200, 200] and [r["stream"] for r in rows] == [0, 1, 1]
    assert json.loads(rows[0]["candidate_request"])["model"] == "tiny"
    # the streamed tool call, assembled from deltas that each repeat the call's id and name, is one call
    (call,) = json.loads(rows[2]["candidate_body"])["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"



def _wait_pairs(store: Path, n: int, env: dict) -> None:
    from sqlalchemy import create_engine, inspect, text

    eng = create_engine(f"sqlite:///{store}")
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if store.exists() and inspect(eng).has_table("shadow_pairs"):
                with eng.connect() as conn:
                    if conn.execute(text("SELECT COUNT(*) FROM shadow_pairs")).scalar() >= n:
                        return
            time.sleep(0.1)
    finally:
        eng.dispose()
    raise AssertionError(f"{n} shadow pairs not recorded in 90 s")


# --- recorded shapes ----------------------------------------------------------------------------------------


def test_live_server_still_answers_the_recorded_shapes(llama_server):
    """tests/fixtures/llamacpp/ were recorded from this server; the live one must answer the same statuses and
    structures (values differ: ids, times, the random model's words)."""
    from tests.selfhosted.capture import capture, differences

    live = capture(llama_server, "tiny", N_CTX, api_key=SERVER_KEY)
    for name, got in live.items():
        want = json.loads((FIXTURES / f"{name}.json").read_text())
        assert differences(want, got) == [], name


async def test_ramp_serves_the_real_server_and_records_the_bytes_the_app_got(llama_server, server_env, tmp_path):
    """The ramp at 100% with every served request shadowed: the real server answers the app (with its own key),
    and the record stores the candidate's body as the app received it — llama-cpp-python sends `function_call`
    beside `tool_calls`, which normalisation drops, so a normalised copy would differ from what was served."""
    import aiohttp
    from sqlalchemy import select

    from offramp.migrate.fake_upstream.testing import FakeUpstream
    from offramp.shadow.config import ShadowConfig
    from offramp.shadow.proxy import ShadowProxy, start_site
    from offramp.shadow.ramp.controller import RampController
    from offramp.shadow.ramp.plan import RampPlan
    from offramp.shadow.ramp.store import RampStore
    from offramp.shadow.store import open_engine, schema

    url = f"sqlite:///{tmp_path / 'ramp.db'}"
    with FakeUpstream("openai") as primary:
        cfg = ShadowConfig.model_validate({
            "primary": {"name": "openai", "base_url": primary.base_url, "kind": "openai"},
            "candidate": {"name": "llama", "base_url": llama_server, "kind": "llama-cpp-python",
                          "api_key_env": KEY_ENV, "models": {"*": "tiny"}},
            "store": {"url": url, "flush_interval_s": 0.05},
            "mirror": {"noise_sample": 0.0, "sample": 0.0},
            "comparators": {"enabled": ["structural", "text_exact"]},
        })
        eng = open_engine(url)
        store = RampStore(eng)
        store.ensure()
        RampController(RampPlan(), store, source=None).command("set", 100)  # type: ignore[arg-type]
        eng.dispose()
        proxy = ShadowProxy(cfg, admin_token="adm")
        runner = await start_site(proxy, "127.0.0.1", 0)
        proxy.ramp.plan.shadow_candidate_served = 1.0
        host, port = runner.addresses[0][:2]
        got = []
        try:
            async with aiohttp.ClientSession() as s:
                for body in ({"messages": [{"role": "user", "content": "Name three prime numbers."}],
                              "max_tokens": 8},
                             {"messages": [{"role": "user", "content": "Weather in Paris?"}], "max_tokens": 48,
                              "tools": [TOOL], "tool_choice": NAMED}):
                    async with s.post(f"http://{host}:{port}/v1/chat/completions",
                                      json={"model": "gpt-4o-mini", **body},
                                      headers={"authorization": f"Bearer {APP_KEY}"},
                                      timeout=aiohttp.ClientTimeout(total=120)) as r:
                        assert r.status == 200 and r.headers.get("x-offramp-served-by") == "candidate"
                        got.append(await r.read())
            await proxy.ramp_server.drain(timeout_s=60)
            await proxy.writer.flush()
        finally:
            await runner.cleanup()
    eng = open_engine(url)
    with eng.connect() as conn:
        pairs = sorted(conn.execute(select(schema.pairs)).all(), key=lambda p: p.created_at)
        cmps = conn.execute(select(schema.comparisons.c.pair_id, schema.comparisons.c.comparator)).all()
    eng.dispose()
    assert [p.served_by for p in pairs] == ["candidate", "candidate"]
    assert [p.candidate_body.encode() for p in pairs] == got
    assert all(p.primary_status == 200 and p.candidate_status == 200 for p in pairs)
    assert {(c.pair_id, c.comparator) for c in cmps} == {(p.id, n) for p in pairs for n in ("structural", "text_exact")}
    (call,) = json.loads(got[1])["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert APP_KEY not in str([p._mapping for p in pairs])
