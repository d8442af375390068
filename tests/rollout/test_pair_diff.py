"""The pair viewer's diff: tool-call arguments and JSON fields compared field by field, text word by word, and
nothing shown when the privacy mode stored no bodies."""

from __future__ import annotations

import json

from offramp.shadow.family import family_name, prompt_label, request_family, system_text
from offramp.shadow.privacy import Redactor
from offramp.shadow.report.pairs import diff_pair, word_diff


def _completion(content=None, tool_calls=None, finish="stop") -> str:
    msg = {"role": "assistant", "content": content}
    if tool_calls:
        msg["tool_calls"] = [{"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": json.dumps(a)}}
                             for i, (n, a) in enumerate(tool_calls)]
    return json.dumps({"choices": [{"index": 0, "message": msg, "finish_reason": finish}]})


def test_tool_call_arguments_are_compared_field_by_field():
    d = diff_pair("full", _completion(tool_calls=[("get_weather", {"city": "Paris", "unit": "c"})]),
                  _completion(tool_calls=[("get_weather", {"city": "Lyon", "unit": "c"})]))
    rows = {f.path: f for f in d.fields}
    assert rows["tool_calls[0].name"].same and rows["tool_calls[0].arguments.unit"].same
    city = rows["tool_calls[0].arguments.city"]
    assert not city.same and (city.primary, city.candidate) == ('"Paris"', '"Lyon"')


def test_json_content_fields_and_a_missing_field():
    d = diff_pair("redacted", _completion('{"label": "spam", "score": 0.9}'), _completion('{"label": "ham"}'))
    rows = {f.path: f for f in d.fields}
    assert not rows["content.label"].same and rows["content.score"].candidate is None
    assert not d.primary_text and not d.candidate_text  # JSON is not diffed as prose


def test_text_is_diffed_word_by_word():
    left, right = word_diff("The capital of France is Paris.", "The capital of France is Lyon.")
    assert [s.text for s in left if s.op == "del"] == ["Paris"]
    assert [s.text for s in right if s.op == "ins"] == ["Lyon"]
    assert "".join(s.text for s in left) == "The capital of France is Paris."


def test_hash_only_privacy_shows_no_body():
    stored = Redactor("hash-only").apply(_completion("secret answer"))
    d = diff_pair("hash-only", stored, stored)
    assert not d.bodies_stored and not d.fields and not d.primary_text


def test_family_names_from_route_model_and_first_words():
    body = {"model": "gpt-4o", "messages": [{"role": "system", "content": "You are a travel assistant who answers in "
                                                                           "French, always."}]}
    assert prompt_label(system_text(body)) == "You are a travel assistant who …"
    assert family_name("/v1/chat/completions", "gpt-4o", "You answer briefly.") == \
        "chat/completions · gpt-4o · “You answer briefly.”"
    assert family_name("/v1/responses", "gpt-4o", None) == "responses · gpt-4o"
    assert request_family(body).startswith("f_")  # the id itself is unchanged: stored families keep their hash


def test_families_config_rejects_a_bad_id_in_one_line(tmp_path):
    import pytest

    from offramp.shadow.config import ConfigError, load_config

    p = tmp_path / "shadow.toml"
    p.write_text('[families]\nweather = "weather agent"\n')
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(e.value).startswith(f"{p}: families") and "f_0ce8af16e4aa" in str(e.value)
    p.write_text('[families]\nf_0ce8af16e4aa = "weather agent"\n')
    assert load_config(p).families == {"f_0ce8af16e4aa": "weather agent"}


def _store_pair(engine, pid: str, privacy: str, system: str, answer_p: str, answer_c: str) -> None:
    from offramp.shadow.store import schema

    red = Redactor(privacy).apply
    req = json.dumps({"model": "gpt-4o", "messages": [{"role": "system", "content": system},
                                                       {"role": "user", "content": "hi"}]})
    with engine.begin() as conn:
        conn.execute(schema.pairs.insert().values(
            id=pid, created_at=1_000_000.0, endpoint="/v1/chat/completions", family=request_family(json.loads(req)),
            stream=False, served_by="primary", privacy=privacy, primary_model="gpt-4o", request_body=red(req),
            primary_status=200, primary_body=red(_completion(answer_p)), candidate_status=200,
            candidate_body=red(_completion(answer_c))))
        conn.execute(schema.comparisons.insert().values(
            pair_id=pid, created_at=1_000_000.0, family=request_family(json.loads(req)), side="candidate",
            comparator="text_exact", agree=False, score=0.0))


def test_privacy_modes_decide_what_the_names_and_the_viewer_show(engine):
    from offramp.shadow.report.build import family_names, pair_views
    from offramp.shadow.report.render import render_pair

    _store_pair(engine, "p-redacted", "redacted", "Write to bob@example.com about invoices", "Dear Bob", "Hi Bob")
    _store_pair(engine, "p-hash", "hash-only", "You are the secret HR screener", "Rejected", "Accepted")
    names = {n.prompt: n for n in family_names(engine).values()}
    assert "Write to [REDACTED:EMAIL] about invoices" in names  # the stored, redacted words
    assert None in names and names[None].name == "chat/completions · gpt-4o"  # hash-only: no words at all
    views = {v.id: v for v in pair_views(engine, ["p-redacted", "p-hash"], family_names(engine))}
    shown = render_pair(views["p-redacted"])
    assert "<del class=d>Dear</del>" in shown and "<ins class=i>Hi</ins>" in shown
    hidden = render_pair(views["p-hash"])
    assert "not stored in <b>hash-only</b>" in hidden
    assert "Rejected" not in hidden and "secret HR" not in hidden and "sha256:" not in hidden
