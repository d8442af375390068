"""/v1/responses and /v1/embeddings through a running proxy against the fake upstreams: mirrored, compared,
stored, gated and reported."""

from __future__ import annotations

import asyncio
import json
import random

import aiohttp
import openai
import pytest

from offramp.migrate.fake_upstream.testing import FakeUpstream
from tests.proxy_log import proxy_url
from tests.shadow.conftest import ADMIN, APP_KEY, auth, rows, wait_for

TOPICS = [
    "billing invoice payment refund charge card receipt",
    "shipping delivery courier parcel tracking address late",
    "password login account reset email locked security",
    "recipe pasta tomato garlic basil oven dinner",
    "football match goal league referee team score",
    "python code function error import module debug",
    "weather rain forecast storm cloud wind sunny",
    "travel flight hotel booking airport luggage visa",
]
VLLM_MODELS = {"text-embedding-3-small": "BAAI/bge-m3", "*": "deepseek-ai/DeepSeek-V4-Flash"}


@pytest.fixture(scope="module")
def vllm_fake():
    with FakeUpstream("vllm") as fake:
        yield fake


@pytest.fixture(scope="module")
def vllm_degraded():
    with FakeUpstream("vllm", degrade="embedding_noise=0.7") as fake:
        yield fake


def vllm_candidate(fake, kind: str = "vllm") -> dict:
    return {"base_url": fake.base_url, "kind": kind, "api_key_env": "", "models": VLLM_MODELS}


def sdk(base: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base, api_key=APP_KEY, max_retries=0)


def corpus(n: int, seed: int = 7) -> list[str]:
    """Support-ticket-like inputs on eight topics: texts on one topic share words, so they are neighbours."""
    rng = random.Random(seed)
    fillers = ["please", "now", "help", "thanks", "today", "urgent", "again"]
    return [" ".join(rng.sample(TOPICS[i % len(TOPICS)].split(), 3)) + f" {rng.choice(fillers)} #{i}"
            for i in range(n)]


def verdicts(store_url: str) -> list[dict]:
    """Comparison rows with `agree` as a bool (SQLite hands back 0/1)."""
    return [{**c, "agree": None if c["agree"] is None else bool(c["agree"])}
            for c in rows(store_url, "shadow_comparisons")]


async def settled(proxy, n: int) -> None:
    try:
        await wait_for(lambda: proxy.mirror.recorded >= n, timeout=30)
    except AssertionError:
        raise AssertionError(f"{proxy.mirror.recorded} of {n} pairs written; mirror {proxy.mirror_state()}") from None


# ---- Responses --------------------------------------------------------------------------------------------------

TOOL = {"type": "function", "name": "lookup_order", "description": "Find an order",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}


async def _responses_traffic(base: str) -> None:
    async with sdk(base) as c:
        await _responses_calls(c)


async def _responses_calls(c) -> None:
    r = await c.responses.create(model="gpt-4o-mini", input="hello there", instructions="Be brief.")
    assert r.output_text == "Echo: hello there"  # the primary's answer, whatever the candidate does
    async with c.responses.stream(model="gpt-4o-mini", input="stream me please") as s:
        final = await s.get_final_response()
    assert final.output_text == "Echo: stream me please"
    t = await c.responses.create(model="gpt-4o-mini", input="where is order 42?", tools=[TOOL])
    assert t.output[0].type == "function_call" and t.output[0].name == "lookup_order"


