"""A model id held in a constant of another project module (`MODEL = "ft:..."` in config.py, `model=config.MODEL`
elsewhere) reaches the report's `models` — with the constant's own file and line — and so the routing config and
the deadlines, as an id written at the call does. VALID: names that are not the project's constants stay out."""

from __future__ import annotations

from pathlib import Path

import pytest

from offramp.migrate.scan import scan_path
from offramp.migrate.scan.options import ScanOptions

FT = "ft:gpt-4o-mini-2024-07-18:acme::abc123"
CONFIG = f'"""Settings."""\nimport os\n\nMODEL = "{FT}"\nSUMMARY_MODEL = os.environ.get("SUMMARY", "gpt-4.1")\n'

# (files besides app/config.py, the call's file): how the calling module reaches the constant
INVALID = {
    "import-module": {"app/__init__.py": "", "app/run.py": (
        "from openai import OpenAI\nfrom app import config\n\nc = OpenAI()\n"
        "r = c.chat.completions.create(model=config.MODEL, messages=[])\n")},
    "from-import-as": {"app/__init__.py": "", "app/run.py": (
        "from openai import OpenAI\nfrom app.config import MODEL as TICKETS\n\nc = OpenAI()\n"
        "r = c.chat.completions.create(model=TICKETS, messages=[])\n")},
    "relative-reexport": {"app/__init__.py": "", "app/models.py": "from .config import MODEL\n",
                          "app/run.py": ("from openai import OpenAI\nfrom .models import MODEL\n\nc = OpenAI()\n"
                                         "r = c.chat.completions.create(model=MODEL, messages=[])\n")},
    "dotted-import": {"app/__init__.py": "", "app/run.py": (
        "import openai\nimport app.config\n\nc = openai.OpenAI()\n"
        "r = c.chat.completions.create(model=app.config.MODEL, messages=[])\n")},
}


def _scan(tmp_path: Path, files: dict[str, str]):
    (tmp_path / "app").mkdir()
    (tmp_path / "app/config.py").write_text(CONFIG)
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    return scan_path(tmp_path, ScanOptions(use_cache=False, jobs=1))


@pytest.mark.parametrize("how", sorted(INVALID))
def test_a_constant_of_another_module_is_a_model_of_the_report(tmp_path: Path, how: str) -> None:
    report = _scan(tmp_path, INVALID[how])
    call = next(f for f in report.findings if f.api == "chat.completions.create")
    assert call.models == [FT]
    assert "fine_tuned_model" in call.features
    assert [(r.model, r.path, r.line, r.context) for r in report.models] == [(FT, "app/config.py", 4, "constant")]


def test_an_env_default_of_another_module_is_followed_too(tmp_path: Path) -> None:
    report = _scan(tmp_path, {"app/__init__.py": "", "app/sum.py": (
        "from openai import OpenAI\nfrom app.config import SUMMARY_MODEL\n\n"
        "r = OpenAI().chat.completions.create(model=SUMMARY_MODEL, messages=[])\n")})
    assert [(r.model, r.path, r.line, r.context) for r in report.models] == [
        ("gpt-4.1", "app/config.py", 5, "env-default")]


VALID = {
    # a constant of an installed package (not a file of the project): nothing to read, nothing reported
    "not-the-project": "from openai import OpenAI\nfrom vendor_settings import MODEL\n\n"
                       "r = OpenAI().chat.completions.create(model=MODEL, messages=[])\n",
    # the module exists but has no such constant
    "no-such-constant": "from openai import OpenAI\nfrom app import config\n\n"
                        "r = OpenAI().chat.completions.create(model=config.OTHER, messages=[])\n",
    # an attribute of an object, not of a module
    "object-attribute": "from openai import OpenAI\nfrom app.config import MODEL\n\nclass S:\n    MODEL = MODEL\n\n"
                        "r = OpenAI().chat.completions.create(model=S().MODEL, messages=[])\n",
}


@pytest.mark.parametrize("how", sorted(VALID))
def test_names_that_are_not_project_constants_give_no_model(tmp_path: Path, how: str) -> None:
    report = _scan(tmp_path, {"app/__init__.py": "", "app/run.py": VALID[how]})
    assert report.models == []


def test_the_finetuned_sample_app_reports_its_ft_model_from_models_py() -> None:
    app = Path(__file__).resolve().parents[2] / "sample_apps" / "finetuned_classifier"
    report = scan_path(app, ScanOptions(use_cache=False, jobs=1))
    refs = {(r.model, r.path) for r in report.models}
    assert ("ft:gpt-4o-mini-2024-07-18:acme:tickets:9abcXYZ1", "classifier/models.py") in refs
