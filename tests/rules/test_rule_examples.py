"""Every rule's Fixit-style examples: VALID code gives no finding of the rule, INVALID code gives one
(with the listed features and line, when the example names them)."""

from __future__ import annotations

import re

import pytest

from offramp.migrate.ruleset import load_ruleset
from offramp.migrate.scan import analyze_source

RULESET = load_ruleset()
VALID = [pytest.param(r, code, id=f"{r.id}-valid{i}") for r in RULESET.rules for i, code in enumerate(r.valid)]
INVALID = [pytest.param(r, ex, id=f"{r.id}-invalid{i}") for r in RULESET.rules for i, ex in enumerate(r.invalid)]
FEATURE_VALID = [pytest.param(f, code, id=f"{f.id}-valid{i}") for f in RULESET.features
                 for i, code in enumerate(f.valid)]

# Detector capabilities that some rows use beyond what every scan engine has had (see FeatureWhen / Match in
# migrate/ruleset.py). Each is probed once with its canonical case; an example needing a capability the engine
# in force lacks is skipped with the capability's name, so the rows are written once and run as soon as the
# engine detects them.
_C = "from openai import OpenAI\nclient = OpenAI()\n"
PROBES = {
    "dotted key": (_C + "client.responses.create(model='m', input='x', text={'format': {'type': 'json_schema'}})",
                   "text_json_schema"),
    "within": (_C + "client.responses.create(model='m', input='x', tools=[{'type': 'web_search'}])", "web_search"),
    "when content_part": ("from langchain_openai import ChatOpenAI\nllm = ChatOpenAI()\n"
                          "llm.invoke([{'role': 'user', 'content': [{'type': 'image_url', 'image_url': {'url': u}}]}])",
                          "rule:langchain-invoke-vision"),
    "parts in calls": (_C + "client.chat.completions.create(model='m', messages=[HumanMessage(content=["
                       "{'type': 'image_url', 'image_url': {'url': u}}])])", "vision"),
}
_probed: dict[str, bool] = {}


def _engine_has(capability: str) -> bool:
    if capability not in _probed:
        code, want = PROBES[capability]
        findings = analyze_source(code, "probe.py", RULESET).findings
        if want.startswith("rule:"):
            _probed[capability] = any(f.rule == want[5:] for f in findings)
        else:
            _probed[capability] = any(want in f.features for f in findings)
    return _probed[capability]


def _needs(rule, example) -> set[str]:
    whens = [RULESET.feature(fid).when for fid in example.features] + [rule.match.when]
    needs = {"dotted key" for w in whens if w is not None and w.key and "." in w.key}
    needs |= {"within" for w in whens if w is not None and w.within}
    if rule.match.when is not None and rule.match.when.content_part:
        needs.add("when content_part")
    if re.search(r"\w\((content|messages)=\[", example.code):
        needs.add("parts in calls")
    return needs


def _skip_unless_engine_has(rule, example):
    missing = sorted(c for c in _needs(rule, example) if not _engine_has(c))
    if missing:
        pytest.skip(f"the scan engine does not detect {', '.join(missing)} yet")


def test_every_rule_has_examples():
    lacking = [r.id for r in RULESET.rules if not r.valid or not r.invalid]
    assert lacking == []


@pytest.mark.parametrize(("rule", "code"), VALID)
def test_valid(rule, code):
    res = analyze_source(code, "example.py", RULESET)
    assert res.skipped_reason is None
    assert [f for f in res.findings if f.rule == rule.id] == []


@pytest.mark.parametrize(("rule", "example"), INVALID)
def test_invalid(rule, example):
    _skip_unless_engine_has(rule, example)
    res = analyze_source(example.code, "example.py", RULESET)
    assert res.skipped_reason is None
    hits = [f for f in res.findings if f.rule == rule.id]
    assert hits, f"no finding of {rule.id}; got {[f.rule for f in res.findings]}"
    f = hits[0]
    if example.line is not None:
        assert f.line == example.line
    if "features" in example.model_fields_set:
        assert set(f.features) == set(example.features)
    assert f.deepseek.model_dump() == _expected_offer(rule, f)
    assert f.rewrite == rule.rewrite
    assert f.level == max([rule.level, *(RULESET.feature(fid).level for fid in f.features)])


@pytest.mark.parametrize(("feature", "code"), FEATURE_VALID)
def test_feature_valid(feature, code):
    """A feature's VALID code: the calls are found, but none carries the feature (a function tool *named*
    web_search is not the built-in tool; a completions `prompt` string is not a stored prompt)."""
    res = analyze_source(code, "example.py", RULESET)
    assert res.skipped_reason is None
    assert res.findings, "a feature's VALID example should still be an OpenAI call"
    assert [f.rule for f in res.findings if feature.id in f.features] == []


def _expected_offer(rule, finding):
    """The offer of the finding's highest contributor: its rule, or the first feature raising the level."""
    level, offer = rule.level, rule.deepseek
    for fid in finding.features:
        feat = RULESET.feature(fid)
        if feat.level > level:
            level, offer = feat.level, feat.deepseek or offer
    return offer.model_dump()


STRATEGIES = {"client-constructor", "keep-call", "v0-resource-call", "v0-config", "v0-exception", "wrapper-base-url",
              "keep-on-openai", "report-only"}


def test_rewrite_strategies_are_known():
    assert {r.rewrite for r in RULESET.rules} <= STRATEGIES


def test_area_files_exist():
    from offramp.rules import PATTERNS_DIR

    names = {p.name for p in PATTERNS_DIR.glob("*.toml")}
    for area in ("chat", "legacy_v0", "embeddings", "images", "audio", "fine_tuning", "files_batches", "assistants",
                 "vector_stores", "responses", "realtime", "moderations_models", "config", "errors", "langchain",
                 "llamaindex", "instructor", "agents", "clients"):
        assert f"{area}.toml" in names
