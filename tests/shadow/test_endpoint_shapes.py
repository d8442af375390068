"""The pieces behind the mirrored endpoints: Responses in the chat shape (both ways, streams included), the
nearest-neighbour window, JSON validity of Responses answers, and the store migration that adds their columns."""

from __future__ import annotations

import base64
import json
import struct

import numpy as np
import pytest
from sqlalchemy import Column, MetaData, Table, inspect, text

from offramp.shadow.comparators.base import CompareContext
from offramp.shadow.comparators.embeddings_knn import KnnAgreement, input_keys, vectors
from offramp.shadow.comparators.responses_shape import (
    NotChatExpressible,
    assemble_responses,
    request_to_chat,
    to_chat,
)
from offramp.shadow.comparators.structural import Structural
from offramp.shadow.ramp.evidence import _invalid_json, _json_mode
from offramp.shadow.sse import StreamError, first_token_index
from offramp.shadow.store import migrate, open_engine


def _sse(*events: dict) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


RESP = {"id": "resp_1", "object": "response", "status": "completed", "model": "gpt-4o",
        "output": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "thinking"}]},
                   {"type": "message", "role": "assistant",
                    "content": [{"type": "output_text", "text": "{\"a\": 1}"}]},
                   {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{\"x\": 2}"}],
        "usage": {"input_tokens": 10, "output_tokens": 4, "total_tokens": 14,
                  "input_tokens_details": {"cached_tokens": 3}}}


def test_responses_answer_in_the_chat_shape():
    chat = to_chat(RESP)
    (choice,) = chat["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "{\"a\": 1}"
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "f", "arguments": "{\"x\": 2}"}
    assert chat["usage"]["prompt_tokens"] == 10 and chat["usage"]["prompt_tokens_details"]["cached_tokens"] == 3
    cut = {**RESP, "status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"},
           "output": [RESP["output"][1]]}
    assert to_chat(cut)["choices"][0]["finish_reason"] == "length"
    refused = {**RESP, "output": [{"type": "message", "content": [{"type": "refusal", "refusal": "no"}]}]}
    msg = to_chat(refused)["choices"][0]["message"]
    assert msg["refusal"] == "no" and msg["content"] is None
    # A Responses answer and a chat answer saying the same compare equal structurally, JSON mode included.
    same_in_chat = {"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "content": "{\"a\":1}", "tool_calls": [{"function": {"name": "f", "arguments": "{\"x\":2}"}}]}}]}
    req = request_to_chat({"input": "q", "text": {"format": {"type": "json_schema", "name": "n", "schema": {}}}},
                          strict=False)
    assert Structural().compare(to_chat(RESP), same_in_chat, CompareContext(request=req)).agree is True
    other = json.loads(json.dumps(same_in_chat))
    other["choices"][0]["message"]["content"] = "{\"a\": 2}"
    v = Structural().compare(to_chat(RESP), other, CompareContext(request=req))
    assert v.agree is False and v.detail["fields"] == ["choices.json.a"]


def test_responses_stream_is_its_completed_event():
    created = {"type": "response.created", "response": {**RESP, "status": "in_progress", "output": []}}
    delta = {"type": "response.output_text.delta", "delta": "{\"a\""}
    done = {"type": "response.completed", "response": RESP}
    assert assemble_responses(_sse(created, delta, done)) == RESP
    with pytest.raises(StreamError) as cut:
        assemble_responses(_sse(created, delta))
    assert cut.value.kind == "stream_cut"
    with pytest.raises(StreamError) as failed:
        assemble_responses(_sse(created, {"type": "response.failed",
                                          "response": {**RESP, "error": {"message": "overloaded"}}}))
    assert failed.value.kind == "stream_error" and "overloaded" in str(failed.value)
    # TTFT: the first text delta, not response.created.
    assert first_token_index([_sse(created), _sse(delta), _sse(done)]) == 1


