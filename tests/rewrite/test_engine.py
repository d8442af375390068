"""The rewrite of whole sources and trees: imports, idempotence, untouched files, notebooks, the safety check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offramp.migrate.rewrite import engine, safety
from offramp.migrate.rewrite.engine import RewriteOptions, rewrite_path, rewrite_source

V0 = '''"""Module docstring."""
from __future__ import annotations

import os

import openai  # the SDK

openai.api_key = os.environ["OPENAI_API_KEY"]


def ask(q):
    # keep this comment
    resp = openai.ChatCompletion.create(model="gpt-4o", messages=[{"role": "user", "content": q}])
    return resp["choices"][0]["message"]["content"]


def guarded(q):
    try:
        return ask(q)
    except openai.error.Timeout:
        return None
'''


def test_v0_module_is_moved_onto_the_adapter() -> None:
    code, moved, left, error = rewrite_source(V0, "app.py")
    assert not error
    assert "import openai  # the SDK" in code  # still used by the exception
    assert code.count("from offramp import adapters") == 1
    assert code.index("from offramp import adapters") < code.index("adapters.configure")
    assert 'adapters.configure(api_key=os.environ["OPENAI_API_KEY"])' in code
    assert "adapters.client().chat.completions.create(" in code
    assert 'return resp.choices[0].message.content' in code
    assert "except openai.APITimeoutError:" in code
    assert "# keep this comment" in code and '"""Module docstring."""' in code
    assert code.startswith('"""Module docstring."""\nfrom __future__ import annotations\n')
    assert not left
    assert {m.strategy for m in moved} >= {"v0-config", "v0-resource-call", "v0-exception", "response-access"}
    assert safety.check(V0, code, "app.py") == ""


def test_second_run_is_a_no_op() -> None:
    once, *_ = rewrite_source(V0, "app.py")
    twice, moved, _, error = rewrite_source(once, "app.py")
    assert twice == once and not error and not moved


def test_openai_import_removed_only_when_unused() -> None:
    code, *_ = rewrite_source("import openai\n\nr = openai.Embedding.create(model='e', input='x')\n", "a.py")
    assert code == "from offramp import adapters\n\nr = adapters.client().embeddings.create(model='e', input='x')\n"


def test_v1_module_client_moves_and_platform_calls_stay(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "import openai\nopenai.api_key = 'k'\nr = openai.chat.completions.create(model='m', messages=[])\n"
        "a = openai.beta.assistants.create(model='m')\n")
    result = rewrite_path(tmp_path, RewriteOptions(use_scan=False))
    new = result.files[0].rewritten
    assert "adapters.client().chat.completions.create" in new
    assert "openai.beta.assistants.create" in new
    # the module client still serves the assistants call: its key stays set, and the adapter gets it too
    assert "openai.api_key = 'k'\nadapters.configure(api_key=openai.api_key)\n" in new
    assert [s.strategy for s in result.files[0].left] == ["keep-on-openai"]


def test_files_without_openai_never_change(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text("x = {'choices': 1}\nprint(x['choices'])\n")
    (tmp_path / "other.py").write_text("import requests\n")
    result = rewrite_path(tmp_path, RewriteOptions())
    assert result.files == [] and result.files_scanned == 2


def test_exclude_and_include(tmp_path: Path) -> None:
    (tmp_path / "gen").mkdir()
    for name in ("a.py", "gen/b.py"):
        (tmp_path / name).write_text("import openai\nc = openai.OpenAI()\n")
    result = rewrite_path(tmp_path, RewriteOptions(exclude=["gen/"]))
    assert [f.path for f in result.changed] == ["a.py"]


def test_only_category_limits_the_rewrite(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "import openai\nc = openai.OpenAI()\ntry:\n    pass\nexcept openai.error.RateLimitError:\n    pass\n")
    result = rewrite_path(tmp_path, RewriteOptions(only_categories=["errors"]))
    new = result.files[0].rewritten
    assert "openai.RateLimitError" in new and "c = openai.OpenAI()" in new


def test_notebook_cells_are_rewritten_in_the_json(tmp_path: Path) -> None:
    nb = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Demo\n"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["%pip install openai\n", "import openai"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["r = openai.Completion.create(model='m', prompt='p')\n", "print(r['choices'][0]['text'])"]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "demo.ipynb"
    path.write_text(json.dumps(nb, indent=1) + "\n")
    result = rewrite_path(tmp_path, RewriteOptions(use_scan=False))
    f = result.files[0]
    assert not f.error, f.error
    out = json.loads(f.rewritten)
    assert out["cells"][0] == nb["cells"][0]
    assert out["cells"][1]["source"] == ["%pip install openai\n", "from offramp import adapters"]
    assert out["cells"][2]["source"] == ["r = adapters.client().completions.create(model='m', prompt='p')\n",
                                         "print(r.choices[0].text)"]
    assert f.rewritten.startswith('{\n "cells"')  # the notebook's own indentation


def test_a_file_failing_the_safety_check_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.py").write_text("import openai\nc = openai.OpenAI()\n")
    (tmp_path / "b.py").write_text("import openai\nd = openai.OpenAI()\n")
    real = engine.rewrite_source

    def broken(source, relpath="<string>", **kw):
        code, moved, left, error = real(source, relpath, **kw)
        return (code + "print(undefined_name)\n" if relpath == "b.py" else code), moved, left, error

    monkeypatch.setattr(engine, "rewrite_source", broken)
    result = rewrite_path(tmp_path, RewriteOptions())
    failed = {f.path: f.error for f in result.failed}
    assert list(failed) == ["b.py"] and "line 3: undefined name 'undefined_name'" in failed["b.py"]
    assert [f.path for f in result.changed] == ["a.py"]


def test_safety_check_ignores_warnings_the_original_already_had() -> None:
    original = "import os\nimport openai\nx = openai.OpenAI()\n"  # `os` unused before and after
    assert safety.check(original, "import os\nfrom offramp import adapters\nx = adapters.OpenAI()\n", "a.py") == ""
    assert safety.check(original, "import os\nimport openai\nfrom offramp import adapters\nx = adapters.OpenAI()\n", "a.py") \
        == "rewritten code fails the check: line 2: 'openai' imported but unused"
    assert "does not parse" in safety.check(original, "x = (\n", "a.py")


def test_unparseable_file_is_reported_not_touched(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("import openai\nprint 'x'\n")
    result = rewrite_path(tmp_path, RewriteOptions(use_scan=False))
    f = result.failed[0]
    assert f.path == "bad.py" and f.skipped_line == 2 and f.error.startswith("syntax not supported by the parser")


def test_a_failure_while_writing_leaves_every_file_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from offramp.migrate.rewrite import write

    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("import openai\nc = openai.OpenAI()\n")
    result = rewrite_path(tmp_path, RewriteOptions())
    assert len(result.changed) == 2
    real = write.tempfile.mkstemp
    calls = []

    def failing(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(*a, **kw)

    monkeypatch.setattr(write.tempfile, "mkstemp", failing)
    with pytest.raises(OSError):
        write.write_all(result, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py"]  # no temp file left behind
    assert all(p.read_text() == "import openai\nc = openai.OpenAI()\n" for p in tmp_path.iterdir())


def test_annotated_notebook_is_stable_on_a_second_run(tmp_path: Path) -> None:
    from offramp.migrate.rewrite.write import write_all

    nb = {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": ["import openai\n", "r = openai.ChatCompletion.create(model='m', messages=[])\n",
                                "openai.Edit.create(input='x')"]}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "n.ipynb").write_text(json.dumps(nb, indent=1) + "\n")
    first = rewrite_path(tmp_path, RewriteOptions(annotate=True))
    [left] = first.files[0].left
    assert (left.cell, left.line) == (0, 3)
    write_all(first, tmp_path)
    assert "# migrate: " in (tmp_path / "n.ipynb").read_text()
    assert rewrite_path(tmp_path, RewriteOptions(annotate=True)).changed == []


AZURE_SETUP = """import openai

