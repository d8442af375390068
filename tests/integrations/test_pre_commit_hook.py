"""The pre-commit hook (.pre-commit-hooks.yaml), run by pre-commit itself: `pre-commit try-repo` installs
Offramp from this checkout into pre-commit's own environment and runs the hook on a repository's changed files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLIENTS = "from openai import OpenAI\n\n\ndef get_client():\n    return OpenAI()\n"
PLAIN = ("from app.clients import get_client\n\n\ndef ask(q):\n"
         "    return get_client().chat.completions.create(model='gpt-4o-mini', messages=q)\n")
MEDIA = "from app.clients import get_client\n\n\ndef draw(p):\n    return get_client().images.generate(prompt=p)\n"


def try_repo(project: Path, home: Path, *files: str, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent)) or shutil.which("pre-commit")
    if pre_commit is None:
        pytest.fail("pre-commit is not installed: pip install -e '.[test]'")
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "NO_COLOR": "1"}
    cmd = [pre_commit, "try-repo", str(REPO), "offramp-scan", "--files", *files]
    if args:  # a config of the user's own, with `args:`
        cfg = project / ".pre-commit-config.yaml"
        cfg.write_text(f"repos:\n- repo: {REPO}\n  rev: HEAD\n  hooks:\n  - id: offramp-scan\n"
                       f"    args: {json.dumps(list(args))}\n")
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        cfg.write_text(cfg.read_text().replace("rev: HEAD", f"rev: {rev.strip()}"))
        cmd = [pre_commit, "run", "offramp-scan", "--files", *files]
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "clients.py").write_text(CLIENTS)
    (root / "app" / "chat.py").write_text(PLAIN)
    (root / "app" / "media.py").write_text(MEDIA)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "."], check=True)
    return root


@pytest.mark.slow  # pre-commit builds its own environment with Offramp installed from this checkout
def test_hook_fails_only_on_changed_files_that_reach_the_level(project: Path, tmp_path: Path) -> None:
    if subprocess.run(["git", "-C", str(REPO), "ls-files", "--error-unmatch", ".pre-commit-hooks.yaml"],
                      capture_output=True).returncode:
        pytest.fail(".pre-commit-hooks.yaml is not committed: pre-commit reads hooks from the repository")
    home = tmp_path / "pre-commit-home"
    ok = try_repo(project, home, "app/chat.py")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Passed" in ok.stdout and "Limited to 1 path: app/chat.py" not in ok.stdout  # quiet when it passes

    bad = try_repo(project, home, "app/chat.py", "app/media.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout and "images.generate" in bad.stdout
    assert "lock-in level 5 reaches --fail-on 4" in bad.stdout

    # the user's own `args:` come after the hook's entry: the last --fail-on wins
    strict = try_repo(project, home, "app/chat.py", args=("--fail-on", "1"))
    assert strict.returncode == 1 and "reaches --fail-on 1" in strict.stdout, strict.stdout + strict.stderr
