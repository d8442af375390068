"""Walking (gitignore, default skips, include/exclude) and bad files: each is skipped with one line."""

from __future__ import annotations

import os

import pytest

CHAT = "import openai\nopenai.ChatCompletion.create(model='m', messages=[])\n"


def test_gitignore_default_skips_include_exclude(scan):
    files = {
        ".gitignore": "generated/\n*_gen.py\n!keep_gen.py\n",
        "app.py": CHAT,
        "generated/x.py": CHAT,
        "a_gen.py": CHAT,
        "keep_gen.py": CHAT,
        "sub/.gitignore": "local.py\n",
        "sub/local.py": CHAT,
        "sub/ok.py": CHAT,
        ".venv/lib/site.py": CHAT,
        "venv2/pyvenv.cfg": "home = /usr\n",
        "venv2/lib/x.py": CHAT,
        "node_modules/pkg/x.py": CHAT,
        "build/x.py": CHAT,
        "dist/x.py": CHAT,
        "lib/site-packages/openai_thing.py": CHAT,
        ".tox/py311/x.py": CHAT,
        "__pycache__/x.py": CHAT,
        "tests/test_app.py": CHAT,
        "README.md": "openai.ChatCompletion.create",
    }
    report = scan(files)
    assert sorted(f.path for f in report.findings) == ["app.py", "keep_gen.py", "sub/ok.py", "tests/test_app.py"]
    assert report.summary.files_scanned == 4

    report = scan({}, exclude=["tests/"], include=["build/"])
    assert sorted(f.path for f in report.findings) == ["app.py", "build/x.py", "keep_gen.py", "sub/ok.py"]


def test_single_file_root(tmp_path):
    from offramp.migrate.scan import ScanOptions, scan_path

    p = tmp_path / "one.py"
    p.write_text(CHAT)
    report = scan_path(p, ScanOptions(use_cache=False))
    assert [(f.path, f.line) for f in report.findings] == [("one.py", 2)]


def test_missing_root_raises(tmp_path):
    from offramp.migrate.scan import scan_path

    with pytest.raises(FileNotFoundError, match="no such file"):
        scan_path(tmp_path / "nope")


def test_bad_files_are_skipped_with_one_line_and_scan_goes_on(scan, tmp_path):
    files = {
        "good.py": CHAT,
        "py2.py": "import openai\nprint 'hello'\nopenai.Completion.create(prompt='x')\n",
        "broken.py": "import openai\ndef f(:\n    pass\n",
        "latin1.py": "import openai\n# caf\xe9\n".encode("latin-1"),
        "blob.py": b"import openai\x00\x00\x01binary",
        "huge.py": "import openai\n" + "x = 1\n" * 400,
        "bad.ipynb": "{not json",
    }
    report = scan(files, max_file_bytes=2000)
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "self.py").symlink_to(tmp_path / "self.py")
    noread = tmp_path / "secret.py"
    noread.write_text(CHAT)
    noread.chmod(0)
    report = scan({}, max_file_bytes=2000)
    reasons = {s.path: s.reason for s in report.skipped}
    assert [f.path for f in report.findings] == ["good.py"] + (["secret.py"] if os.geteuid() == 0 else [])
    assert reasons["py2.py"].startswith("syntax error at line 2") and "Python 2" in reasons["py2.py"]
    assert reasons["broken.py"].startswith("syntax error at line 2")
    assert reasons["latin1.py"] == "not UTF-8 text (byte 0xe9 at offset 19)"
    assert reasons["blob.py"] == "binary file (NUL bytes)"
    assert reasons["huge.py"].startswith("larger than max_file_bytes (")
    assert reasons["bad.ipynb"].startswith("not a valid notebook: JSON error at line 1")
    assert reasons["loop"].startswith("symlink loop")
    assert reasons["self.py"] == "symlink loop"
    if os.geteuid() != 0:
        assert reasons["secret.py"].startswith("unreadable:")
    assert all("\n" not in r for r in reasons.values())
    assert report.summary.skipped == len(report.skipped)
