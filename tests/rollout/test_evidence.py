"""Evidence read from stored pairs: JSON validity survives redaction; tool-call disagreement and dropped tool calls
are derived from the structural diff."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from offramp.shadow.ramp.evidence import StoreEvidence, _invalid_json, load_stored
from offramp.shadow.store import migrate, schema


def completion(args: str = "{}", created: str = "1795400000") -> str:
    call = json.dumps({"function": {"name": "f", "arguments": args}})
    return (f'{{"id": "x", "created": {created}, "choices": [{{"index": 0, "finish_reason": "tool_calls", '
            f'"message": {{"content": null, "tool_calls": [{call}]}}}}]}}')


def test_redacted_bodies_are_judged_as_stored():
    from offramp.shadow.privacy import Redactor

    red = Redactor("redacted")
    body = red.apply(completion(args=json.dumps({"phone": "+1 415-555-0134", "n": 4155550134})))
    assert load_stored(body)["created"] == 1795400000  # the timestamp is not taken for a phone number
    assert "[REDACTED:PHONE]" in body
    assert _invalid_json(body, False) is False
    assert _invalid_json(red.apply(completion('{"city": ')), False) is True
    assert _invalid_json("sha256:abcdef", False) is None  # hash-only privacy: cannot judge


def test_store_evidence_counts_tool_calls_json_and_errors(engine):
    migrate(engine)
    now = time.time()
    pairs, cmps = [], []
    for i in range(10):
        bad_tool = i < 3
        pairs.append({c.name: None for c in schema.pairs.columns} | {
            "id": f"p{i}", "created_at": now, "endpoint": "/v1/chat/completions", "family": "f1", "stream": False,
            "served_by": "primary", "privacy": "full", "primary_status": 200, "primary_body": completion(),
            "primary_total_ms": 100.0, "candidate_status": 500 if i == 9 else 200,
            "candidate_error": "http_5xx" if i == 9 else None,
            "candidate_body": completion('{"x": ' if i == 8 else "{}"), "candidate_total_ms": 150.0,
            "primary_cost_usd": 0.01, "candidate_cost_usd": 0.002})
        detail = {"fields": ["choices.tool_calls.name"]} if bad_tool else {"fields": ["choices.finish_reason"]}
        if i == 0:  # the candidate answered in prose where the primary called a tool: a dropped call
            detail = {"fields": ["choices.finish_reason", "choices.tool_calls"],
                      "diff": {"iterable_item_removed": ["root['choices'][0]['tool_calls'][0]"]}}
        cmps.append({"pair_id": f"p{i}", "created_at": now, "family": "f1", "side": "candidate",
                     "comparator": "structural", "agree": i >= 5, "score": None,
                     "detail": json.dumps(detail) if i < 5 else None})
        noise_drop = i == 1  # the primary dropped its own call once: the dropped-call floor
        cmps.append({"pair_id": f"p{i}", "created_at": now, "family": "f1", "side": "noise",
                     "comparator": "structural", "agree": not noise_drop, "score": 1.0,
                     "detail": json.dumps({"fields": ["choices.tool_calls"], "diff": {"iterable_item_removed": [
                         "root['choices'][0]['tool_calls'][0]"]}}) if noise_drop else None})
    with engine.begin() as conn:
        conn.execute(schema.pairs.insert(), pairs)
        conn.execute(schema.comparisons.insert(), cmps)
    ev = StoreEvidence(engine).collect(now - 1, now - 1, now - 1)
    assert (ev.comparators["structural"].candidate.bad, ev.comparators["structural"].candidate.n) == (5, 10)
    assert (ev.comparators["tool_calls"].candidate.bad, ev.comparators["tool_calls"].candidate.n) == (3, 10)
    assert set(ev.comparators["tool_calls"].candidate.pair_ids) == {"p0", "p1", "p2"}
    dropped = ev.comparators["tool_calls_dropped"]
    assert (dropped.candidate.bad, dropped.candidate.n, dropped.candidate.pair_ids) == (1, 10, ["p0"])
    assert (dropped.noise.bad, dropped.noise.n) == (1, 10)
    assert ev.comparators["structural"].noise.n == 10 and ev.comparators["structural"].noise.bad == 1
    assert (ev.errors_candidate.bad, ev.errors_candidate.n, ev.errors_candidate.pair_ids) == (1, 10, ["p9"])
    assert (ev.json_invalid_candidate.bad, ev.json_invalid_candidate.n) == (1, 9)
    assert len(ev.cost_candidate) == 9 and len(ev.latency_candidate) == 9
    assert StoreEvidence(engine).step_samples(now - 1) == 10
    assert StoreEvidence(engine).step_samples(now + 1) == 0


def _priced_pairs(engine, primary_model: str, n: int = 60):
    """Pairs as the mirror records them: the same usage on both sides, each priced at its own table."""
    from offramp.shadow.translation import cost_usd

    migrate(engine)
    now = time.time()
    at = datetime.fromtimestamp(now, timezone.utc)
    usage = {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}
    rows = [{c.name: None for c in schema.pairs.columns} | {
        "id": f"c{i}", "created_at": now, "endpoint": "/v1/chat/completions", "family": "f1", "stream": False,
        "served_by": "primary", "privacy": "full", "primary_model": primary_model, "candidate_model": "deepseek-flash",
        "primary_status": 200, "candidate_status": 200, "primary_usage": json.dumps(usage),
        "candidate_usage": json.dumps(usage | {"prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 900}),
        # gpt-4o-mini: both sides at the same sample cost (the off-peak tie); otherwise each side at its own table,
        # at the same instant (DeepSeek's peak windows double its price: a fixed primary cost made this depend on
        # the hour the test ran).
        **({"primary_cost_usd": 0.000225, "candidate_cost_usd": 0.000225} if primary_model == "gpt-4o-mini" else
           {"primary_cost_usd": cost_usd("openai", primary_model, usage, at),
            "candidate_cost_usd": cost_usd("deepseek", "deepseek-flash", usage, at)})} for i in range(n)]
    with engine.begin() as conn:
        conn.execute(schema.pairs.insert(), rows)
    return now


def test_cost_projection_prices_the_recorded_tokens_over_the_coming_week(engine):
    """gpt-4o-mini and deepseek-flash list the same off-peak price, so sample costs tie; DeepSeek's weekday peak
    windows (×2) make the candidate dearer over a week, and the cost gate says so instead of holding forever."""
    from offramp.shadow.ramp.gates import evaluate

    now = _priced_pairs(engine, "gpt-4o-mini")
    ev = StoreEvidence(engine, price_providers={"primary": "openai", "candidate": "deepseek"}).collect(
        now - 1, now - 1, now - 1)
    proj = ev.cost_projection
    assert proj is not None and proj.pairs == 60
    assert 1.0 < proj.ratio < 2.0  # peak hours are a minority of the week
    cost = next(m for m in evaluate(ev).metrics if m.name == "cost")
    assert cost.outcome.value == "fail" and "the samples cost the same" in cost.reason
    assert cost.figures["projected_ratio"] == round(proj.ratio, 6)


def test_cost_projection_finds_the_price_table_from_the_model_name(engine):
    from offramp.shadow.ramp.gates import evaluate

    now = _priced_pairs(engine, "gpt-4o")
    ev = StoreEvidence(engine).collect(now - 1, now - 1, now - 1)  # no providers given: found by model
    assert ev.cost_projection is not None and ev.cost_projection.ratio < 0.2
    assert next(m for m in evaluate(ev).metrics if m.name == "cost").outcome.value == "pass"
