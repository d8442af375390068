"""A finding whose level a feature raises carries that feature's DeepSeek offer (and category), not its
rule's: an image part makes a chat call "vision", whose hosted offer is not a plain "supported"."""

from __future__ import annotations

import shutil

import pytest

import offramp.migrate.ruleset as ruleset_mod
from offramp.migrate.ruleset import RuleFileError, load_ruleset
from offramp.migrate.scan import analyze_source

RULESET = load_ruleset()
CLIENT = "from openai import OpenAI\nc = OpenAI()\n"


def _finding(call: str):
    res = analyze_source(CLIENT + call, "app.py", RULESET)
    return next(f for f in res.findings if f.rule == "chat-completions-create")


def test_every_feature_from_level_2_has_an_offer():
    assert [f.id for f in RULESET.features if f.level >= 2 and f.deepseek is None] == []


@pytest.mark.parametrize(("call", "category", "level", "hosted", "self_hosted"), [
    ("c.chat.completions.create(model='gpt-4o', messages=[{'role': 'user', 'content': [\n"
     "    {'type': 'image_url', 'image_url': {'url': u}}]}])", "vision", 5, "supported", "supported"),
    ("c.chat.completions.create(model='ft:gpt-4o-mini:acme::x1', messages=m)", "fine_tuning", 3,
     "unsupported", "unsupported"),
    ("c.chat.completions.create(model='m', messages=m, response_format={'type': 'json_schema', 'json_schema': s})",
     "structured_output", 2, "emulated", "supported"),
    ("c.chat.completions.create(model='m', messages=m, tools=t, tool_choice='required')", "tools", 2,
     "supported", "supported"),
    ("c.chat.completions.create(model='m', messages=m, n=3)", "chat", 2, "emulated", "supported"),
    ("c.chat.completions.create(model='m', messages=m, seed=7)", "chat", 2, "unsupported", "supported"),
])
def test_raised_finding_carries_its_highest_contributors_offer(call, category, level, hosted, self_hosted):
    f = _finding(call)
    assert (f.category, f.level, f.deepseek.hosted, f.deepseek.self_hosted) == (category, level, hosted, self_hosted)


def test_vision_offer_names_the_model_that_serves_images():
    f = _finding("c.chat.completions.create(model='gpt-4o', messages=[{'role': 'user', 'content': [\n"
                 "    {'type': 'image_url', 'image_url': {'url': 'data:image/png;base64,AAAA'}}]}])")
    assert "deepseek-flash" in f.deepseek.reason
    assert f.deepseek.model_dump() == RULESET.feature("vision").deepseek.model_dump()
    assert f.deepseek.model_dump() != RULESET.rule("chat-completions-create").deepseek.model_dump()


def test_highest_contributor_wins_over_lower_features():
    # fine-tuned model (3) and tools (2) on one call: the fine-tuned model decides level, category and offer
    f = _finding("c.chat.completions.create(model='ft:gpt-4o:acme::x', messages=m, tools=t)")
    assert (f.level, f.category, f.deepseek.reason) == (
        3, "fine_tuning", RULESET.feature("fine_tuned_model").deepseek.reason)


def test_plain_call_keeps_the_rules_offer():
    f = _finding("c.chat.completions.create(model='m', messages=m, stream=True)")
    assert (f.level, f.features, f.deepseek.model_dump()) == (
        1, ["stream"], RULESET.rule("chat-completions-create").deepseek.model_dump())


def test_feature_without_offer_from_level_2_is_a_one_line_error(tmp_path, monkeypatch):
    shutil.copy(ruleset_mod.RULES_DIR / "levels.toml", tmp_path / "levels.toml")
    (tmp_path / "features.toml").write_text(
        '[[feature]]\nid = "seed"\nlevel = 2\ncategory = "chat"\ndescription = "seed"\nwhen = { kwarg = "seed" }\n')
    monkeypatch.setattr(ruleset_mod, "RULES_DIR", tmp_path)
    with pytest.raises(RuleFileError) as e:
        load_ruleset()
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(tmp_path / "features.toml"))
    assert "feature[0](seed)" in msg and "deepseek" in msg