@pytest.mark.parametrize("kind, sent_to", [("vllm", "/v1/responses"), ("sglang", "/v1/chat/completions")])
async def test_responses_mirrored_and_compared_native_or_via_chat(proxy_factory, store_url, vllm_fake, kind,
                                                                  sent_to):
    """vLLM's profile serves the Responses API: the request goes there as is. SGLang's does not: the same request
    is translated to a chat request, and its chat answer is compared with the primary's Responses answer."""
    async with proxy_factory(candidate=vllm_candidate(vllm_fake, kind)) as (proxy, base):
        await _responses_traffic(base)
        await settled(proxy, 3)
    pairs = sorted(rows(store_url), key=lambda p: p["created_at"])
    assert [p["endpoint"] for p in pairs] == ["/v1/responses"] * 3
    assert {p["candidate_endpoint"] for p in pairs} == {sent_to}
    assert all(p["candidate_error"] is None and p["candidate_status"] == 200 for p in pairs), pairs
    sent = [json.loads(p["candidate_request"]) for p in pairs]
    if kind == "sglang":
        assert sent[0]["messages"][0] == {"role": "system", "content": "Be brief."}
        assert sent[2]["tools"][0]["function"]["name"] == "lookup_order"
        assert "translated" in pairs[0]["translation_changes"]
    else:
        assert sent[0]["input"] == "hello there" and sent[0]["store"] is False
    stream_pair = pairs[1]
    assert stream_pair["stream"] and stream_pair["primary_ttft_ms"] is not None
    assert stream_pair["candidate_ttft_ms"] is not None
    assert stream_pair["primary_ttft_ms"] <= stream_pair["primary_total_ms"]
    cmps = verdicts(store_url)
    by = {(c["pair_id"], c["comparator"]): c for c in cmps}
    for p in pairs[:2]:  # text answers: the same words on both sides
        assert by[(p["id"], "structural")]["agree"] is True
        assert by[(p["id"], "text_exact")]["agree"] is True
    tool_cmp = by[(pairs[2]["id"], "structural")]
    assert tool_cmp["agree"] is not None  # a tool call on both sides, compared by name and parsed arguments
    if not tool_cmp["agree"]:
        assert all("tool_calls" in f for f in json.loads(tool_cmp["detail"])["fields"])
    assert by[(pairs[2]["id"], "text_exact")]["agree"] is None  # no text on either side


@pytest.fixture(scope="module")
def vllm_wrong_tool():
    with FakeUpstream("vllm", degrade="wrong_tool=1") as fake:
        yield fake


async def test_responses_candidate_calling_another_tool_disagrees(proxy_factory, store_url, vllm_wrong_tool):
    """Through the chat translation, a candidate that calls the other tool is caught by the structural diff on
    the tool call's name, as a chat pair would be."""
    other = {**TOOL, "name": "cancel_order", "description": "Cancel an order"}
    async with proxy_factory(candidate=vllm_candidate(vllm_wrong_tool, "sglang")) as (proxy, base):
        async with sdk(base) as c:
            r = await c.responses.create(model="gpt-4o-mini", input="where is it?", tools=[TOOL, other])
        assert r.output[0].name == "lookup_order"
        await settled(proxy, 1)
    (pair,) = rows(store_url)
    assert json.loads(pair["candidate_body"])["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == (
        "cancel_order")
    by = {c["comparator"]: c for c in verdicts(store_url)}
    assert by["structural"]["agree"] is False
    assert "choices.tool_calls.name" in json.loads(by["structural"]["detail"])["fields"]


async def test_responses_the_chat_translation_cannot_carry_are_recorded_not_sent(proxy_factory, store_url,
                                                                                   vllm_fake):
    async with proxy_factory(candidate=vllm_candidate(vllm_fake, "sglang")) as (proxy, base):
        async with sdk(base) as c:
            r = await c.responses.create(model="gpt-4o-mini", input="news today?", tools=[{"type": "web_search"}])
        assert r.output_text  # the primary answered
        await settled(proxy, 1)
    (pair,) = rows(store_url)
    assert pair["candidate_status"] is None and "web_search" in pair["candidate_error"]
    assert pair["translation_changes"].startswith("translation_error: NotChatExpressible")


