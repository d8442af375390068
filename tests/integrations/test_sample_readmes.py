"""Every sample app's README recipe runs as written, in bash, against `migrate fake-upstream` started the way the
main README starts it (its admin token exported first, so the suites can script faults on /_fake/script).

`pip install ...` lines are not run (no network in tests): the test checks instead that what they name is installed
in the interpreter the recipe uses (the legacy 0.x app: its cached venv, as tests/sample_apps builds it)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "sample_apps"))
harness = pytest.importorskip("sample_app_harness", reason="the sample-apps harness (tests/sample_apps) is absent")

APPS = harness.discover_apps()
README_PORT = "8765"


def _bash_block(text: str, after: str = "") -> str:
    start = text.index(after) if after else 0
    m = re.search(r"```bash\n(.*?)```", text[start:], re.S)
    assert m, f"no ```bash block{' after ' + after if after else ''}"
    return m.group(1)


def _main_recipe() -> tuple[str, list[str]]:
    """The admin token and the fake-upstream command line, as the main README's sample-app section has them."""
    block = _bash_block((REPO / "README.md").read_text(encoding="utf-8"), "### Running an app's own tests")
    token = re.search(r"^export OFFRAMP_ADMIN_TOKEN=(\S+)", block, re.M)
    assert token, "the main README does not export OFFRAMP_ADMIN_TOKEN before starting the fake"
    start = next(ln for ln in block.splitlines() if ln.startswith("migrate fake-upstream"))
    return token.group(1), shlex.split(start.split("#")[0].rstrip(" &"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def fake() -> tuple[int, str]:
    token, argv = _main_recipe()
    assert argv[:2] == ["migrate", "fake-upstream"] and argv[argv.index("--port") + 1] == README_PORT, argv
    port = _free_port()
    argv[argv.index("--port") + 1] = str(port)
    exe = shutil.which("migrate", path=str(Path(sys.executable).parent)) or shutil.which("migrate")
    assert exe, "the migrate console script is not installed"
    proc = subprocess.Popen([exe, *argv[1:]], env={**os.environ, "OFFRAMP_ADMIN_TOKEN": token},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the fake upstream did not start"
                time.sleep(0.2)
        yield port, token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _installed(python: Path, requirements: list[str]) -> list[str]:
    """Of `requirements` (pip arguments), those `python` lacks (a `==` pin must match)."""
    probe = ("import importlib.metadata as m, re, sys\n"
             "for r in sys.argv[1:]:\n"
             "    name, _, pin = r.partition('==')\n"
             "    try:\n"
             "        v = m.version(re.split(r'[<>=!~\\[ ;]', name)[0])\n"
             "    except m.PackageNotFoundError:\n"
             "        print(r)\n"
             "        continue\n"
             "    if pin and v != pin:\n"
             "        print(r)\n")
    out = subprocess.run([str(python), "-c", probe, *requirements], capture_output=True, text=True, timeout=60)
    return out.stdout.split()


@pytest.mark.slow  # each recipe runs the app's suite (and its scripts) in a subprocess
@pytest.mark.parametrize("app", APPS, ids=[a.name for a in APPS])
def test_readme_recipe_runs_as_written(app, fake, tmp_path):
    port, token = fake
    recipe = _bash_block((app.root / "README.md").read_text(encoding="utf-8"))
    assert "python -m pytest tests" in recipe, f"{app.name}: the recipe does not run the app's tests"
    python = harness.venv_python(app.pins) if app.pins else Path(sys.executable)
    script, wanted = [], []
    for line in recipe.splitlines():
        if line.startswith("pip install "):
            wanted += [a for a in shlex.split(line.split("#")[0])[2:] if not a.startswith("-")]
            continue
        script.append(line.replace(f"127.0.0.1:{README_PORT}", f"127.0.0.1:{port}"))
    if app.pins:
        def names(reqs):
            return {re.split(r"[<>=!~\[ ;]", r)[0].lower() for r in reqs}
        assert names(app.pins) <= names(wanted), f"{app.name}: the README's pip line does not install {app.pins}"
    if missing := _installed(python, wanted):
        if app.pins:
            pytest.fail(f"{app.name}: its venv lacks {missing}")
        pytest.skip(f"{app.name}: the recipe installs {', '.join(missing)}; not installed here")
    root = tmp_path / app.name
    shutil.copytree(app.root, root, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}
    env.update(OFFRAMP_ADMIN_TOKEN=token, PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}",
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("OFFRAMP_CONFIG", None)
    run = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", "\n".join(script)], cwd=root, env=env,
                         capture_output=True, text=True, timeout=600)
    output = (run.stdout + run.stderr)[-4000:]
    assert run.returncode == 0, f"{app.name}: the README recipe failed:\n{output}"
    summary = [ln for ln in run.stdout.splitlines() if re.search(r"\d+ passed", ln)]
    assert summary, f"{app.name}: no test ran:\n{output}"
    assert not re.search(r"\d+ (failed|error|skipped)", summary[-1]), summary[-1]

