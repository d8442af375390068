"""The store: privacy modes, hashed key ids, retention, migrations, the aggregation the ramp builds on, and
the same schema on PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid

import aiohttp
import pytest
from sqlalchemy import text

from offramp.shadow.privacy import Redactor, key_id
from offramp.shadow.store import MIGRATIONS, migrate, open_engine
from offramp.shadow.store.queries import agreement_by, counter_totals, purge, side_stats
from offramp.shadow.store.writer import StoreWriter
from tests.shadow.conftest import APP_KEY, auth, chat, rows, wait_for

PII = "Mail jane.doe@example.com or call +1 415-555-0134, card 4111 1111 1111 1111, order ORD-99812"


def test_redaction_modes():
    r = Redactor("redacted", [r"ORD-\d+"])
    out = r.apply(PII + " key sk-proj-abcdefghijklmnopqrstuv")
    assert "jane.doe" not in out and "555-0134" not in out and "4111" not in out and "ORD-99812" not in out
    assert "[REDACTED:EMAIL]" in out and "[REDACTED:CARD]" in out and "[REDACTED:PHONE]" in out
    assert "sk-proj" not in out
    full = Redactor("full").apply(PII + " sk-proj-abcdefghijklmnopqrstuv")
    assert "jane.doe@example.com" in full and "sk-proj" not in full  # keys are masked in every mode
    h = Redactor("hash-only").apply(PII)
    assert h.startswith("sha256:") and "jane" not in h
    with pytest.raises(ValueError, match=r"store.redact_patterns\[0\]"):
        Redactor("redacted", ["(unclosed"])


def test_redacted_bodies_stay_valid_json_and_keep_numbers():
    r = Redactor("redacted", [r"ORD-\d+"])
    body = {"id": "chatcmpl-1", "created": 1795400000, "amount": 4111111111111111, "ok": True, "none": None,
            "choices": [{"index": 0, "message": {"content": PII, "tool_calls": [{"function": {
                "name": "call", "arguments": json.dumps({"phone": "+1 415-555-0134", "n": 4155550134})}}]}}],
            "+1 415-555-0134": "a key is structure, not a value"}
    out = json.loads(r.apply(json.dumps(body)))
    assert out["created"] == 1795400000 and out["amount"] == 4111111111111111
    assert out["ok"] is True and out["none"] is None and "+1 415-555-0134" in out  # keys untouched
    content = out["choices"][0]["message"]["content"]
    assert "jane.doe" not in content and "[REDACTED:PHONE]" in content and "[REDACTED:CUSTOM0]" in content
    args = json.loads(out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])
    assert args == {"phone": "[REDACTED:PHONE]", "n": 4155550134}  # JSON in a string: still JSON
    # Not JSON (a cut stream's prefix): plain-text rules still apply.
    assert r.apply('data: {"content": "mail jane.doe@example.com') == 'data: {"content": "mail [REDACTED:EMAIL]'


def test_generated_ids_are_not_taken_for_phone_numbers():
    """llama-cpp-python's ids are `chatcmpl-<uuid4>`; one whose first groups are all digits matched the phone
    pattern (seen against the real server). The API's own ids stay as sent; the same digits in content, or in
    JSON the app put inside a string (tool-call arguments), are still masked."""
    uid = "chatcmpl-01545906-7465-49b0-9f9a-233dec460ed0"
    body = {"id": uid, "system_fingerprint": "b-01545906-7465", "choices": [{"message": {
        "content": "call 01545906-7465", "tool_calls": [{"id": "call_01545906-7465", "function": {
            "name": "f", "arguments": json.dumps({"id": "01545906-7465"})}}]}}],
            "messages": [{"role": "tool", "tool_call_id": "call_01545906-7465", "content": "ok"}]}
    text = json.dumps(body)
    out = json.loads(Redactor("redacted").apply(text))
    assert out["id"] == uid and out["system_fingerprint"] == "b-01545906-7465"
    msg = out["choices"][0]["message"]
    assert msg["tool_calls"][0]["id"] == "call_01545906-7465" and out["messages"][0]["tool_call_id"] == (
        "call_01545906-7465")
    assert msg["content"] == "call [REDACTED:PHONE]"
    assert json.loads(msg["tool_calls"][0]["function"]["arguments"]) == {"id": "[REDACTED:PHONE]"}
    assert Redactor("redacted").apply(text, json.loads(text)) == Redactor("redacted").apply(text)


def test_redacting_an_already_parsed_body_stores_the_same_text():
    """The mirror hands the redactor the JSON it already parsed; what is stored must not change for it."""
    docs = [
        {"messages": [{"role": "user", "content": PII + " key sk-proj-abcdefghijklmnopqrstuv"}], "n": 4155550134},
        {"choices": [{"message": {"content": "Echo: Name three prime numbers.", "refusal": None}}], "created": 17},
        {"a": "[not json", "b": " {\"mail\": \"x@y.io\"}", "c": ["é", {"d": "tel 415 555 0134"}], "e": 3.5},
    ]
    for mode in ("full", "redacted", "hash-only"):
        r = Redactor(mode, [r"ORD-\d+"])
        for doc in docs:
            for body in (json.dumps(doc), json.dumps(doc, ensure_ascii=False, separators=(",", ":"))):
                assert r.apply(body, json.loads(body)) == r.apply(body)
    clean = json.dumps(docs[1], separators=(",", ":"))
    assert Redactor("redacted").apply(clean, json.loads(clean)) is clean  # nothing to mask: the text as received


def test_key_id_is_a_hash():
    kid = key_id(f"Bearer {APP_KEY}")
    assert kid.startswith("k_") and APP_KEY not in kid and kid == key_id(f"Bearer {APP_KEY}")
    assert key_id(None) is None


@pytest.mark.parametrize("mode", ["redacted", "hash-only"])
async def test_proxy_stores_bodies_under_privacy_mode(proxy_factory, store_url, mode):
    async with proxy_factory(store={"privacy": mode}) as (proxy, base), aiohttp.ClientSession() as s:
        async with s.post(f"{base}/chat/completions", json=chat(PII), headers=auth()) as r:
            assert r.status == 200
        await wait_for(lambda: proxy.mirror.recorded)
    pair = rows(store_url)[0]
    keys = ("request_body", "candidate_request", "primary_body", "candidate_body")
    stored = " ".join(str(pair[k]) for k in keys)
    assert "jane.doe@example.com" not in stored and "4111 1111" not in stored
    assert pair["privacy"] == mode and pair["key_id"] == key_id(f"Bearer {APP_KEY}")
    if mode == "hash-only":
        assert pair["request_body"].startswith("sha256:")
    else:  # every stored body is still JSON, with its numbers (the `created` timestamp) intact
        docs = {k: json.loads(pair[k]) for k in keys}
        assert isinstance(docs["primary_body"]["created"], int)
        assert isinstance(docs["candidate_body"]["created"], int)


def _pair(pid: str, created: float, family: str = "f_a") -> dict:
    return {"id": pid, "created_at": created, "endpoint": "/v1/chat/completions", "family": family,
            "stream": False, "served_by": "primary", "privacy": "full", "primary_status": 200,
            "primary_total_ms": 10.0, "candidate_status": 200, "candidate_total_ms": 20.0,
            "primary_usage": '{"prompt_tokens": 3, "completion_tokens": 2}'}


def _cmp(pid: str, created: float, side: str, comparator: str, agree, family: str = "f_a") -> dict:
    return {"pair_id": pid, "created_at": created, "family": family, "side": side, "comparator": comparator,
            "agree": agree, "score": 1.0 if agree else 0.0, "detail": None}


async def _fill(url: str, now: float) -> None:
    eng = open_engine(url)
    migrate(eng)
    w = StoreWriter(eng, replica="r1")
    for i in range(10):
        pid = uuid.uuid4().hex
        pair = _pair(pid, now - i)
        if i % 3 == 0:  # a noise sample between 0 and 1: one batch mixes pairs with and without noise fields
            pair.update(noise_status=200, noise_total_ms=12.0, noise_error=None, noise_body='{"created": 1}')
        w.submit(pair, [
            _cmp(pid, now - i, "candidate", "structural", i < 7),
            _cmp(pid, now - i, "noise", "structural", i < 9),
            _cmp(pid, now - i, "candidate", "text_exact", None),
        ])
    old = uuid.uuid4().hex
    w.submit(_pair(old, now - 40 * 86400, "f_b"), [_cmp(old, now - 40 * 86400, "candidate", "structural", False, "f_b")])
    w.count("mirror_skip", "queue_full", 3)
    # A record the store refuses (NOT NULL family) in the same batch: counted and logged, the others written.
    bad = uuid.uuid4().hex
    w.submit({**_pair(bad, now), "family": None}, [])
    await w.close()
    assert w.failed == 1 and w.written == 11 and w.errors == 1
    eng.dispose()


async def _check(url: str) -> None:
    now = time.time()
    await _fill(url, now)
    eng = open_engine(url)
    assert migrate(eng) == []  # idempotent
    agg = {(a.comparator, a.side, a.family): a for a in agreement_by(eng)}
    assert agg[("structural", "candidate", "f_a")].n == 10 and agg[("structural", "candidate", "f_a")].agree == 7
    assert agg[("structural", "noise", "f_a")].rate == 0.9
    assert ("text_exact", "candidate", "f_a") not in agg  # no verdict, not counted
    assert counter_totals(eng)["mirror_skip"]["queue_full"] == 3
    with eng.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM shadow_pairs")).scalar() == 11
        assert conn.execute(text("SELECT count(*) FROM shadow_pairs WHERE noise_status = 200")).scalar() == 4
        assert conn.execute(text("SELECT count(*) FROM shadow_comparisons")).scalar() == 31
    assert side_stats(eng)["primary"].prompt_tokens == 33
    assert purge(eng, 30, now=now) == 1
    agg = {(a.comparator, a.side, a.family) for a in agreement_by(eng)}
    assert ("structural", "candidate", "f_b") not in agg
    eng.dispose()


async def test_sqlite_store_wal_aggregation_and_purge(tmp_path):
    url = f"sqlite:///{tmp_path / 's.db'}"
    await _check(url)
    eng = open_engine(url)
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        versions = conn.execute(text("SELECT component, version FROM offramp_migrations")).all()
    assert ("shadow", 1) in versions
    assert {(m.component, m.version) for m in MIGRATIONS} >= {("shadow", 1)}


@pytest.mark.postgres
async def test_postgres_store_same_schema(pg_schema_url):
    await _check(pg_schema_url)


async def test_store_down_never_fails_requests(proxy_factory, tmp_path):
    async with proxy_factory() as (proxy, base), aiohttp.ClientSession() as s:
        proxy.writer.engine = open_engine(f"sqlite:///{tmp_path / 'gone' / 'x.db'}")  # unwritable from now on
        for _ in range(3):
            async with s.post(f"{base}/chat/completions", json=chat(), headers=auth()) as r:
                assert r.status == 200
        await wait_for(lambda: proxy.writer.errors >= 1)


async def test_mixed_noise_batch_through_the_proxy(proxy_factory, store_url):
    """noise_sample between 0 and 1: pairs with and without a second primary land in the same batches."""
    async with proxy_factory(mirror={"noise_sample": 0.5}, store={"flush_interval_s": 0.3}) as (proxy, base):
        async with aiohttp.ClientSession() as s:
            for i in range(16):
                async with s.post(f"{base}/chat/completions", json=chat(f"q{i}"), headers=auth()) as r:
                    assert r.status == 200
        await wait_for(lambda: proxy.mirror.recorded >= 16, timeout=5)
        assert proxy.writer.errors == 0 and proxy.writer.failed == 0
    stored = rows(store_url)
    with_noise = [p for p in stored if p["noise_status"] is not None]
    assert len(stored) == 16 and 0 < len(with_noise) < 16


async def test_store_outage_keeps_records_for_later(tmp_path):
    """While the store is unreachable the batch goes back to the queue; it is written when the store returns."""
    good = open_engine(f"sqlite:///{tmp_path / 'ok.db'}")
    migrate(good)
    w = StoreWriter(good, replica="r1")
    w.engine = open_engine(f"sqlite:///{tmp_path / 'gone' / 'x.db'}")
    now = time.time()
    for _ in range(3):
        pid = uuid.uuid4().hex
        w.submit(_pair(pid, now), [_cmp(pid, now, "candidate", "structural", True)])
    await w.flush()
    assert w.errors == 1 and w.pending == 3 and w.written == 0 and w.failed == 0
    w.engine = good
    await w.close()
    assert w.written == 3
    assert len(rows(f"sqlite:///{tmp_path / 'ok.db'}", "shadow_comparisons")) == 3


def _migrate_in_child(url: str, results) -> None:
    try:
        migrate(open_engine(url))
        results.put("ok")
    except Exception as exc:  # the test reports what a racing process hit
        results.put(f"{type(exc).__name__}: {exc}"[:300])


def test_processes_migrating_one_new_sqlite_store_at_once_all_start(tmp_path):
    """`serve --workers N` starts N proxies on one new store at the same moment: each migrates it, one at a time
    (SQLite's write lock taken first), instead of racing to create the same tables ("already exists")."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for round_ in range(6):
        url = f"sqlite:///{tmp_path / f'race{round_}.db'}"
        results = ctx.Queue()
        procs = [ctx.Process(target=_migrate_in_child, args=(url, results)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes = [results.get(timeout=5) for _ in procs]
        assert outcomes == ["ok"] * 3, outcomes
        eng = open_engine(url)
        with eng.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM offramp_migrations")).scalar()
        assert n == len(MIGRATIONS)  # each migration applied once