@pytest.mark.parametrize("kind, sent_to", [("deepseek", "/v1/responses"), ("sglang", "/v1/chat/completions")])
async def test_responses_conversation_sent_with_its_earlier_turns(proxy_factory, store_url, vllm_fake,
                                                                   candidate_fake, kind, sent_to):
    """`previous_response_id` names state kept by the primary (DeepSeek's Responses API is stateless and refuses
    it): the mirror sends the earlier turns it saw, with the primary's answers, in the candidate's input."""
    cand = vllm_candidate(vllm_fake, "sglang") if kind == "sglang" else {}
    async with proxy_factory(candidate=cand) as (proxy, base), sdk(base) as c:
        first = await c.responses.create(model="gpt-4o-mini", input="remember 7", instructions="Be brief.")
        second = await c.responses.create(model="gpt-4o-mini", input="what number?", previous_response_id=first.id)
        async with c.responses.stream(model="gpt-4o-mini", input="and doubled?",
                                      previous_response_id=second.id) as s:
            third = await s.get_final_response()
        assert third.output_text == "Echo: and doubled?"
        with pytest.raises(openai.NotFoundError):  # the primary's own answer to an id it does not know
            await c.responses.create(model="gpt-4o-mini", input="x", previous_response_id="resp_elsewhere0")
        await settled(proxy, 3)
    pairs = sorted(rows(store_url), key=lambda p: p["created_at"])
    assert len(pairs) == 3 and all(p["candidate_status"] == 200 for p in pairs), pairs
    assert {p["candidate_endpoint"] for p in pairs} == {sent_to}
    third_sent = json.loads(pairs[2]["candidate_request"])
    assert "previous_response_id" not in third_sent
    if kind == "sglang":
        said = [(m["role"], m["content"]) for m in third_sent["messages"]]
        assert said == [("user", "remember 7"), ("assistant", "Echo: remember 7"), ("user", "what number?"),
                        ("assistant", "Echo: what number?"), ("user", "and doubled?")]  # instructions not inherited
    else:
        texts = [i["content"] if isinstance(i["content"], str) else i["content"][0]["text"]
                 for i in third_sent["input"]]
        assert texts == ["remember 7", "Echo: remember 7", "what number?", "Echo: what number?", "and doubled?"]
    assert "earlier items of the conversation" in pairs[2]["translation_changes"]
    by = {(c["pair_id"], c["comparator"]): c["agree"] for c in verdicts(store_url)}
    assert all(by[(p["id"], "text_exact")] is True for p in pairs)
    assert proxy.mirror.skips["stateful_request"] == 1  # the turn whose history the mirror never saw
    counted = {(r["name"], r["label"]): r["value"] for r in rows(store_url, "shadow_counters")}
    assert counted[("mirror_skip", "stateful_request")] == 1


# ---- Embeddings -------------------------------------------------------------------------------------------------


async def _embed(base: str, texts: list[str], batch: int = 10, **extra) -> list[list[float]]:
    out = []
    async with sdk(base) as c:
        for i in range(0, len(texts), batch):
            r = await c.embeddings.create(model="text-embedding-3-small", input=texts[i:i + batch], **extra)
            out += [d.embedding for d in r.data]
    return out


async def test_embeddings_neighbour_agreement_gated_and_reported(proxy_factory, store_url, primary_fake,
                                                                 vllm_fake):
    texts = corpus(260)
    async with proxy_factory(candidate=vllm_candidate(vllm_fake), mirror={"noise_sample": 1.0}) as (proxy, base):
        got = await _embed(base, texts)
        await settled(proxy, 26)
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{base[:-3]}/dashboard/report.json", headers=auth(ADMIN)) as r:
                assert r.status == 200
                dashboard = await r.json()
    direct = await _embed(primary_fake.base_url, texts[:10])
    for mine, theirs in zip(got[:10], direct, strict=True):  # the app gets the primary's vectors, untouched
        assert mine == pytest.approx(theirs, abs=1e-6)
    pairs = rows(store_url)
    assert len(pairs) == 26 and {p["endpoint"] for p in pairs} == {"/v1/embeddings"}
    assert {(p["primary_dims"], p["candidate_dims"], p["noise_dims"]) for p in pairs} == {(1536, 1024, 1536)}
    for p in pairs:  # the vectors' size is stored, never the vectors
        for side in ("primary_body", "candidate_body", "noise_body"):
            assert "embedding\":" not in p[side] and len(p[side]) < 1500, p[side][:200]
    cmps = verdicts(store_url)
    judged = [c for c in cmps if c["agree"] is not None]
    n5 = [c for c in judged if c["comparator"] == "knn_at_5" and c["side"] == "candidate"]
    n10 = [c for c in judged if c["comparator"] == "knn_at_10" and c["side"] == "candidate"]
    assert len(n5) == 260 - 25 and len(n10) == 260 - 50  # every input past the warm-up: batches count per input
    mean5 = sum(c["score"] for c in n5) / len(n5)
    assert mean5 > 0.65  # the fake's two models mostly agree on which texts are near
    noise = [c for c in judged if c["side"] == "noise"]
    assert noise and all(c["agree"] and c["score"] == 1.0 for c in noise)  # the primary agrees with itself

    emb = next(e for e in dashboard["endpoints"] if e["endpoint"] == "/v1/embeddings")
    assert emb["dimension_mismatch"] is True and "re-index needed" in emb["reindex"]
    assert emb["primary_dims"] == [1536] and emb["candidate_dims"] == [1024]
    at5 = next(n for n in emb["neighbours"] if n["k"] == 5)
    assert at5["candidate_n"] == 235 and at5["noise_mean_overlap"] == 1.0
    assert at5["candidate_mean_overlap"] == pytest.approx(mean5, abs=1e-3)
    gates = {m["name"]: m for m in dashboard["gates"]["metrics"]}
    assert gates["knn_at_5"]["outcome"] == "pass" and gates["knn_at_10"]["outcome"] == "pass"
    assert gates["knn_at_5"]["dry_run"] is True  # advisory: the ramp serves chat only
    assert gates["knn_at_5"]["setting"] == "ramp.gates.per_comparator.knn_at_5"
    assert gates["error_rate"]["samples"] == 0  # embeddings pairs stay out of the ramp's operational gates


