"""The README's path, followed literally on a copy of every sample app (a git repository of its own, as the
README assumes): `migrate scan`, `migrate rewrite --dry-run` (the diff shows the starting offramp.toml and the
dependency), `migrate rewrite`, `migrate adapter check` on the offramp.toml it wrote, and then the app's own test
suite with that offramp.toml pointed at the fake DeepSeek (the app's own OpenAI settings at the fake OpenAI)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers the commands)
from offramp.migrate.cli_app import app as cli

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "sample_apps"))
harness = pytest.importorskip("sample_app_harness", reason="the sample-apps harness (tests/sample_apps) is absent")
from offramp.migrate.fake_upstream.testing import FakeUpstream  # noqa: E402

APPS = harness.discover_apps()


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t"})


def _migrate(*args: str, cwd: Path) -> tuple[int, str]:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        r = CliRunner().invoke(cli, list(args), env={"DEEPSEEK_API_KEY": "ds-test-key", "OFFRAMP_CONFIG": None})
    finally:
        os.chdir(old)
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, str]]:
    """Each app copied twice (pristine, and the one the README is followed on), scanned and rewritten through the
    CLI; the dry-run output is kept for the assertions."""
    out = {}
    for app in APPS:
        base = tmp_path_factory.mktemp("readme")
        pristine, root = base / "pristine", base / app.name
        for dest in (pristine, root):
            shutil.copytree(app.root, dest, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache"))
        _git(root, "init", "-q")
        _git(root, "add", "-A")
        _git(root, "commit", "-qm", "app")
        code, scan = _migrate("scan", ".", cwd=root)
        assert code == 0, scan
        code, dry = _migrate("rewrite", ".", "--dry-run", "--no-color", cwd=root)
        assert code == 0, dry
        assert not (root / "offramp.toml").exists(), "--dry-run wrote offramp.toml"
        code, wrote = _migrate("rewrite", ".", "--no-color", cwd=root)
        assert code == 0, wrote
        out[app.name] = (root, pristine, dry)
    return out


@pytest.mark.parametrize("app", APPS, ids=[a.name for a in APPS])
def test_rewrite_shows_and_writes_the_config_and_the_dependency(app, followed):
    root, _, dry = followed[app.name]
    assert "+++ b/offramp.toml" in dry and "--- /dev/null" in dry
    assert re.search(r'^\+dependencies = \[.*"offramp>=\d+\.\d+"', dry, re.M), dry[-3000:]
    assert "offramp.toml: would write a starting routing config" in dry
    assert "pyproject.toml: would add offramp>=" in dry
    assert (root / "offramp.toml").read_text() in dry.replace("\n+", "\n")  # what was shown is what was written
    rewritten = harness.tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("offramp>=") for d in rewritten)
    assert not any(harness.NEEDS_OWN_VENV.match(d) for d in rewritten), "the 0.x pin stays next to 1.x code"
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "rewritten")
    code, again = _migrate("rewrite", ".", "--dry-run", "--no-color", cwd=root)
    assert code == 0 and "would change" in again and " 0 would change" in again, again
    assert "offramp.toml: exists" in again and "pyproject.toml: already depends on offramp" in again


@pytest.mark.parametrize("app", APPS, ids=[a.name for a in APPS])
def test_adapter_check_passes_on_the_written_config(app, followed):
    root, pristine, _ = followed[app.name]
    code, out = _migrate("adapter", "check", cwd=root)
    assert code == 0, out
    assert out.rstrip().endswith("ok: every model and capability reaches a backend that serves it")
    # against the app as it was (every OpenAI call still visible to the scan)
    code, out = _migrate("adapter", "check", "--config", str(root / "offramp.toml"), "--project", str(pristine),
                         cwd=root)
    assert code == 0, out


def _pointed_at(config: str, base_url: str) -> str:
    new, n = re.subn(r'^base_url = "https://api\.deepseek\.com"', f'base_url = "{base_url}"', config, flags=re.M)
    assert n == 1, config
    return new


@pytest.mark.slow  # every app's own suite in a subprocess
@pytest.mark.parametrize("app", APPS, ids=[a.name for a in APPS])
def test_app_suite_passes_routed_by_the_written_config(app, followed):
    if harness.missing_dependencies(app):
        pytest.skip(f"{app.name} needs {', '.join(harness.missing_dependencies(app))}")
    root, _, _ = followed[app.name]
    config = (root / "offramp.toml").read_text()
    with FakeUpstream("openai") as openai_fake, FakeUpstream("deepseek") as ds:
        # Faults the app's tests script on "their" server must hit whichever upstream now serves the call.
        openai_fake.state.faults = ds.state.faults
        run_config = root.parent / "offramp.run.toml"
        run_config.write_text(_pointed_at(config, ds.base_url), encoding="utf-8")
        env = harness.server_env(openai_fake.base_url)
        env.update(DEEPSEEK_API_KEY="ds-test-key", OFFRAMP_CONFIG=str(run_config))
        run = subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "--no-header", "-p", "no:cacheprovider",
                              "-p", "pytest_asyncio.plugin"], cwd=root, env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, f"{app.name}:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
        summary = run.stdout.strip().splitlines()[-1]
        assert "failed" not in summary and "error" not in summary and "skipped" not in summary, summary
        chat_on_ds = [r for r in ds.requests if r.path.endswith("/chat/completions")]
        # a model the config maps to "openai" (a fine-tuned id: its weights exist only there) stays on OpenAI
        on_openai_ids = set(re.findall(r'^"([^"]+)" = "openai"', config, re.M))
        chat_on_openai = [r for r in openai_fake.requests if r.path.endswith("/chat/completions")
                          and r.json.get("model") not in on_openai_ids]
        assert not chat_on_openai, f"{app.name}: chat went to OpenAI although the config moves it to DeepSeek"
        assert {r.json.get("model") for r in chat_on_ds} <= {"deepseek-flash", "deepseek-v4-pro"}, \
            "DeepSeek got an OpenAI model id"
        kept = set(re.findall(r'^(\w+) = "openai"$', config, re.M))
        on_ds = {r.path.split("/v1/")[-1].split("/")[0] for r in ds.requests}
        assert not on_ds & {"embeddings", "images", "audio", "fine_tuning"} & {k for k in kept}, on_ds
