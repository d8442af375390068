"""`--baseline` lists only findings new since a saved report; several PATHs (a pre-commit hook's changed files)
list only their findings while the whole project is analysed. Both run the real scan engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CLIENTS = "from openai import OpenAI\n\n\ndef get_client():\n    return OpenAI()\n"
CHAT = ("from app.clients import get_client\n\n\ndef ask(q):\n"
        "    return get_client().chat.completions.create(model='gpt-4o-mini', messages=[{'role': 'user', "
        "'content': q}])\n")
IMAGES = "\n\ndef draw(p):\n    return get_client().images.generate(prompt=p)\n"


def migrate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "offramp.migrate", "scan", *args, "--no-cache"], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "clients.py").write_text(CLIENTS)
    (tmp_path / "app" / "chat.py").write_text(CHAT)
    return tmp_path


def test_baseline_lists_only_new_findings_and_fail_on_judges_only_them(project: Path) -> None:
    assert migrate(".", "-f", "json", "-o", "base.json", cwd=project).returncode == 0
    known = len(json.loads((project / "base.json").read_text())["findings"])
    assert known >= 2  # the constructor and the chat call

    # unrelated edits move every line: known findings are still known
    (project / "app" / "chat.py").write_text("# a comment\n\n" + CHAT)
    same = migrate(".", "--baseline", "base.json", "--fail-on", "1", "-f", "json", cwd=project)
    assert same.returncode == 0, same.stderr
    report = json.loads(same.stdout)
    assert report["findings"] == [] and report["baseline"] == {"path": "base.json", "known": known}

    (project / "app" / "chat.py").write_text("# a comment\n\n" + CHAT + IMAGES)
    new = migrate(".", "--baseline", "base.json", "--fail-on", "5", "-f", "json", cwd=project)
    assert new.returncode == 3, new.stderr
    report = json.loads(new.stdout)
    assert [f["api"] for f in report["findings"]] == ["images.generate"]
    assert report["summary"]["level"] == 5 and report["baseline"]["known"] == known

    text = migrate(".", "--baseline", "base.json", cwd=project).stdout
    assert "Only findings new since the baseline base.json" in text


def test_a_second_copy_of_a_known_line_is_new(project: Path) -> None:
    assert migrate(".", "-f", "json", "-o", "base.json", cwd=project).returncode == 0
    (project / "app" / "chat2.py").write_text(CHAT)
    report = json.loads(migrate(".", "--baseline", "base.json", "-f", "json", cwd=project).stdout)
    assert {f["path"] for f in report["findings"]} == {"app/chat2.py"}


@pytest.mark.parametrize(("content", "message"), [
    (None, "base.json: cannot read the baseline"),
    ("{not json", "base.json: line 1: not JSON"),
    ('{"findings": [{"path": 3}]}', "base.json: field "),
])
def test_a_bad_baseline_is_a_one_line_usage_error(project: Path, content: str | None, message: str) -> None:
    if content is not None:
        (project / "base.json").write_text(content)
    out = migrate(".", "--baseline", "base.json", cwd=project)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and message in out.stderr


def test_changed_files_are_scanned_in_their_project(project: Path) -> None:
    """The client comes from a factory in a file that did not change: the call is still found."""
    out = migrate("app/chat.py", "app/__init__.py", "-f", "json", cwd=project)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert [f["path"] for f in report["findings"]] == ["app/chat.py"]
    assert report["scope"] == ["app/chat.py", "app/__init__.py"]
    assert "Limited to 2 paths" in migrate("app/chat.py", "app/__init__.py", "-f", "markdown", cwd=project).stdout

    sub = project / "app"
    out = migrate("chat.py", "--project", "..", "-f", "json", cwd=sub)
    assert [f["path"] for f in json.loads(out.stdout)["findings"]] == ["app/chat.py"]

    outside = migrate("app/chat.py", "/etc/hostname", cwd=project)
    assert outside.returncode == 2 and "not inside the project" in outside.stderr
