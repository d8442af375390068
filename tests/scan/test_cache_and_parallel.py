"""The result cache (re-scans reuse results; an edit is rescanned) and the process pool (same results)."""

from __future__ import annotations

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