async def test_several_mirror_workers_keep_whole_windows_and_conversations(proxy_factory, store_url, vllm_fake):
    """With `mirror.processes` > 1 the embeddings jobs all go to one worker (its neighbour windows are whole), and a
    conversation's turns, handed to different workers, still carry their earlier items (from the proxy's log)."""
    async with proxy_factory(candidate=vllm_candidate(vllm_fake), mirror={"noise_sample": 0.0, "processes": 2}) as (
            proxy, base), sdk(base) as c:
        assert len(proxy.mirror.links) == 2
        first = await c.responses.create(model="gpt-4o-mini", input="remember 7")
        await c.responses.create(model="gpt-4o-mini", input="what number?", previous_response_id=first.id)
        await _embed(base, corpus(260))
        await settled(proxy, 28)
    pairs = sorted(rows(store_url), key=lambda p: p["created_at"])
    follow_up = next(p for p in pairs if p["endpoint"] == "/v1/responses" and "what number" in p["request_body"])
    assert "earlier items of the conversation" in follow_up["translation_changes"]
    sent = json.loads(follow_up["candidate_request"])
    said = [m["content"] for m in sent["messages"]] if "messages" in sent else [
        i["content"] if isinstance(i["content"], str) else i["content"][0]["text"] for i in sent["input"]]
    assert said == ["remember 7", "Echo: remember 7", "what number?"]
    n5 = [v for v in verdicts(store_url) if v["comparator"] == "knn_at_5" and v["agree"] is not None]
    assert len(n5) == 260 - 25  # one window saw every input: split over two workers it would judge fewer


async def test_degraded_candidate_embeddings_fail_the_neighbour_gate(proxy_factory, store_url, vllm_degraded):
    from offramp.shadow.report import build_report, render_terminal
    from offramp.shadow.store import open_engine

    # Every batch asked of the primary twice: with half of them sampled at random, 3 or 4 noise batches of 13
    # (~13% of runs) left knn_at_10 fewer noise inputs past its 50-input warm-up than min_baseline_samples (30),
    # and the gate held instead of failing.
    async with proxy_factory(candidate=vllm_candidate(vllm_degraded), mirror={"noise_sample": 1.0}) as (proxy, base):
        await _embed(base, corpus(260, seed=3), batch=20)
        await settled(proxy, 13)
    engine = open_engine(store_url)
    rep = build_report(engine)
    gates = {m.name: m for m in rep.gates.metrics}
    assert gates["knn_at_5"].outcome.value == "fail" and gates["knn_at_10"].outcome.value == "fail"
    assert rep.gates.outcome.value != "fail"  # advisory: it never rolls back the chat ramp
    text = render_terminal(rep, width=220)
    assert "Mirrored endpoints" in text and "re-index needed: dimension mismatch" in text
    emb = next(e for e in rep.endpoints if e.endpoint == "/v1/embeddings")
    assert next(n for n in emb.neighbours if n.k == 10).candidate_mean_overlap < 0.5
    assert rep.top_pairs == []  # per-input neighbour verdicts do not crowd the side-by-side answers out
    engine.dispose()


