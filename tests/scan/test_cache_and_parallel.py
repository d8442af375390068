"""The result cache (re-scans reuse results; an edit is rescanned) and the process pool (same results)."""

from __future__ import annotations

import json
import os

import pytest

from offramp.migrate.scan import ScanOptions, analyze, scan_path
from offramp.migrate.scan.options import default_cache_dir

APP = {
    "app/__init__.py": "",
    "app/clients.py": "from openai import OpenAI\n\n\ndef get_client():\n    return OpenAI()\n",
    "app/views.py": "from app.clients import get_client\n\n\ndef v(q):\n"
                    "    return get_client().chat.completions.create(model='gpt-4o', messages=q)\n",
}


def _write(root, files):
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def _rows(report):
    return [(f.path, f.line, f.rule, f.features) for f in report.findings]


@pytest.fixture(autouse=True)
def _user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OFFRAMP_CACHE_DIR", str(tmp_path / "user-cache"))


def _default_cache_file(root):
    return default_cache_dir(root) / "results.json"


def test_rescan_uses_cache_and_edits_are_rescanned(tmp_path, monkeypatch):
    _write(tmp_path, APP)
    calls: list[str] = []
    real = analyze.analyze_source

    def counting(source, relpath, *a, **k):
        calls.append(relpath)
        return real(source, relpath, *a, **k)

    monkeypatch.setattr("offramp.migrate.scan.engine.analyze_source", counting)
    first = scan_path(tmp_path, ScanOptions(jobs=1))
    assert _default_cache_file(tmp_path).is_file()
    assert str(_default_cache_file(tmp_path)).startswith(str(tmp_path / "user-cache"))
    assert not (tmp_path / ".offramp-cache").exists(), "a scan never writes into the tree it reads"
    assert sorted(set(calls)) == ["app/clients.py", "app/views.py"]

    calls.clear()
    second = scan_path(tmp_path, ScanOptions(jobs=1))
    assert calls == []
    assert _rows(second) == _rows(first)

    (tmp_path / "app/views.py").write_text(APP["app/views.py"].replace("model='gpt-4o'", "model='gpt-4o', n=4"))
    third = scan_path(tmp_path, ScanOptions(jobs=1))
    assert calls == ["app/views.py"]
    assert [f.features for f in third.findings if f.path == "app/views.py"] == [["n_gt_1"]]

    # the factory now returns another SDK's client: the importer's finding goes away
    calls.clear()
    (tmp_path / "app/clients.py").write_text(
        "import anthropic\nimport openai\n\n\ndef get_client():\n    return anthropic.Anthropic()\n")
    fourth = scan_path(tmp_path, ScanOptions(jobs=1))
    # views.py is read for duck-typed calls too: its context changed, so it is analysed again
    assert calls == ["app/clients.py", "app/views.py"]
    assert fourth.findings == []


def test_cache_dir_option_and_no_cache(tmp_path):
    _write(tmp_path / "src", APP)
    scan_path(tmp_path / "src", ScanOptions(cache_dir=tmp_path / "c", jobs=1))
    assert (tmp_path / "c" / "results.json").is_file()
    assert not (tmp_path / "src" / ".offramp-cache").exists()
    scan_path(tmp_path / "src", ScanOptions(use_cache=False, jobs=1))
    assert not (tmp_path / "src" / ".offramp-cache").exists()
    assert not default_cache_dir(tmp_path / "src").exists()


def test_cached_findings_hold_no_hardcoded_key(tmp_path):
    key = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0"
    _write(tmp_path, {"app.py": f"import openai\nopenai.api_key = '{key}'\n"})
    report = scan_path(tmp_path, ScanOptions(jobs=1))
    assert [f.code for f in report.findings] == ["openai.api_key = '<redacted>'"]
    assert key not in _default_cache_file(tmp_path).read_text()


def test_corrupt_cache_is_ignored(tmp_path):
    _write(tmp_path, APP)
    _default_cache_file(tmp_path).parent.mkdir(parents=True)
    _default_cache_file(tmp_path).write_text("{garbage")
    report = scan_path(tmp_path, ScanOptions(jobs=1))
    assert len(report.findings) == 2


