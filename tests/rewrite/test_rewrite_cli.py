"""`migrate rewrite` as a user runs it: dry run, patch files `git apply` accepts, dirty-tree refusal, output
formats, annotations."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from offramp.migrate.cli import _register
from offramp.migrate.cli_app import app

_register()
runner = CliRunner()
APP = '''import openai

openai.api_key = "sk-test"


def ask(q):
    resp = openai.ChatCompletion.create(model="gpt-4o", messages=[{"role": "user", "content": q}])
    return resp["choices"][0]["message"]["content"]


def later():
    return openai.FineTune.create(training_file="f")
'''

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return out.stdout


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "svc").mkdir(parents=True)
    (repo / "svc" / "app.py").write_text(APP)
    (repo / "svc" / "util.py").write_text("def add(a, b):\n    return a + b\n")
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "add", ".")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    return repo


def run(*args: str):
    return runner.invoke(app, ["rewrite", *args])


@needs_git
def test_dry_run_prints_diff_and_summary_and_changes_nothing(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    res = run(str(repo / "svc"), "--dry-run", "--no-color")
    assert res.exit_code == 0, res.output
    assert "-    resp = openai.ChatCompletion.create(" in res.output
    assert "+    resp = adapters.client().chat.completions.create(" in res.output
    assert "2 files scanned, 1 would change" in res.output
    assert "app.py:12" in res.output and "fine-tunes API was removed" in res.output
    assert (repo / "svc" / "app.py").read_text() == APP


@needs_git
def test_diff_file_applies_with_git_apply(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    patch = tmp_path / "out.patch"
    res = run(str(repo / "svc"), "--dry-run", "--diff-file", str(patch))
    assert res.exit_code == 0, res.output
    text = patch.read_text()
    assert text.startswith("--- a/svc/app.py\n+++ b/svc/app.py\n")
    _git(repo, "apply", "--check", str(patch))
    _git(repo, "apply", str(patch))
    assert "adapters.client().chat.completions.create" in (repo / "svc" / "app.py").read_text()
    # applied by hand, the tree is now what a rewrite would produce: a second run has nothing to do
    again = run(str(repo / "svc"), "--dry-run", "--diff-file", str(patch))
    assert again.exit_code == 0 and patch.read_text() == ""


@needs_git
def test_write_refuses_dirty_files_unless_allowed(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (repo / "svc" / "app.py").write_text(APP + "\n# local edit\n")
    res = run(str(repo / "svc"))
    assert res.exit_code == 2
    assert "app.py: has uncommitted changes" in res.output and "--allow-dirty" in res.output
    assert (repo / "svc" / "app.py").read_text().endswith("# local edit\n")
    res = run(str(repo / "svc"), "--allow-dirty")
    assert res.exit_code == 0, res.output
    assert "adapters.configure(api_key=" in (repo / "svc" / "app.py").read_text()


@needs_git
def test_dirty_file_with_a_non_ascii_name_is_named_as_it_is(tmp_path: Path) -> None:
    """git C-quotes such names (`caf\\303\\251.py`) unless asked for -z: the refusal must name the real file."""
    repo = _repo(tmp_path)
    (repo / "svc" / "app.py").rename(repo / "svc" / "café.py")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "rename")
    (repo / "svc" / "café.py").write_text(APP + "\n# local edit\n")
    res = run(str(repo / "svc"))
    assert res.exit_code == 2 and "café.py: has uncommitted changes" in res.output, res.output


@needs_git
def test_clean_tree_is_written_in_place_and_second_run_is_clean(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    res = run(str(repo / "svc"))
    assert res.exit_code == 0, res.output
    assert "wrote 1 file(s) and offramp.toml" in res.output
    assert _git(repo, "status", "--porcelain") == " M svc/app.py\n?? svc/offramp.toml\n"
    _git(repo, "add", "svc/offramp.toml")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "rewrite")
    res = run(str(repo / "svc"))
    assert res.exit_code == 0 and "0 changed" in res.output
    assert not list((repo / "svc").glob("*.offramp-tmp"))


def test_outside_git_writing_needs_allow_dirty(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    res = run(str(tmp_path))
    assert res.exit_code == 2 and "not a git work tree" in res.output
    assert (tmp_path / "app.py").read_text() == APP


def test_json_and_sarif_list_the_sites_left_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    res = run(str(tmp_path), "--dry-run", "--format", "json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["schema_version"]
    [f] = report["findings"]
    assert (f["path"], f["line"]) == ("app.py", 12)
    assert "fine-tunes" in f["message"]
    sarif = json.loads(run(str(tmp_path), "--dry-run", "--format", "sarif").output)
    assert sarif["version"] == "2.1.0"
    assert sarif["runs"][0]["results"]


def test_annotate_marks_left_lines_once(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    res = run(str(tmp_path), "--annotate", "--allow-dirty")
    assert res.exit_code == 0, res.output
    text = (tmp_path / "app.py").read_text()
    assert "    # migrate: the legacy fine-tunes API was removed in 1.x" in text
    assert text.count("# migrate:") == 1
    res = run(str(tmp_path), "--annotate", "--allow-dirty")
    assert (tmp_path / "app.py").read_text() == text


def test_usage_errors_are_one_line(tmp_path: Path) -> None:
    res = run(str(tmp_path / "missing"), "--dry-run")
    assert res.exit_code == 2 and res.output.strip().count("\n") == 0 and "no such file" in res.output
    res = run(str(tmp_path), "--dry-run", "--format", "xml")
    assert res.exit_code == 2 and "--format" in res.output
    res = run(str(tmp_path), "--dry-run")
    assert res.exit_code == 2 and "no Python files" in res.output
