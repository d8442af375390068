"""Offramp's own client is usage (issue 14.6): a scan after `migrate rewrite` is a true "after" report, with the
backend offramp.toml routes each call to."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from offramp.migrate.rewrite.engine import RewriteOptions, rewrite_path
from offramp.migrate.rewrite.write import write_all
from offramp.migrate.ruleset import load_ruleset
from offramp.migrate.scan import ScanOptions, analyze_source, scan_path

REPO = Path(__file__).resolve().parents[2]
APPS = sorted(p.parent for p in (REPO / "sample_apps").glob("*/expected_findings.json"))
RS = load_ruleset()


@pytest.mark.parametrize("code", [
    "from offramp.adapters import OpenAI\nc = OpenAI()\nc.images.generate(prompt='p')\n",
    "from offramp import adapters\nc = adapters.OpenAI()\nc.images.generate(prompt='p')\n",
    "import adapters\nc = adapters.OpenAI()\nc.images.generate(prompt='p')\n",  # pre-0.2
    "from offramp import adapters\nadapters.client().images.generate(prompt='p')\n",
])
def test_offramp_client_is_usage_with_origin_offramp(code):
    got = analyze_source(code, "m.py", RS).findings
    assert [f.api for f in got][-1] == "images.generate"
    assert {f.origin for f in got} == {"offramp"}
    assert got[-1].level == 5


def test_projects_own_adapters_package_is_not_offramp(scan):
    report = scan({"adapters/__init__.py": "class OpenAI:\n    pass\n",
                   "app.py": "import adapters\nc = adapters.OpenAI()\nc.images.generate(prompt='p')\n"})
    assert report.findings == []


def test_backend_per_call_from_offramp_toml(scan):
    app = ("from offramp.adapters import OpenAI\nc = OpenAI()\n"
           "c.chat.completions.create(model='gpt-4o-mini', messages=[])\n"
           "c.images.generate(prompt='p')\n"
           "c.chat.completions.create(model='gpt-4o', messages=[{'role': 'user', 'content': "
           "[{'type': 'image_url', 'image_url': {'url': u}}]}])\n")
    toml = ('[backends.deepseek]\nkind = "deepseek"\ndefault_model = "deepseek-chat"\n\n'
            '[routes]\ndefault = "deepseek"\n\n[routes.capabilities]\nimages = "openai"\nvision = "openai"\n')
    report = scan({"app.py": app, "offramp.toml": toml})
    assert sorted((f.line, f.api, f.backend) for f in report.findings) == [
        (2, "OpenAI", None), (3, "chat.completions.create", "deepseek"), (4, "images.generate", "openai"),
        (5, "chat.completions.create", "openai")]


def test_no_offramp_toml_routes_everything_to_openai_and_a_bad_one_is_one_skipped_line(scan, tmp_path):
    app = "from offramp.adapters import OpenAI\nOpenAI().embeddings.create(model='e', input='x')\n"
    got = sorted(scan({"app.py": app}).findings, key=lambda f: f.api)
    assert [(f.api, f.backend) for f in got] == [("OpenAI", None), ("embeddings.create", "openai")]
    report = scan({"app.py": app, "offramp.toml": "[routes]\ndefault = 'nowhere'\n"})
    assert [f.backend for f in report.findings] == [None, None]
    assert [s.path for s in report.skipped] == ["offramp.toml"]
    assert "unknown backend" in report.skipped[0].reason and "\n" not in report.skipped[0].reason


def _lock_in(report) -> dict[str, int]:
    """Highest level per category, for the categories that keep an app on OpenAI (level 3 and up)."""
    out: dict[str, int] = {}
    for f in report.findings:
        if f.level >= 3:
            out[f.category] = max(out.get(f.category, 0), f.level)
    return out


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.name)
def test_scan_after_rewrite_keeps_the_level_and_the_remaining_lock_in(app, tmp_path):
    dest = tmp_path / app.name
    shutil.copytree(app, dest, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache"))
    before = scan_path(dest, ScanOptions(use_cache=False, jobs=1))
    result = rewrite_path(dest, RewriteOptions())
    assert not result.failed, [(f.path, f.error) for f in result.failed]
    write_all(result, dest)
    after = scan_path(dest, ScanOptions(use_cache=False, jobs=1))
    assert after.summary.level == before.summary.level
    assert _lock_in(after) == _lock_in(before)
    if any(f.rewritten != f.original and "offramp" in f.rewritten for f in result.files):
        # what moved onto the adapter is found through it; its calls say where offramp.toml sends them
        moved = [f for f in after.findings if f.origin == "offramp"]
        assert moved
        kinds = {r.id: r.match.kind for r in RS.rules}
        assert all(f.backend for f in moved if kinds[f.rule] == "method")
    else:  # nothing moved (e.g. LangChain apps): the same findings
        key = lambda r: Counter((f.path, f.line, f.api, f.level) for f in r.findings)  # noqa: E731
        assert key(after) == key(before)