def test_parallel_equals_serial(tmp_path, monkeypatch):
    from offramp.migrate.scan import engine

    pools = []
    real_pool = engine.ProcessPoolExecutor
    monkeypatch.setattr(engine, "PARALLEL_MIN_CHARS", 0)  # a small tree: force the worker pool
    monkeypatch.setattr(engine, "ProcessPoolExecutor", lambda *a, **k: pools.append(k) or real_pool(*a, **k))
    files = dict(APP)
    for i in range(60):
        files[f"pkg{i % 3}/m{i}.py"] = (
            "import openai\nfrom app.clients import get_client\n"
            f"MODEL = 'ft:gpt-4o-mini:acme::{i}'\n"
            "def f(q):\n"
            f"    return get_client().chat.completions.create(model=MODEL, messages=q, n={i % 4})\n"
            f"openai.Embedding.create(input=['x'], engine='e{i}')\n"
        )
    files["pkg0/broken.py"] = "import openai\ndef f(:\n"
    _write(tmp_path, files)
    progress: list[tuple[int, int]] = []
    serial = scan_path(tmp_path, ScanOptions(jobs=1, use_cache=False))
    parallel = scan_path(tmp_path, ScanOptions(jobs=2, use_cache=False, progress=lambda d, t: progress.append((d, t))))
    assert len(pools) == 1 and pools[0]["max_workers"] == 2
    assert serial.model_dump() == parallel.model_dump()
    assert len(serial.findings) == 1 + 1 + 60 * 2
    assert progress[-1][0] == progress[-1][1] and progress[-1][0] >= 63


def _counting(monkeypatch):
    """(files analysed, files read) by the engine from now on."""
    from offramp.migrate.scan import engine

    analysed: list[str] = []
    read: list[str] = []
    real_analyze, real_read = analyze.analyze_source, engine._read
    monkeypatch.setattr(engine, "analyze_source", lambda src, rel, *a, **k: analysed.append(rel)
                        or real_analyze(src, rel, *a, **k))
    monkeypatch.setattr(engine, "_read", lambda path, rel, *a: read.append(rel) or real_read(path, rel, *a))
    return analysed, read


def test_unchanged_tree_is_answered_from_the_project_cache_without_reading_files(tmp_path, monkeypatch):
    _write(tmp_path, {**APP, "app/other.py": "x = 1\n", "app/ducks.py": "def f(c):\n"
                      "    return c.chat.completions.create(model='gpt-4o', messages=[])\n"})
    first = scan_path(tmp_path, ScanOptions(jobs=1))
    analysed, read = _counting(monkeypatch)
    # the previous scan must have started long enough before the files' last change for their stat to count
    monkeypatch.setattr("offramp.migrate.scan.cache.RACY_NS", -10**12)
    second = scan_path(tmp_path, ScanOptions(jobs=1))
    assert (analysed, read) == ([], [])
    assert second.model_dump() == first.model_dump()
    assert "app/ducks.py" in {f.path for f in second.findings}  # a duck-typed call, answered from the cache


def test_edit_through_a_factory_in_another_module_is_found_on_rescan(tmp_path, monkeypatch):
    files = {**APP, "app/jobs.py": "import json\n\n\ndef run(q):\n    return json.dumps(q)\n" + "#" * 40 + "\n"}
    _write(tmp_path, files)
    first = scan_path(tmp_path, ScanOptions(jobs=1))
    assert "app/jobs.py" not in {f.path for f in first.findings}
    # same size and mtime as before: only ctime and the content tell the edit apart
    p = tmp_path / "app/jobs.py"
    st = p.stat()
    edited = "from app.clients import get_client\ndef run(q):\n    return get_client().models.list()\n"
    edited = edited + " " * (st.st_size - len(edited) - 1) + "\n"
    assert len(edited) == st.st_size
    p.write_text(edited)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    analysed, _ = _counting(monkeypatch)
    second = scan_path(tmp_path, ScanOptions(jobs=1))
    assert [(f.path, f.line, f.api) for f in second.findings if f.path == "app/jobs.py"] == [
        ("app/jobs.py", 3, "models.list")]
    assert "app/jobs.py" in analysed