def test_responses_request_as_chat():
    body = {"model": "gpt-4o", "instructions": "sys", "max_output_tokens": 50, "stream": True,
            "reasoning": {"effort": "low"}, "tool_choice": {"type": "function", "name": "f"},
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"},
                                                   {"type": "input_image", "image_url": "https://x/y.png"}]},
                      {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                      {"type": "function_call", "call_id": "c2", "name": "f", "arguments": "{}"},
                      {"type": "function_call_output", "call_id": "c1", "output": "ok"},
                      {"type": "reasoning", "summary": []}]}
    chat = request_to_chat(body)
    assert [m["role"] for m in chat["messages"]] == ["system", "user", "assistant", "tool"]
    assert chat["messages"][1]["content"][1] == {"type": "image_url",
                                                 "image_url": {"url": "https://x/y.png", "detail": "auto"}}
    assert [c["id"] for c in chat["messages"][2]["tool_calls"]] == ["c1", "c2"]  # parallel calls: one turn
    assert chat["messages"][3] == {"role": "tool", "tool_call_id": "c1", "content": "ok"}
    assert chat["tools"] == [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert chat["max_completion_tokens"] == 50 and chat["reasoning_effort"] == "low"
    assert chat["stream_options"] == {"include_usage": True}
    with pytest.raises(NotChatExpressible, match="file_search"):
        request_to_chat({"input": "x", "tools": [{"type": "file_search", "vector_store_ids": ["v"]}]})
    with pytest.raises(NotChatExpressible, match="item_reference"):
        request_to_chat({"input": [{"type": "item_reference", "id": "msg_1"}]})
    lenient = request_to_chat({"input": "x", "tools": [{"type": "web_search"}]}, strict=False)
    assert "tools" not in lenient and lenient["messages"] == [{"role": "user", "content": "x"}]


def test_json_validity_of_responses_answers():
    req = json.dumps({"input": "q", "text": {"format": {"type": "json_object"}}})
    assert _json_mode(req) is True
    assert _invalid_json(json.dumps(RESP), True) is False
    broken = {**RESP, "output": [{"type": "message", "content": [{"type": "output_text", "text": "{oops"}]}]}
    assert _invalid_json(json.dumps(broken), True) is True


def _emb_body(vecs, b64: bool = False) -> dict:
    data = []
    for i, v in enumerate(vecs):
        e = base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if b64 else list(map(float, v))
        data.append({"object": "embedding", "index": i, "embedding": e})
    return {"object": "list", "data": data}


def test_knn_window_batches_bounds_and_duplicates():
    rng = np.random.default_rng(0)
    knn = KnnAgreement(ks=[5], threshold=0.5, window=60, families=2, max_inputs=100)
    P = rng.normal(size=(120, 16))
    rotation, _ = np.linalg.qr(rng.normal(size=(16, 16)))
    same = P @ rotation  # another space with the same neighbours: full agreement
    inputs = [f"text {i}" for i in range(120)]
    out = knn.compare(_emb_body(P[:40], b64=True), _emb_body(same[:40]),
                      CompareContext(request={"input": inputs[:40], "model": "m"}, family="f"))
    judged = [v for v in out["knn_at_5"] if v.agree is not None]
    assert len(judged) == 40 - 25  # one verdict per input of the batch once 5 × k earlier inputs are there
    assert all(v.agree and v.score == 1.0 for v in judged)
    # A scrambled space loses the neighbours.
    scrambled = rng.permutation(same[40:80])
    out = knn.compare(_emb_body(P[40:80]), _emb_body(scrambled),
                      CompareContext(request={"input": inputs[40:80], "model": "m"}, family="f"))
    assert sum(v.score for v in out["knn_at_5"]) / 40 < 0.4
    # Memory is bounded: windows keep `window` inputs, and at most `families` families (two sides each).
    for fam in ("g", "h", "i"):
        for side in ("candidate", "noise"):
            knn.compare(_emb_body(P[:5]), _emb_body(same[:5]),
                        CompareContext(request={"input": inputs[:5], "model": "m"}, family=fam, side=side))
    assert len(knn._windows) == 4 and ("f", "m", "candidate") not in knn._windows
    assert all(w.n <= 60 for w in knn._windows.values()) and knn.memory_bytes() == 4 * 60 * 2 * 16 * 4
    # The same input again is not its own neighbour and not stored twice.
    ctx = CompareContext(request={"input": inputs[:60], "model": "m"}, family="d")
    knn.compare(_emb_body(P[:60]), _emb_body(same[:60]), ctx)
    again = knn.compare(_emb_body(P[:1]), _emb_body(same[:1]),
                        CompareContext(request={"input": inputs[:1], "model": "m"}, family="d"))
    assert again["knn_at_5"][0].detail["window"] == 59 and again["knn_at_5"][0].score == 1.0
    # Mismatched answers are not applicable, never an error for the pair.
    bad = knn.compare(_emb_body(P[:2]), _emb_body(same[:1]), CompareContext(request={"input": inputs[:2]}))
    assert bad["knn_at_5"][0].agree is None
    assert len(input_keys({"input": [1, 2, 3]})) == 1 and len(input_keys({"input": [[1, 2], [3]]})) == 2
    assert vectors(_emb_body(P[:1], b64=True))[0] == pytest.approx(P[0].astype(np.float32), abs=1e-6)


def _old_store(url: str) -> None:
    """A store as the previous release left it: pairs without the v3 columns, v1 and v2 applied."""
    from offramp.shadow.store import schema

    md = MetaData()
    cols = [Column(c.name, c.type) for c in schema.pairs.columns
            if c.name not in ("candidate_endpoint", "primary_dims", "candidate_dims", "noise_dims")]
    old = Table(schema.pairs.name, md, *cols)
    engine = open_engine(url)
    with engine.begin() as conn:
        for t in (schema.comparisons, schema.counters, schema.spend, schema.migrations_table):
            t.create(conn, checkfirst=True)
        old.create(conn)
        for v, name in ((1, "pairs, comparisons, counters"), (2, "daily mirror spend")):
            conn.execute(schema.migrations_table.insert().values(component="shadow", version=v, name=name,
                                                                 applied_at=0.0))
        conn.execute(text(f"INSERT INTO {schema.pairs.name} (id, created_at, endpoint, family, stream, served_by, "
                          "privacy) VALUES ('old', 1.0, '/v1/chat/completions', 'f', false, 'primary', 'full')"))
    engine.dispose()


def _check_upgraded(url: str) -> None:
    engine = open_engine(url)
    applied = [n for n in migrate(engine) if n.startswith("shadow ")]  # other components register theirs
    assert applied == ["shadow v3: candidate endpoint and embedding dimensions on pairs",
                       "shadow v4: replica heartbeats and candidate breaker events"]  # in order, from v2
    assert migrate(engine) == []
    assert {"shadow_replicas", "shadow_breaker_events"} <= set(inspect(engine).get_table_names())
    cols = {c["name"] for c in inspect(engine).get_columns("shadow_pairs")}
    assert {"candidate_endpoint", "primary_dims", "candidate_dims", "noise_dims"} <= cols
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id FROM shadow_pairs")).scalar() == "old"  # nothing lost
        conn.execute(text("UPDATE shadow_pairs SET primary_dims = 1536, candidate_endpoint = '/v1/embeddings'"))
    engine.dispose()


def test_fresh_store_gets_every_migration(tmp_path):
    engine = open_engine(f"sqlite:///{tmp_path / 'new.db'}")
    shadow = [n.split(":")[0] for n in migrate(engine) if n.startswith("shadow ")]
    assert shadow == ["shadow v1", "shadow v2", "shadow v3", "shadow v4"]
    cols = {c["name"] for c in inspect(engine).get_columns("shadow_pairs")}
    assert {"candidate_endpoint", "primary_dims"} <= cols
    assert {"shadow_replicas", "shadow_breaker_events"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_migration_adds_the_columns_to_an_existing_sqlite_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    _old_store(url)
    _check_upgraded(url)


@pytest.mark.postgres
def test_migration_adds_the_columns_to_an_existing_postgres_store(pg_schema_url):
    _old_store(pg_schema_url)
    _check_upgraded(pg_schema_url)


def test_knn_judges_at_most_max_inputs_of_a_large_batch():
    rng = np.random.default_rng(1)
    knn = KnnAgreement(ks=[5], window=100, max_inputs=8)
    P = rng.normal(size=(300, 8))
    inputs = [f"doc {i}" for i in range(300)]
    for i in range(0, 200, 8):  # fill the window with small batches
        knn.compare(_emb_body(P[i:i + 8]), _emb_body(P[i:i + 8]),
                    CompareContext(request={"input": inputs[i:i + 8], "model": "m"}, family="f"))
    out = knn.compare(_emb_body(P[200:300]), _emb_body(P[200:300]),
                      CompareContext(request={"input": inputs[200:300], "model": "m"}, family="f"))
    judged = out["knn_at_5"]
    assert len(judged) == 8 and all(v.agree for v in judged)
    assert [v.detail["input"] for v in judged] == [0, 12, 25, 37, 50, 62, 75, 87]  # spread over the batch


def test_conversation_log_is_bounded_and_never_partial():
    from offramp.shadow.endpoints import ConversationLog
    from offramp.shadow.mirror import PrimaryOutcome

    def done(rid: str, text: str):
        body = {"id": rid, "object": "response", "output": [
            {"type": "reasoning", "encrypted_content": "x"},
            {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": text}]}]}
        return PrimaryOutcome(200, json.dumps(body).encode(), None, False, 1.0, 1.0)

    log = ConversationLog(max_entries=3, ttl_s=60)
    log.remember({"input": "one"}, done("r1", "a1"))
    log.remember({"input": "two", "previous_response_id": "r1"}, done("r2", "a2"))
    items = log.items("r2")
    assert items == [{"type": "message", "role": "user", "content": "one"},
                     {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a1"}]},
                     {"type": "message", "role": "user", "content": "two"},
                     {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a2"}]}]
    log.remember({"input": "x"}, done("r3", "a3"))
    log.remember({"input": "y"}, done("r4", "a4"))  # the oldest turn (r1) goes
    assert log.items("r2") is None  # a conversation missing a turn is not sent as if it were whole
    assert log.items("r4") is not None
    log.remember({"input": "z"}, PrimaryOutcome(500, b"{}", None, False, 1.0, 1.0))
    assert len(log._turns) == 3
    expired = ConversationLog(ttl_s=-1)
    expired.remember({"input": "one"}, done("r1", "a1"))
    assert expired.items("r1") is None
