"""Defects the corpus rewrite (bench/corpus/rewrite_check.py) found in real repositories, each reproduced in a
minimal snippet written here, Fixit-style: VALID code the rewrite must leave as it is, INVALID code with the
rewrite it must produce. Every rewrite must pass the safety check (it was the check that refused these files)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from offramp.migrate.rewrite import safety
from offramp.migrate.rewrite.engine import RewriteOptions, rewrite_path, rewrite_source


def _rewrite(before: str):
    code, moved, left, error = rewrite_source(before, "app.py")
    assert not error, error
    assert safety.check(before, code, "app.py") == "", code
    compile(code, "app.py", "exec")
    return code, moved, left


# 1. One `from openai.error import` naming a class with a 1.x equivalent and one without (TryAgain): the uses were
#    renamed to the 1.x names while the import stayed as it was (undefined APITimeoutError; the file was refused).
MIXED_INVALID = [
    (
        "from openai.error import RateLimitError, Timeout, TryAgain\n\n"
        "def call(f):\n    try:\n        return f()\n    except (Timeout, TryAgain):\n        return None\n"
        "    except RateLimitError:\n        raise\n",
        "from openai.error import TryAgain\nfrom openai import APITimeoutError, RateLimitError\n\n"
        "def call(f):\n    try:\n        return f()\n    except (APITimeoutError, TryAgain):\n        return None\n"
        "    except RateLimitError:\n        raise\n",
    ),
    (  # an existing `from openai import` takes the classes that move
        "from openai import APIError\nfrom openai.error import Timeout, TryAgain\n\n"
        "RETRY = (APIError, Timeout, TryAgain)\n",
        "from openai import APITimeoutError, APIError\nfrom openai.error import TryAgain\n\n"
        "RETRY = (APIError, APITimeoutError, TryAgain)\n",
    ),
]
MIXED_VALID = [
    # nothing here has a 1.x class: left as it is (and reported)
    "from openai.error import TryAgain\n\ntry:\n    go()\nexcept TryAgain:\n    pass\n",
]


@pytest.mark.parametrize(("before", "after"), MIXED_INVALID)
def test_mixed_error_import_imports_every_class_it_introduces(before: str, after: str) -> None:
    code, _, left = _rewrite(before)
    assert code == after
    assert any("TryAgain has no 1.x class" in s.reason for s in left)


@pytest.mark.parametrize("code", MIXED_VALID)
def test_error_import_without_1x_classes_is_left(code: str) -> None:
    new, _, left = _rewrite(code)
    assert new == code
    assert {s.line for s in left} == {1, 5}  # the import and the use, each with the reason


def test_every_use_of_an_imported_error_class_is_accounted_for_at_its_own_line() -> None:
    """The moved uses are recorded (not reported as 'could not prove this site safe'), and a later strategy's
    sites keep their original lines (the import fix-up never shifts lines while the pipeline runs)."""
    src = ("import openai\nfrom openai.error import RateLimitError, TryAgain\n\n"
           "def f():\n    try:\n        return openai.ChatCompletion.create(model='m', messages=[])\n"
           "    except RateLimitError:\n        return None\n")
    _, moved, _ = _rewrite(src)
    lines = {(s.line, s.api) for s in moved}
    assert (7, "openai.error.RateLimitError") in lines
    assert (6, "openai.ChatCompletion.create") in lines


def test_building_a_1x_error_from_a_message_is_reported() -> None:
    """`raise RateLimitError("...")` compiles after the rename but raises TypeError on 1.x (response= needed)."""
    _, _, left = _rewrite("import openai\n\ndef f():\n    raise openai.error.RateLimitError('slow down')\n")
    assert [(s.line, s.api) for s in left] == [(4, "openai.RateLimitError")]
    assert "response" in left[0].reason


# 2. `import openai` and `import openai.error` in one module: the second became a second `import openai`
#    (pyflakes: redefinition of unused 'openai'; the file was refused).
REPEAT_INVALID = [
    (
        "import openai\nimport openai.error\n\ntry:\n    go()\nexcept openai.error.RateLimitError:\n    pass\n",
        "import openai\n\ntry:\n    go()\nexcept openai.RateLimitError:\n    pass\n",
    ),
    (  # the order reversed, another name on the line, and a comment above the line that goes
        "import openai.error\nimport os\n# the SDK\nimport openai\n\n"
        "try:\n    go(os.sep)\nexcept openai.error.Timeout:\n    pass\n",
        "import openai\nimport os\n# the SDK\n\ntry:\n    go(os.sep)\nexcept openai.APITimeoutError:\n    pass\n",
    ),
    (
        "import time, openai.error\nimport openai\n\nx = (time, openai.error.APIError)\n",
        "import time, openai\n\nx = (time, openai.APIError)\n",
    ),
    (  # in a function below the module's `import openai`
        "import openai\n\ndef g():\n    import openai.error\n    try:\n        f()\n"
        "    except openai.error.Timeout:\n        pass\n",
        "import openai\n\ndef g():\n    try:\n        f()\n    except openai.APITimeoutError:\n        pass\n",
    ),
]
REPEAT_VALID = [
    # a function-local `import openai` is another scope: the module's one stays
    "import openai\n\ndef f():\n    import openai\n    return openai.OpenAIError\n",
]


@pytest.mark.parametrize(("before", "after"), REPEAT_INVALID)
def test_import_openai_error_never_repeats_import_openai(before: str, after: str) -> None:
    code, _, _ = _rewrite(before)
    assert code == after


@pytest.mark.parametrize("code", REPEAT_VALID)
def test_imports_in_other_scopes_are_not_repeats(code: str) -> None:
    assert _rewrite(code)[0] == code


# 3. A file in newer syntax than this Python's `ast` reads (PEP 701 f-strings, Python 3.12): libcst rewrote it, then
#    the check said "rewritten code does not parse", as if the rewrite had broken it. It is skipped, in one line
#    naming the file and line, and its sites are reported as not moved.
PEP701 = 'import openai\n\nopenai.api_key = "k"\nmsg = f"{\n    len(openai.api_key)}"\n'


def test_newer_syntax_than_the_checker_reads_is_skipped_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "new.py").write_text(PEP701)
    result = rewrite_path(tmp_path, RewriteOptions(use_scan=False))
    f = result.files[0]
    if sys.version_info >= (3, 12):  # this Python reads it: it is rewritten and checked like any file
        assert f.changed and not f.error
        return
    assert not f.changed and (tmp_path / "new.py").read_text() == PEP701
    assert f.skipped_line == 4 and f.error.startswith("syntax not supported by the parser (Python 3.")
    assert [(s.line, s.api) for s in f.left] == [(3, "openai.api_key")]
    assert "was skipped" in f.left[0].reason


def test_the_cli_names_a_skipped_file_and_line_and_exits_3(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from offramp.migrate.cli import _register
    from offramp.migrate.cli_app import app

    _register()

    (tmp_path / "bad.py").write_text("import openai\nopenai.api_key = 'k'\nprint 'x'\n")
    out = CliRunner().invoke(app, ["rewrite", str(tmp_path), "--allow-dirty", "--no-color"])
    assert out.exit_code == 3
    assert "1 file(s) skipped (syntax not supported by the parser)" in out.output
    assert [ln for ln in out.output.splitlines() if ln.startswith("skipped ")] == [
        ln for ln in out.output.splitlines() if ln.startswith("skipped bad.py:3: syntax not supported by the parser")]


# 4. An Azure notebook: a shell escape continued over several lines with backslashes hid only its first line, so the
#    joined cells did not parse ("does not parse (line 250, column 4)", a line of no cell); and its On Your Data call
#    (`dataSources=`, sent in the body by 0.x) would have moved as it is, a TypeError in 1.x.
def _notebook(*cells: str) -> dict:
    return {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                       "source": c.splitlines(keepends=True)} for c in cells],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


NOTEBOOK_INVALID = [
    (
        _notebook("!pip install \\\n    openai==0.28\n", "%%bash\necho $((1 + 2))\n", "files = !ls\n",
                  "import openai\nr = openai.Embedding.create(engine='e', input='x')\n"),
        ["from offramp import adapters\n", "r = adapters.client().embeddings.create(model='e', input='x')\n"],
    ),
]


@pytest.mark.parametrize(("nb", "last_cell"), NOTEBOOK_INVALID)
def test_notebook_magics_over_several_lines_are_kept_and_the_code_rewritten(tmp_path: Path, nb: dict,
                                                                            last_cell: list[str]) -> None:
    (tmp_path / "n.ipynb").write_text(json.dumps(nb, indent=1) + "\n")
    result = rewrite_path(tmp_path, RewriteOptions(use_scan=False))
    f = result.files[0]
    assert not f.error, f.error
    out = json.loads(f.rewritten)
    assert [c["source"] for c in out["cells"][:3]] == [c["source"] for c in nb["cells"][:3]]
    assert "".join(out["cells"][3]["source"]).endswith("".join(last_cell))


def test_a_0x_keyword_1x_does_not_take_is_left_with_the_reason() -> None:
    """VALID: Azure On Your Data through 0.x `dataSources=` stays as it is, reported; any other keyword the 1.x
    method does not take too (the installed SDK says which it takes)."""
    for code, words in (
        ("import openai\nr = openai.ChatCompletion.create(deployment_id='d', messages=[], dataSources=[{}])\n",
         "Azure On Your Data"),
        ("import openai\nr = openai.Embedding.create(model='e', input='x', bogus_flag=1)\n",
         "bogus_flag= is not a parameter of 1.x embeddings.create"),
    ):
        new, moved, left, error = rewrite_source(code, "a.py")
        assert new == code and not error and not moved
        assert [s.line for s in left] == [2] and words in left[0].reason


# 5. Found by running an app's own tests after the rewrite (bench/corpus/app_tests.py): 0.x re-exported
#    InvalidRequestError at the root, `from openai import InvalidRequestError` passed the check and failed to import
#    on 1.x. The scan reports it (rules/patterns/errors.toml) and the rewrite renames it.
ROOT_INVALID = [
    (
        "from openai import APIError, InvalidRequestError\n\ndef f(g):\n    try:\n        return g()\n"
        "    except InvalidRequestError as e:\n        raise APIError from e\n",
        "from openai import APIError, BadRequestError\n\ndef f(g):\n    try:\n        return g()\n"
        "    except BadRequestError as e:\n        raise APIError from e\n",
    ),
]
ROOT_VALID = ["from openai import APIError, OpenAIError\n\nE = (APIError, OpenAIError)\n"]  # both are 1.x names


@pytest.mark.parametrize(("before", "after"), ROOT_INVALID)
def test_root_reexport_of_a_0x_class_is_renamed(before: str, after: str) -> None:
    import openai

    code, moved, _ = _rewrite(before)
    assert code == after and not hasattr(openai, "InvalidRequestError")
    assert {s.line for s in moved} >= {1, 6}


@pytest.mark.parametrize("code", ROOT_VALID)
def test_root_imports_1x_has_are_unchanged(code: str) -> None:
    assert _rewrite(code)[0] == code


# 6. Also from the apps' own tests: a 0.x app pinned to pydantic 1 (Floris/jarvis `pydantic = "^1.10.7"`) got
#    offramp added beside the pin, a set nobody can install (offramp needs pydantic 2). The summary says so.
@pytest.mark.parametrize(("pin", "conflict"), [
    ('pydantic = "^1.10.7"', True), ('pydantic = {version = "~1.10", extras = ["email"]}', True),
    ('pydantic = "^2.5"', False), ('pydantic = ">=1.10"', False),
])
def test_a_pydantic_1_pin_beside_offramp_is_reported(tmp_path: Path, pin: str, conflict: bool) -> None:
    from offramp.migrate.rewrite import dependencies

    (tmp_path / "pyproject.toml").write_text(
        f'[tool.poetry]\nname = "app"\n\n[tool.poetry.dependencies]\npython = "^3.11"\n{pin}\nopenai = "^0.27.4"\n')
    planned, note = dependencies.plan(tmp_path)
    assert planned is not None and "offramp" in planned.rewritten
    assert ("pins pydantic below 2" in note) is conflict
    if conflict:
        assert pin in note


def test_the_pydantic_floor_is_offramps_own() -> None:
    import tomllib

    from offramp.migrate.rewrite import dependencies

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    assert dependencies.PYDANTIC_FLOOR in deps