async def test_embeddings_not_mirrored_to_a_candidate_without_them(proxy_factory, store_url):
    """DeepSeek's hosted API has no embeddings endpoint: the proxy says so at startup and counts the skips."""
    async with proxy_factory() as (proxy, base):
        assert "/v1/embeddings" not in proxy.mirror.endpoints
        assert any("/v1/embeddings: not mirrored" in n and "deepseek" in n for n in proxy.mirror.notes)
        await _embed(base, ["a b c"])
        await asyncio.sleep(0.1)
    assert proxy.mirror.skips["endpoint_not_mirrored"] == 1 and rows(store_url) == []


async def test_embeddings_dimensions_dropped_for_the_candidate(proxy_factory, store_url, vllm_fake):
    async with proxy_factory(candidate=vllm_candidate(vllm_fake)) as (proxy, base):
        got = await _embed(base, ["shipping parcel late"], dimensions=256)
        await settled(proxy, 1)
    assert len(got[0]) == 256
    (pair,) = rows(store_url)
    assert "dimensions" not in json.loads(pair["candidate_request"])
    assert (pair["primary_dims"], pair["candidate_dims"]) == (256, 1024)
    assert "dimensions" in pair["translation_changes"]


def test_serve_mirrors_responses_and_embeddings_end_to_end(tmp_path, primary_fake, vllm_fake):
    """`migrate shadow serve --config` as a user runs it, then `status` and `report` read the figures back."""
    import os
    import signal
    import subprocess
    import sys

    from tests.shadow.test_shadow_cli import _cli

    store = tmp_path / "e2e.db"
    cfg = tmp_path / "shadow.toml"
    cfg.write_text(f"""
[primary]
base_url = "{primary_fake.base_url}"
[candidate]
base_url = "{vllm_fake.base_url}"
kind = "sglang"
api_key_env = ""
models = {{ "text-embedding-3-small" = "BAAI/bge-m3", "*" = "deepseek-ai/DeepSeek-V4-Flash" }}
[mirror]
noise_sample = 1.0
endpoints = ["/v1/responses", "/v1/embeddings"]
[comparators]
enabled = ["structural", "text_exact"]
knn_k = [5]
knn_window = 64
[store]
url = "sqlite:///{store}"
""")
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k != "OFFRAMP_ADMIN_TOKEN"}
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "offramp.migrate", "shadow", "serve", "--config", str(cfg),
                                 "--port", "0"], stderr=fh, stdout=subprocess.DEVNULL, env=env)
        try:
            base = proxy_url(log, 20)
            client = openai.OpenAI(base_url=base, api_key=APP_KEY, max_retries=0)
            assert client.responses.create(model="gpt-4o-mini", input="hello e2e").output_text == "Echo: hello e2e"
            with client.responses.stream(model="gpt-4o-mini", input="streamed e2e") as s:
                assert s.get_final_response().output_text == "Echo: streamed e2e"
            texts = corpus(60)
            for i in range(0, 60, 15):
                r = client.embeddings.create(model="text-embedding-3-small", input=texts[i:i + 15])
                assert len(r.data) == 15 and len(r.data[0].embedding) == 1536
            r = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
            assert r.choices[0].message.content  # not in mirror.endpoints: answered, not mirrored
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0
    r = _cli("status", "--store", str(store), "--json")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output)
    assert summary["pairs"] == 6 and summary["skips"]["endpoint_not_mirrored"] == 1
    ends = {e["endpoint"]: e for e in summary["endpoints"]}
    assert ends["/v1/responses"]["candidate_sent_to"] == {"/v1/chat/completions": 2}
    assert ends["/v1/embeddings"]["dimension_mismatch"] is True
    (at5,) = ends["/v1/embeddings"]["neighbours"]
    assert at5["candidate_n"] == 60 - 25 and at5["noise_mean_overlap"] == 1.0
    assert summary["comparators"]["structural"]["candidate"]["n"] == 2
    r = _cli("status", "--store", str(store))
    assert r.exit_code == 0
    assert "/v1/embeddings: 4 pairs" in r.output and "re-index needed: dimension mismatch" in r.output
    r = _cli("report", "--store", str(store), "--format", "html")
    assert r.exit_code == 0 and "data-figure=endpoints" in r.output and "knn_at_5" in r.output
