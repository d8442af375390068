"""`migrate rewrite` follows the scan's API graph (issue 9): a call found through a factory or a parameter moves
with its client, or is reported as not moved with the reason."""

from __future__ import annotations

from pathlib import Path

from offramp.migrate.rewrite.engine import RewriteOptions, rewrite_path

APP = {
    "app/__init__.py": "",
    "app/clients.py": "from openai import OpenAI\n\n\ndef get_client():\n    return OpenAI()\n",
    "app/views.py": ("from app.clients import get_client\n\n\ndef c(q):\n"
                     "    return get_client().chat.completions.create(model='gpt-4o', messages=q)\n"),
    "app/agent.py": "def ask(client, q):\n    return client.chat.completions.create(model='m', messages=q)\n",
    "app/main.py": "from openai import OpenAI\nfrom app.agent import ask\nask(OpenAI(), [])\n",
    "app/duck.py": "def other(client, q):\n    return client.embeddings.create(model='m', input=q)\n",
}


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def _sites(result):
    moved = {(f.path, s.line): s for f in result.files for s in f.moved}
    left = {(f.path, s.line): s for f in result.files for s in f.left}
    return moved, left


def test_calls_through_a_factory_and_a_parameter_move_with_their_client(tmp_path):
    result = rewrite_path(_tree(tmp_path, APP), RewriteOptions())
    moved, left = _sites(result)
    assert {k for k, s in moved.items() if s.strategy == "client-constructor"} == {("app/clients.py", 5),
                                                                                   ("app/main.py", 3)}
    factory = moved[("app/views.py", 5)]
    assert factory.via == ["factory get_client() in app/clients.py:4"]
    assert "reached through factory get_client()" in factory.reason
    param = moved[("app/agent.py", 2)]
    assert any("parameter client of ask()" in v for v in param.via)
    changed = {f.path: f.rewritten for f in result.files if f.changed}
    assert "from offramp.adapters import OpenAI" in changed["app/clients.py"]
    assert "app/views.py" not in changed  # the call keeps its shape: its client moved


def test_a_duck_typed_call_is_reported_not_moved_with_the_reason(tmp_path):
    _, left = _sites(rewrite_path(_tree(tmp_path, APP), RewriteOptions()))
    duck = left[("app/duck.py", 2)]
    assert duck.strategy == "scan:duck-typed"
    assert "parameter client of other()" in duck.reason and "not moved" in duck.reason


def test_a_factory_call_whose_client_stays_is_left_with_the_reason(tmp_path):
    result = rewrite_path(_tree(tmp_path, APP), RewriteOptions(only_categories=["chat"]))
    moved, left = _sites(result)
    assert ("app/views.py", 5) not in moved
    assert "client constructor" in left[("app/views.py", 5)].reason
