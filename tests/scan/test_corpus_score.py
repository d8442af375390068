"""bench/corpus/score.py: label validation, finding-to-site matching, tree export and a real scored run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCORE = Path(__file__).resolve().parents[2] / "bench" / "corpus" / "score.py"
spec = importlib.util.spec_from_file_location("corpus_score", SCORE)
score = importlib.util.module_from_spec(spec)
sys.modules["corpus_score"] = score
spec.loader.exec_module(score)

SHA = "0123456789abcdef0123456789abcdef01234567"

APP = '''\
from openai import OpenAI
from anthropic import Anthropic

client = OpenAI()
claude = Anthropic()


def ask(q):
    resp = (
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": q}])
    )
    claude.messages.create(model="claude", max_tokens=10, messages=[])
    return resp
'''


def _labels(tmp: Path, body: str, name: str = "acme/app") -> Path:
    d = tmp / "labels"
    d.mkdir(exist_ok=True)
    f = d / (name.replace("/", "__") + ".toml")
    f.write_text(f'[repo]\nname = "{name}"\ncommit = "{SHA}"\ncovered = ["src"]\nlevel = 1\n\n' + body)
    return f


def _site(path: str, line: int, api: str, kind: str = "api", level: int = 1) -> str:
    return (f'[[site]]\npath = "{path}"\nline = {line}\nkind = "{kind}"\napi = "{api}"\nfeatures = []\n'
            f'level = {level}\nhow = "direct"\n\n')


def test_bad_labels_fail_with_one_line_naming_file_and_field(tmp_path):
    f = _labels(tmp_path, _site("src/a.py", 3, "OpenAI", kind="setup"))
    f.write_text(f.read_text().replace(SHA, "abc"))
    with pytest.raises(score.LabelError, match=r"acme__app.toml: repo.commit: expected 40"):
        score.load_labels(f)
    f = _labels(tmp_path, _site("lib/a.py", 3, "OpenAI", kind="setup"))
    with pytest.raises(score.LabelError, match=r"site\[0\].path: lib/a.py is outside covered"):
        score.load_labels(f)
    f = _labels(tmp_path, _site("src/a.py", 3, "OpenAI", kind="client"))
    with pytest.raises(score.LabelError, match=r"site\[0\].kind: expected one of api, setup"):
        score.load_labels(f)
    f = _labels(tmp_path, _site("src/a.py", 3, "OpenAI", kind="setup")
                + '[[trap]]\npath = "src/a.py"\nline = 3\nwhat = "x"\n')
    with pytest.raises(score.LabelError, match="trap src/a.py:3 is also a site's line"):
        score.load_labels(f)


def _finding(path: str, line: int, api: str, level: int = 1) -> dict:
    return {"path": path, "line": line, "api": api, "level": level, "features": [], "rule": "r", "code": ""}


def test_matching_exact_by_api_then_within_the_statement_then_traps_and_unlabelled(tmp_path):
    tree = tmp_path / "tree"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "app.py").write_text(APP)
    f = _labels(tmp_path, _site("src/app.py", 4, "OpenAI", kind="setup")
                + _site("src/app.py", 10, "chat.completions.create")
                + '[[trap]]\npath = "src/app.py"\nline = 12\nwhat = "anthropic messages.create"\n')
    res = score.RepoResult(score.load_labels(f), tree=tree)
    report = {"summary": {"level": 1}, "findings": [
        _finding("src/app.py", 9, "chat.completions.create"),   # statement's first line, inside the site's statement
        _finding("src/app.py", 4, "OpenAI"),
        _finding("src/app.py", 12, "chat.completions.create"),  # the trap
        _finding("src/app.py", 5, "OpenAI"),                    # covered, unlabelled
        _finding("tests/t.py", 1, "OpenAI"),                    # outside covered
    ]}
    score.match(res, report)
    setup, call = res.labels.sites
    assert setup.finding["line"] == 4 and not setup.shifted
    assert call.finding["line"] == 9 and call.shifted
    assert [(t.line, f["line"]) for t, f in res.trap_hits] == [(12, 12)]
    assert [f["line"] for f in res.unlabelled] == [5]
    assert res.outside == 1
    t = score.totals([res])
    assert (t["api_recall"], t["setup_recall"], t["trap_hits"], t["line_shifted"]) == (1.0, 1.0, 1, 1)


def test_two_sites_on_one_line_are_paired_by_api(tmp_path):
    tree = tmp_path / "tree"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "a.py").write_text("import instructor\nfrom openai import OpenAI\nc = instructor.from_openai(OpenAI())\n")
    f = _labels(tmp_path, _site("src/a.py", 3, "OpenAI", kind="setup")
                + _site("src/a.py", 3, "instructor.from_openai", kind="setup", level=2))
    res = score.RepoResult(score.load_labels(f), tree=tree)
    score.match(res, {"summary": {"level": 2}, "findings": [
        _finding("src/a.py", 3, "instructor.from_openai", level=2), _finding("src/a.py", 3, "OpenAI")]})
    by_api = {s.api: s.finding["api"] for s in res.labels.sites}
    assert by_api == {"OpenAI": "OpenAI", "instructor.from_openai": "instructor.from_openai"}
    assert score.totals([res])["site_level"] == 1.0


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "HOME": str(cwd), "PATH": "/usr/bin:/bin"})


def test_scored_run_exports_the_commit_from_a_mirror_and_writes_json(tmp_path):
    repo = tmp_path / "mirror" / "acme+app" / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src" / "app.py").write_text(APP)
    (repo / "logo.png").write_bytes(b"\x89PNG")
    _git("init", "-q", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-qm", "x", cwd=repo)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    f = _labels(tmp_path, _site("src/app.py", 4, "OpenAI", kind="setup") + _site("src/app.py", 10, "chat.completions.create")
                + '[[trap]]\npath = "src/app.py"\nline = 12\nwhat = "anthropic messages.create"\n')
    f.write_text(f.read_text().replace(SHA, sha))
    out = tmp_path / "corpus.json"
    rc = score.main(["--labels", str(f.parent), "--corpus-dir", str(tmp_path / "corpus"),
                     "--mirror-dir", str(tmp_path / "mirror"), "--json", str(out)])
    assert rc == 0
    tree = tmp_path / "corpus" / "acme__app"
    assert (tree / "src" / "app.py").read_text() == APP
    assert not (tree / "logo.png").exists()  # only what the scanner reads is exported
    data = json.loads(out.read_text())
    assert data["totals"]["api_recall"] == 1.0 and data["totals"]["setup_recall"] == 1.0
    assert data["totals"]["trap_hits"] == 0
    assert data["repositories"][0]["scan_level"] == 1


def test_misses_md_lists_every_miss_with_its_cause_and_the_level_differences(tmp_path):
    f = _labels(tmp_path, _site("src/a.py", 3, "OpenAI", kind="setup")
                + _site("src/a.py", 9, "chat.completions.create", level=2).replace(
                    'how = "direct"', 'how = "factory get_client() in src/clients.py | cached"')
                + _site("src/b.py", 5, "embeddings.create", level=4))
    res = score.RepoResult(score.load_labels(f), tree=tmp_path)
    score.match(res, {"summary": {"level": 0}, "findings": [
        _finding("src/a.py", 3, "OpenAI"), _finding("src/b.py", 5, "embeddings.create", level=1)]})
    md = score.render_misses_md([res], "test scanner")
    assert md.startswith("Misses of test scanner: 1 of 3 labelled sites (1 API, 0 setup) over 1 repositories.")
    assert "| `factory` | 1 | 1 | 0 |" in md
    assert ("| acme/app | `src/a.py:9` | api | `chat.completions.create` | 2 | `factory` | "
            "factory get_client() in src/clients.py \\| cached |") in md  # a `|` in `how` cannot break the table
    assert "| acme/app | `src/b.py:5` | `embeddings.create` | L4 - | L1 - | direct |" in md
    assert md.endswith("Project level off (1): acme/app L0 vs L1.")