def test_racy_edit_with_the_same_stat_is_caught_by_the_content_hash(tmp_path, monkeypatch):
    """A file changed within the previous scan's mtime tick keeps its stat; its hash is compared instead."""
    from offramp.migrate.scan import cache as cache_mod

    _write(tmp_path, {**APP, "app/jobs.py": "X = 1\n"})
    scan_path(tmp_path, ScanOptions(jobs=1))
    # every stat equal to what was stored and recent: only the hash can tell
    stored = json.loads((default_cache_dir(tmp_path) / "project.json").read_text())
    monkeypatch.setattr(cache_mod, "file_stat", lambda path: stored["files"][str(path.relative_to(tmp_path))][0])
    monkeypatch.setattr(cache_mod, "RACY_NS", 10**15)
    (tmp_path / "app/jobs.py").write_text("from app.clients import get_client\nget_client().models.list()\n")
    report = scan_path(tmp_path, ScanOptions(jobs=1))
    assert ("app/jobs.py", "models.list") in {(f.path, f.api) for f in report.findings}


def test_rules_and_offramp_toml_changes_show_on_a_warm_rescan(tmp_path):
    rule = ('[[rule]]\nid = "acme-chat"\ntitle = "In-house chat"\nmatch = { kind = "call", names = ["acme_llm.chat"] }\n'
            'category = "chat"\nlevel = 1\ndeepseek = { hosted = "supported", self_hosted = "supported", '
            'reason = "wraps chat" }\nrewrite = "report-only"\nvalid = ["import acme"]\n'
            'invalid = [{ code = "from acme_llm import chat\\nchat(1)", line = 2 }]\n')
    _write(tmp_path, {"rules/acme.toml": rule,
                      "svc/main.py": "from acme_llm import chat\nfrom offramp.adapters import OpenAI\n"
                                     "chat('q')\nOpenAI().embeddings.create(input='x', model='m')\n"})
    first = scan_path(tmp_path, ScanOptions(jobs=1))
    assert [(f.rule, f.backend) for f in first.findings if f.api == "embeddings.create"] != []
    assert "acme-chat" not in {f.rule for f in first.findings}
    assert {f.backend for f in first.findings if f.api == "embeddings.create"} == {"openai"}
    _write(tmp_path, {"pyproject.toml": '[tool.migrate]\nrules = ["rules"]\n',
                      "offramp.toml": '[backends.deepseek]\nkind = "deepseek"\ndefault_model = "deepseek-chat"\n\n'
                                      '[routes]\ndefault = "deepseek"\n'})
    second = scan_path(tmp_path, ScanOptions(jobs=1))
    assert "acme-chat" in {f.rule for f in second.findings}
    assert {f.backend for f in second.findings if f.api == "embeddings.create"} == {"deepseek"}


def _json_report(root, jobs):
    from offramp.migrate.report import render
    from offramp.migrate.ruleset import load_ruleset

    return render("json", scan_path(root, ScanOptions(jobs=jobs, use_cache=False)), load_ruleset())


def test_jobs_give_identical_json_reports_on_sample_apps_and_a_generated_tree(tmp_path, monkeypatch):
    """The per-file analysis of a cold scan runs in forked workers (largest files first, every round that has
    enough source); the JSON report is byte for byte the one a single process writes."""
    from pathlib import Path

    from offramp.migrate.scan import engine

    pools = []
    real_pool = engine.ProcessPoolExecutor
    monkeypatch.setattr(engine, "ProcessPoolExecutor", lambda *a, **k: pools.append(k) or real_pool(*a, **k))
    monkeypatch.setattr(engine, "PARALLEL_MIN_CHARS", 0)
    apps = Path(__file__).resolve().parents[2] / "sample_apps"
    tree = tmp_path / "gen"
    files = dict(APP)
    for i in range(40):  # factories in one module, used across packages, duck typing, a syntax error
        files[f"svc{i % 4}/__init__.py"] = ""
        files[f"svc{i % 4}/m{i}.py"] = (
            f"from app.clients import get_client\nfrom svc{(i + 1) % 4} import m{(i + 1) % 40} as nxt\n"
            f"def call{i}(c, q):\n    return c.chat.completions.create(model='gpt-4o', messages=q, n={i % 3})\n"
            f"def run{i}(q):\n    return call{i}(get_client(), q)\n"
            + ("def broken(:\n" if i == 7 else ""))
    _write(tree, files)
    for root in (apps, tree):
        serial = _json_report(root, 1)
        assert not pools
        assert _json_report(root, 2) == serial
        assert len(pools) == 1 and pools.pop()["max_workers"] == 2
        assert len(json.loads(serial)["findings"]) >= (40 if root == tree else 20)
