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
