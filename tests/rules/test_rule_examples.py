"""Every rule's Fixit-style examples: VALID code gives no finding of the rule, INVALID code gives one
(with the listed features and line, when the example names them)."""

from __future__ import annotations

import pytest

from offramp.migrate.ruleset import load_ruleset
from offramp.migrate.scan import analyze_source

RULESET = load_ruleset()
VALID = [pytest.param(r, code, id=f"{r.id}-valid{i}") for r in RULESET.rules for i, code in enumerate(r.valid)]
INVALID = [pytest.param(r, ex, id=f"{r.id}-invalid{i}") for r in RULESET.rules for i, ex in enumerate(r.invalid)]


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
    assert f.level >= rule.level


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