def setup(settings):
    openai.api_type = "azure"
    openai.api_base = settings.azure_endpoint
    openai.api_version = AZURE_API_VERSION
    openai.proxy = settings.proxy
"""


@pytest.mark.parametrize("keep", [False, True], ids=["moved", "keep"])
def test_merged_settings_keep_annotations_on_their_line_and_are_stable(keep: bool) -> None:
    """Merging removes (or, kept, moves) lines: the `# migrate:` note must still sit on the line it explains."""
    code, _, left, error = rewrite_source(AZURE_SETUP, "a.py", keep_config=keep, annotate=True)
    assert not error and [s.api for s in left] == ["openai.proxy"]
    lines = code.splitlines()
    proxy = lines.index("    openai.proxy = settings.proxy")
    assert lines[proxy - 1].startswith("    # migrate: openai.proxy has no 1.x equivalent")
    want = ("adapters.configure(api_type=openai.api_type, base_url=openai.api_base, api_version=openai.api_version)"
            if keep else
            'adapters.configure(api_type="azure", base_url=settings.azure_endpoint, api_version=AZURE_API_VERSION)')
    assert lines[proxy - 2] == "    " + want
    assert code.count("adapters.configure(") == 1
    assert rewrite_source(code, "a.py", keep_config=keep, annotate=True)[0] == code


def test_settings_in_two_notebook_cells_are_not_merged(tmp_path: Path) -> None:
    nb = {"cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["import openai\n", "openai.api_type = 'azure'"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["openai.api_version = '2024-06-01'\n", "openai.api_base = B"]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "n.ipynb").write_text(json.dumps(nb, indent=1) + "\n")
    f = rewrite_path(tmp_path, RewriteOptions(use_scan=False)).files[0]
    assert not f.error, f.error
    out = json.loads(f.rewritten)
    assert out["cells"][0]["source"] == ["from offramp import adapters\n", "adapters.configure(api_type='azure')"]
    assert out["cells"][1]["source"] == ["adapters.configure(api_version='2024-06-01', base_url=B)"]


def test_a_tree_rewritten_before_0_2_gets_the_offramp_namespace(tmp_path: Path) -> None:
    """Rewritten apps used to import a top-level `adapters`; a new rewrite upgrades those imports, even in files
    that no longer mention openai, and leaves an app's own `adapters` package alone."""
    old = tmp_path / "old"
    (old / "svc").mkdir(parents=True)
    (old / "svc" / "chat.py").write_text(
        "import adapters\n\ndef ask(q):\n    return adapters.client().chat.completions.create(model='m', messages=q)\n")
    (old / "svc" / "make.py").write_text("from adapters import AsyncOpenAI, OpenAI\n\nc = OpenAI()\n")
    result = rewrite_path(old, RewriteOptions(use_scan=False))
    new = {f.path: f.rewritten for f in result.files}
    assert new["svc/chat.py"].startswith("from offramp import adapters\n")
    assert new["svc/make.py"].startswith("from offramp.adapters import AsyncOpenAI, OpenAI\n")
    assert {s.strategy for f in result.files for s in f.moved} == {"offramp-import"}

    own = tmp_path / "own"
    (own / "adapters").mkdir(parents=True)
    (own / "adapters" / "__init__.py").write_text("def client():\n    return None\n")
    (own / "app.py").write_text("import adapters\n\nc = adapters.client()\n")
    result = rewrite_path(own, RewriteOptions(use_scan=False))
    app = next(f for f in result.files if f.path == "app.py")
    assert app.rewritten == app.original
    assert "its own `adapters` package" in app.left[0].reason
