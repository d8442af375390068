"""The rewrite runs on the scan of the whole project (its cross-module index), so it accounts for exactly the
sites `migrate scan` reports — a client made by a factory in another module included — and its summary counts
the calls that move with their client."""

from __future__ import annotations

from pathlib import Path

from offramp.migrate.rewrite.engine import RewriteOptions, rewrite_path
from offramp.migrate.scan import ScanOptions, scan_path

FACTORY = '''from openai import OpenAI


def make_client():
    return OpenAI(timeout=30)
'''
MAIN = '''from app.clients import make_client


def ask(q):
    client = make_client()
    resp = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": q}])
    return resp.choices[0].message.content


def embed(texts):
    return make_client().embeddings.create(model="text-embedding-3-small", input=texts)
'''


def _project(tmp_path: Path, factory: str = FACTORY) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "clients.py").write_text(factory)
    (tmp_path / "app" / "main.py").write_text(MAIN)
    return tmp_path


def _sites(result) -> set[tuple[str, int]]:
    return {(f.path, s.line) for f in result.files for s in (*f.moved, *f.left) if not f.error}


def test_calls_on_a_client_from_a_factory_in_another_module_are_the_scans_sites(tmp_path: Path) -> None:
    root = _project(tmp_path)
    scanned = {(f.path, f.line) for f in scan_path(root, ScanOptions(use_cache=False)).findings}
    assert ("app/main.py", 6) in scanned and ("app/main.py", 11) in scanned  # the scan sees through the factory
    result = rewrite_path(root)
    assert _sites(result) == scanned
    main = next(f for f in result.files if f.path == "app/main.py")
    assert [(s.line, s.api) for s in main.moved] == [(6, "chat.completions.create"), (11, "embeddings.create")]
    assert not main.changed, "calls on the client keep their shape"
    assert [f.path for f in result.changed] == ["app/clients.py"]
    assert result.moved == 3 and not result.left  # the constructor and the two calls riding on it


def test_calls_stay_counted_as_left_when_their_client_does_not_move(tmp_path: Path) -> None:
    root = _project(tmp_path)
    result = rewrite_path(root, RewriteOptions(only_categories=["chat", "embeddings"]))
    main = next(f for f in result.files if f.path == "app/main.py")
    assert not main.moved and [s.line for s in main.left] == [6, 11]
    assert all("moves with its client constructor, which --only leaves out" in s.reason for s in main.left)
    assert result.moved == 0


def test_calls_on_a_client_built_outside_the_project_are_left_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text('''from openai import OpenAI


def handle(client: OpenAI, q: str) -> str:
    r = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": q}])
    return r.choices[0].message.content or ""
''')
    result = rewrite_path(tmp_path)
    f = result.files[0]
    assert result.moved == 0 and [s.line for s in f.left] == [5]
    assert "client built outside the rewritten files" in f.left[0].reason


def test_second_run_on_the_rewritten_project_moves_nothing(tmp_path: Path) -> None:
    from offramp.migrate.rewrite.write import write_all

    root = _project(tmp_path)
    write_all(rewrite_path(root), root)
    again = rewrite_path(root)
    assert not again.changed and again.moved == 0 and not again.left


def test_cli_summary_counts_the_calls_that_move_with_their_client(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from offramp.migrate.cli import _register
    from offramp.migrate.cli_app import app

    _register()
    root = _project(tmp_path)
    res = CliRunner().invoke(app, ["rewrite", str(root), "--dry-run", "--no-color"])
    assert res.exit_code == 0, res.output
    assert ("1 would change, 3 sites moved onto the adapter (including 2 calls on a client, unchanged in the "
            "source: they move with the client), 0 left") in res.output
    res = CliRunner().invoke(app, ["rewrite", str(root), "--dry-run", "--no-color", "--only", "chat"])
    assert "0 would change, 0 sites moved onto the adapter, 1 left" in res.output
    assert "app/main.py:6  chat.completions.create  with-client — call on a client: it moves with its client " \
           "constructor, which --only leaves out" in res.output
