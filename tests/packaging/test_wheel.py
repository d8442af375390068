"""The built distribution, installed the way a user installs it: sdist and wheel built with `python -m build`
from the tracked files, the wheel installed into new virtualenvs with the repository nowhere on the path — one
empty, one that already holds the registry's `adapters` (AdapterHub) and `rules` (django-rules) packages, whose
import names Offramp must never take."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FOLDERS = ("migrate", "adapters", "shadow", "rules", "schema")
pytestmark = pytest.mark.slow  # builds a wheel and installs it into fresh virtualenvs


def _run(cmd: list[str], cwd: Path, timeout: int = 900, **kw) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    out = subprocess.run(cmd, cwd=cwd, env=env | kw.pop("env", {}), capture_output=True, text=True,
                         timeout=timeout, **kw)
    assert out.returncode == 0, f"{' '.join(cmd)}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return out


def _tracked() -> list[str]:
    out = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], REPO).stdout
    return [p for p in out.split("\0") if p and (REPO / p).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for rel in _tracked():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(src)], src)  # sdist, then the wheel from it
    wheels = list(dist.glob("offramp-*.whl"))
    assert len(wheels) == 1 and list(dist.glob("offramp-*.tar.gz")), sorted(p.name for p in dist.iterdir())
    return wheels[0]


def _venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin"


def test_the_wheel_holds_every_package_file_under_offramp_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"offramp", next(t for t in tops if t.endswith(".dist-info"))}, tops
    expected = {f"offramp/{rel}" for rel in _tracked() if rel.split("/")[0] in FOLDERS}
    assert expected - set(names) == set(), "tracked package files missing from the wheel"
    for kind in ("rules/levels.toml", "rules/patterns/chat.toml", "rules/backends/deepseek.toml",
                 "rules/prices/deepseek.toml", "schema/scan-report.schema.json", "shadow/dashboard/__init__.py"):
        assert f"offramp/{kind}" in names
    assert not [n for n in names if n.startswith(("offramp/tests", "offramp/sample_apps", "tests/", "sample_apps/"))]
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "migrate = offramp.migrate.cli:main" in meta and "offramp = offramp.migrate.cli:main" in meta


def test_a_clean_virtualenv_runs_the_scan_the_light_adapter_and_the_proxy(wheel: Path, tmp_path: Path) -> None:
    bin_ = _venv(tmp_path / "clean")
    _run([str(bin_ / "pip"), "install", "-q", str(wheel)], tmp_path)
    app = tmp_path / "support_chatbot"
    shutil.copytree(REPO / "sample_apps" / "support_chatbot", app)
    scan = _run([str(bin_ / "migrate"), "scan", str(app), "--format", "json", "--no-cache"], tmp_path)
    assert '"summary"' in scan.stdout and '"chat.completions.create"' in scan.stdout
    assert _run([str(bin_ / "offramp"), "--version"], tmp_path).stdout.startswith("offramp ")
    light = _run([str(bin_ / "python"), "-c",
                  "import sys; import offramp.adapters as a; print(a.__file__); "
                  "print(sorted(m for m in ('libcst', 'typer', 'rich') if m in sys.modules))"], tmp_path)
    where, heavy = light.stdout.splitlines()
    assert str(tmp_path / "clean") in where and heavy == "[]"
    assert "--primary" in _run([str(bin_ / "migrate"), "shadow", "serve", "--help"], tmp_path).stdout


def test_installed_next_to_the_registrys_adapters_and_rules_both_keep_working(wheel: Path, tmp_path: Path) -> None:
    bin_ = _venv(tmp_path / "crowded")
    # torch first, the CPU build this machine kind carries (AdapterHub's adapters imports it)
    _run([str(bin_ / "pip"), "install", "-q", "torch==2.13.0"], tmp_path)
    _run([str(bin_ / "pip"), "install", "-q", "adapters==1.3.0", "rules==3.5"], tmp_path)
    _run([str(bin_ / "pip"), "install", "-q", str(wheel)], tmp_path)
    check = _run([str(bin_ / "python"), "-c", """
import adapters, rules
from adapters import SeqBnConfig
assert SeqBnConfig().reduction_factor == 16, "AdapterHub's adapters"
rules.add_rule("can_edit", rules.is_authenticated | rules.always_allow)
assert rules.test_rule("can_edit", None), "django-rules"
from offramp import adapters as off
from offramp.adapters import OpenAI
import offramp.rules
assert off is not adapters and offramp.rules is not rules
assert (offramp.rules.RULES_DIR / "levels.toml").is_file()
client = OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1")
print(adapters.__file__, rules.__file__, off.__file__, type(client).__mro__[1].__module__)
"""], tmp_path)
    ours, theirs = check.stdout.split()[2], check.stdout.split()[:2]
    assert "/offramp/adapters/" in ours and all("/offramp/" not in p for p in theirs), check.stdout
    scan = _run([str(bin_ / "migrate"), "scan", str(REPO / "sample_apps" / "rag_search"), "--no-cache"], tmp_path)
    assert "Lock-in level" in scan.stdout
