"""Proof that a rewritten app still works: each sample app is copied, rewritten in place, rewritten again (no
diff: idempotent), and its own test suite is run on the adapter — routed to the openai flavor of the fake
upstream, then to the deepseek flavor through an `offramp.toml` routing config."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from offramp.migrate.rewrite.engine import RewriteOptions, rewrite_path
from offramp.migrate.rewrite.write import write_all

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "sample_apps"))
harness = pytest.importorskip("sample_app_harness", reason="the sample-apps harness (tests/sample_apps) is absent")
fake_testing = pytest.importorskip("offramp.migrate.fake_upstream.testing", reason="the fake upstream is absent")

APPS = harness.discover_apps()
# Sites the rewrite leaves on OpenAI still talk to OpenAI after routing: they need these capabilities there.
ON_OPENAI = ("completions", "embeddings", "images", "audio", "moderations", "files", "fine_tuning", "batches", "responses",
             "vision", "models", "other")


def _routing(deepseek_url: str, openai_url: str) -> str:
    caps = "\n".join(f'{c} = "openai"' for c in ON_OPENAI)
    return (
        '[backends.deepseek]\nkind = "deepseek"\n'
        f'base_url = "{deepseek_url}"\napi_key_env = "DEEPSEEK_API_KEY"\ndefault_model = "deepseek-v4-flash"\n\n'
        f'[backends.openai]\nkind = "openai"\nbase_url = "{openai_url}"\napi_key_env = "OPENAI_API_KEY"\n\n'
        f'[routes]\ndefault = "deepseek"\n\n[routes.capabilities]\n{caps}\n'
    )


def _run(app_root: Path, base_url: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = harness.server_env(base_url)
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "--no-header", "-x", "-p", "no:cacheprovider",
         "-p", "pytest_asyncio.plugin"],
        cwd=app_root, env=env, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every app copied and rewritten once (shared by the tests of this module)."""
    out = {}
    for app in APPS:
        dest = tmp_path_factory.mktemp("apps") / app.name
        shutil.copytree(app.root, dest, ignore=shutil.ignore_patterns(".venv", "__pycache__", ".pytest_cache"))
        result = rewrite_path(dest, RewriteOptions())
        assert not result.failed, [(f.path, f.error) for f in result.failed]
        write_all(result, dest)
        out[app.name] = dest
    return out


@pytest.mark.parametrize("app", APPS, ids=[a.name for a in APPS])
def test_second_run_changes_nothing(app: harness.App, rewritten: dict[str, Path]) -> None:
    again = rewrite_path(rewritten[app.name], RewriteOptions())
    assert [f.path for f in again.changed] == []
    assert not again.failed


@pytest.mark.slow  # runs every app's own suite twice in subprocesses
@pytest.mark.parametrize("app", APPS, ids=[a.name for a in APPS])
def test_app_suite_passes_on_the_adapter(app: harness.App, rewritten: dict[str, Path]) -> None:
    if harness.missing_dependencies(app):
        pytest.skip(f"{app.name} needs {', '.join(harness.missing_dependencies(app))}")
    root = rewritten[app.name]
    with fake_testing.FakeUpstream("openai") as fake:
        run = _run(root, fake.base_url, {})
        assert run.returncode == 0, f"{app.name} on the openai flavor:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
        plain_chat = [r for r in fake.requests if r.path.endswith("/chat/completions") and not _has_image(r)]

    with fake_testing.FakeUpstream("openai") as openai_fake, fake_testing.FakeUpstream("deepseek") as ds:
        # The app keeps its OpenAI settings (the openai fake); offramp.toml moves what the adapter routes to the
        # deepseek fake. Faults the app's tests script on "their" server must hit the upstream that now serves
        # those calls, so both fakes share one fault queue.
        openai_fake.state.faults = ds.state.faults
        (root / "offramp.toml").write_text(_routing(ds.base_url, openai_fake.base_url), encoding="utf-8")
        try:
            run = _run(root, openai_fake.base_url, {"DEEPSEEK_API_KEY": "ds-test-key"})
        finally:
            (root / "offramp.toml").unlink()
        assert run.returncode == 0, f"{app.name} on the deepseek flavor:\n{run.stdout[-3000:]}\n{run.stderr[-2000:]}"
        # Chat goes to deepseek, except chat carrying images (vision stays on OpenAI in this config); what else
        # reached the openai fake is a capability the config keeps there (audio, images, files, ...).
        on_openai = [r for r in openai_fake.requests if r.path.endswith("/chat/completions")]
        assert not [r for r in on_openai if not _has_image(r)], \
            f"{app.name}: chat requests without images still went to OpenAI although routed to deepseek"
        if plain_chat:
            assert [r for r in ds.requests if r.path.endswith("/chat/completions")], \
                f"{app.name}: no chat request reached the deepseek upstream"
        assert not [r for r in ds.requests if r.path.endswith("/chat/completions") and _has_image(r)], \
            f"{app.name}: chat with images reached deepseek although vision is routed to OpenAI"
        assert not [r for r in ds.requests if not r.path.endswith(("/chat/completions", "/models"))], \
            f"{app.name}: a capability kept on OpenAI reached deepseek"


def _has_image(request) -> bool:
    body = request.json if isinstance(request.json, dict) else {}
    return any(isinstance(p, dict) and p.get("type") == "image_url"
               for m in body.get("messages") or [] if isinstance(m, dict) and isinstance(m.get("content"), list)
               for p in m["content"])
