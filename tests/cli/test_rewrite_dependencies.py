"""`migrate rewrite` declares `offramp` in the app's own dependency file (the rewritten code imports it), shown
in the diff and said in the summary; layout and comments stay, a 0.x openai pin becomes 1.x, and a second run
changes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers the commands)
from offramp.migrate.cli_app import app
from offramp.migrate.rewrite import dependencies

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

APP = "from openai import OpenAI\n\nclient = OpenAI()\n\n\ndef ask(q):\n" \
      "    return client.chat.completions.create(model='gpt-4o-mini', messages=q)\n"
REQ = dependencies.requirement()


def rewrite(root: Path, *args: str):
    return CliRunner().invoke(app, ["rewrite", str(root), "--allow-dirty", "--no-color", *args])


def project(tmp_path: Path, name: str, text: str) -> Path:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / name).write_text(text)
    return tmp_path / name


CASES = {
    "pyproject.toml": (
        '[project]\nname = "x"\ndependencies = [\n    "openai==0.28.1",  # the old SDK\n    "numpy>=1.24"\n]\n\n'
        '[tool.ruff]\nline-length = 100\n',
        lambda t: tomllib.loads(t)["project"]["dependencies"],
    ),
    "requirements.txt": ("# runtime\nopenai>=1.40\nrequests\n", lambda t: t.split("\n")),
    "setup.cfg": ("[metadata]\nname = x\n\n[options]\ninstall_requires =\n    openai<1\n    requests\n"
                  "packages = find:\n", None),
    "Pipfile": ('[packages]\nopenai = "==0.28.1"\n\n[dev-packages]\npytest = "*"\n',
                lambda t: [f"{k}{v}" for k, v in tomllib.loads(t)["packages"].items()]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_kind_of_dependency_file_gets_offramp_once(tmp_path, name):
    text, deps = CASES[name]
    path = project(tmp_path, name, text)
    res = rewrite(tmp_path, "--dry-run")
    assert res.exit_code == 0, res.output
    assert f"--- a/{name}" in res.output and f"+++ b/{name}" in res.output
    assert f"{name}: would add {REQ} to the app's dependencies" in res.output
    assert path.read_text() == text  # dry run
    res = rewrite(tmp_path)
    assert res.exit_code == 0, res.output
    new = path.read_text()
    if deps is not None:
        listed = deps(new)
        assert any(d.replace(" ", "") in (REQ, f"offramp{REQ[len('offramp'):]}") for d in listed), listed
    assert REQ.partition(">=")[2] in new and "offramp" in new
    assert "openai==0.28.1" not in new and "openai<1" not in new
    if "# the old SDK" in text:
        assert "# the old SDK" in new and "[tool.ruff]\nline-length = 100\n" in new
    again = rewrite(tmp_path, "--dry-run")
    assert f"{name}: already depends on offramp" in again.output
    assert f"+++ b/{name}" not in again.output
    assert path.read_text() == new


def test_poetry_dependencies(tmp_path):
    path = project(tmp_path, "pyproject.toml", '[tool.poetry]\nname = "x"\n\n[tool.poetry.dependencies]\n'
                                               'python = "^3.10"\nopenai = "^1.40"\n\n[build-system]\n'
                                               'requires = ["poetry-core"]\n')
    assert rewrite(tmp_path).exit_code == 0
    deps = tomllib.loads(path.read_text())["tool"]["poetry"]["dependencies"]
    assert deps["offramp"] == REQ[len("offramp"):] and deps["openai"] == "^1.40"


def test_requirements_txt_wins_over_dev_requirements(tmp_path):
    project(tmp_path, "requirements-dev.txt", "pytest\n")
    project(tmp_path, "requirements.txt", "openai\n")
    rewrite(tmp_path)
    assert (tmp_path / "requirements.txt").read_text() == f"openai\n{REQ}\n"
    assert (tmp_path / "requirements-dev.txt").read_text() == "pytest\n"


def test_no_dependency_file_is_said(tmp_path):
    (tmp_path / "app.py").write_text(APP)
    res = rewrite(tmp_path, "--dry-run")
    assert f"no dependency file found (pyproject.toml, requirements*.txt, setup.cfg, Pipfile): add {REQ}" in res.output


def test_nothing_moved_nothing_declared(tmp_path):
    project(tmp_path, "requirements.txt", "requests\n").parent.joinpath("app.py").write_text("print('hi')\n")
    res = rewrite(tmp_path)
    assert (tmp_path / "requirements.txt").read_text() == "requests\n"
    assert not (tmp_path / "offramp.toml").exists()
    assert "offramp.toml" not in res.output


def test_requirements_txt_wins_over_a_pyproject_without_dependencies(tmp_path):
    project(tmp_path, "pyproject.toml", '[project]\nname = "x"\ndynamic = ["dependencies"]\n')
    project(tmp_path, "requirements.txt", "openai>=1.40\n")
    res = rewrite(tmp_path, "--dry-run")
    assert f"requirements.txt: would add {REQ}" in res.output and "+++ b/pyproject.toml" not in res.output


def test_a_pyproject_without_dependencies_gets_the_key(tmp_path):
    path = project(tmp_path, "pyproject.toml", '[project]\nname = "x"\n\n[tool.ruff]\nline-length = 99\n')
    assert rewrite(tmp_path).exit_code == 0
    assert tomllib.loads(path.read_text())["project"]["dependencies"] == [REQ]
