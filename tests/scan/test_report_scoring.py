"""The ScanReport the engine fills: levels per finding/file/project, categories, effort, JSON contract."""

from __future__ import annotations

import ast

from offramp.migrate.report_model import ScanReport
from offramp.migrate.ruleset import load_ruleset
from offramp.migrate.scan import analyze_module

FILES = {
    "chat.py": "from openai import OpenAI\nc = OpenAI()\nc.chat.completions.create(model='m', messages=[], stream=True)\n",
    "rag.py": "from openai import OpenAI\nc = OpenAI()\nc.embeddings.create(model='text-embedding-3-small', input='x')\n",
    "tools.py": "import openai\nopenai.ChatCompletion.create(model='m', messages=[], functions=f)\n",
    "plain.py": "import os\nprint(os.getcwd())\n",
}


def test_levels_categories_and_effort(scan):
    report = scan(FILES)
    s = report.summary
    assert (s.level, s.level_name, s.effort) == (4, "embeddings and vector stores", "8–12 weeks")
    assert (s.files_scanned, s.files_parsed, s.files_with_findings, s.findings, s.skipped) == (4, 3, 3, 5, 0)
    assert s.by_level == {"0": 0, "1": 3, "2": 1, "3": 0, "4": 1, "5": 0}
    cats = {c.category: (c.findings, c.level, c.files) for c in s.by_category}
    assert cats == {"client": (2, 1, 2), "chat": (1, 1, 1), "embeddings": (1, 4, 1), "tools": (1, 2, 1)}
    assert [(f.path, f.level, f.findings) for f in report.files] == [
        ("rag.py", 4, 2), ("tools.py", 2, 1), ("chat.py", 1, 2)]
    tools = [f for f in report.findings if f.path == "tools.py"][0]
    assert (tools.rule, tools.category, tools.level, tools.features) == ("v0-chat-completion", "tools", 2, ["functions"])
    # `functions` raised the level, so the finding carries that feature's offer, not the chat rule's
    assert (tools.deepseek.hosted, tools.rewrite) == ("translated", "v0-resource-call")
    assert report.rules_digest == load_ruleset().digest


def test_no_usage_is_level_zero(scan):
    report = scan({"a.py": "print('openai')\n"})
    assert (report.summary.level, report.summary.level_name, report.findings) == (0, "none", [])


def test_only_categories(scan):
    report = scan(FILES, only_categories=["embeddings"])
    assert [f.path for f in report.findings] == ["rag.py"]


def test_json_round_trip(scan):
    report = scan(FILES)
    again = ScanReport.model_validate_json(report.model_dump_json())
    assert again == report


def test_analyze_module_hits_keep_nodes_for_rewrite():
    code = "import openai as oa\nclient = oa.OpenAI()\nr = client.chat.completions.create(model='m', messages=[])\n"
    module = ast.parse(code)
    hits, _, _ = analyze_module(module, load_ruleset())
    assert [(h.rule.id, type(h.node).__name__) for h in hits] == [
        ("openai-client", "Call"), ("chat-completions-create", "Call")]
    assert ast.get_source_segment(code, hits[1].node) == "client.chat.completions.create(model='m', messages=[])"
    assert hits[1].receiver is not None and hits[1].receiver.type == "openai.client"
