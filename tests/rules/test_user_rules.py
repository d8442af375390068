"""User rule files: loaded from --rules dirs and [tool.migrate] in the scanned project; bad ones fail with
one line naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from offramp.migrate.ruleset import RuleFileError, load_ruleset
from offramp.migrate.scan import ScanOptions, scan_path

ACME_RULE = '''
[[rule]]
id = "acme-llm-chat"
title = "In-house chat helper"
match = { kind = "call", names = ["acme_llm.chat"] }
category = "chat"
level = 1
deepseek = { hosted = "supported", self_hosted = "supported", reason = "wraps chat completions" }
rewrite = "report-only"
valid = ["import acme\\nacme.chat('x')"]
invalid = [{ code = "from acme_llm import chat\\nchat('hello', model='ft:gpt-4o-mini:acme::z')", features = ["fine_tuned_model"], line = 2 }]
'''

APP = "from acme_llm import chat as ask\n\n\ndef run(q):\n    return ask(q, model='gpt-4o')\n"


def _write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_rules_dir_option(tmp_path):
    _write(tmp_path / "myrules" / "acme.toml", ACME_RULE)
    _write(tmp_path / "app" / "main.py", APP)
    report = scan_path(tmp_path / "app", ScanOptions(rules_dirs=[tmp_path / "myrules"], use_cache=False))
    assert [(f.rule, f.path, f.line) for f in report.findings] == [("acme-llm-chat", "main.py", 5)]


def test_pyproject_tool_migrate_rules(tmp_path):
    _write(tmp_path / "rules" / "acme.toml", ACME_RULE)
    _write(tmp_path / "pyproject.toml", '[tool.migrate]\nrules = ["rules"]\n')
    _write(tmp_path / "svc" / "main.py", APP)
    report = scan_path(tmp_path, ScanOptions(use_cache=False))
    assert [f.rule for f in report.findings] == ["acme-llm-chat"]


def test_user_rule_examples_run(tmp_path):
    from offramp.migrate.scan import analyze_source

    _write(tmp_path / "acme.toml", ACME_RULE)
    rs = load_ruleset([tmp_path])
    rule = rs.rule("acme-llm-chat")
    res = analyze_source(rule.invalid[0].code, "x.py", rs)
    assert [(f.rule, f.features, f.line) for f in res.findings] == [("acme-llm-chat", ["fine_tuned_model"], 2)]


@pytest.mark.parametrize(("text", "key"), [
    (ACME_RULE.replace('level = 1', 'level = 9'), "rule[0](acme-llm-chat).level"),
    (ACME_RULE.replace('hosted = "supported", self', 'hosted = "maybe", self'), "rule[0](acme-llm-chat).deepseek.hosted"),
    (ACME_RULE.replace('kind = "call"', 'kind = "method"'), "rule[0](acme-llm-chat).match"),
    (ACME_RULE.replace('title = "In-house chat helper"\n', ''), "rule[0](acme-llm-chat).title"),
    (ACME_RULE.replace('id = "acme-llm-chat"', 'id = "chat-completions-create"'), "rule(chat-completions-create).id"),
    (ACME_RULE.replace('features = ["fine_tuned_model"]', 'features = ["nope"]'), "rule(acme-llm-chat).features"),
    ("[[rule]\nid=", "invalid TOML"),
])
def test_malformed_rule_file_names_file_and_key(tmp_path, text, key):
    bad = _write(tmp_path / "bad.toml", text)
    with pytest.raises(RuleFileError) as e:
        load_ruleset([tmp_path])
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(str(bad))
    assert key in msg


def test_pyproject_rules_must_be_list(tmp_path):
    _write(tmp_path / "pyproject.toml", "[tool.migrate]\nrules = 3\n")
    _write(tmp_path / "a.py", "import openai\n")
    with pytest.raises(RuleFileError, match=r"pyproject.toml: tool.migrate.rules"):
        scan_path(tmp_path, ScanOptions(use_cache=False))
