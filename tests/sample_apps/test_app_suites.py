"""Each sample app's own test suite passes against the fake upstream (openai flavor), in a subprocess.

This is the "before" half of issue 4's proof: the same suites must pass again after `migrate rewrite`.
Apps pinned to the 0.x SDK run in a venv built once under .offramp-cache/venvs/. The suites run side by side
(one fake upstream each) because most of their time is interpreter start-up.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from sample_app_harness import App, discover_apps, missing_dependencies, run_suite, server_env, venv_python

from offramp.migrate.fake_upstream.testing import FakeUpstream

APPS = discover_apps()


def _run(app: App) -> tuple[subprocess.CompletedProcess[str], list[str]] | BaseException:
    try:
        python = venv_python(app.pins) if app.pins else None
        with FakeUpstream("openai") as fake:
            result = run_suite(app, fake.base_url, python)
            return result, [r.path for r in fake.requests]
    except BaseException as exc:  # reported by that app's test, not by the fixture
        return exc


@pytest.fixture(scope="module")
def suite_results(request) -> dict[str, tuple[subprocess.CompletedProcess[str], list[str]] | BaseException]:
    selected = {
        item.callspec.params["app"].name
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_app_suite_passes_against_the_fake_upstream"
    }
    runnable = [app for app in APPS if app.name in selected and not missing_dependencies(app)]
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip((a.name for a in runnable), pool.map(_run, runnable), strict=True))


def test_every_sample_app_is_discovered():
    names = {app.name for app in APPS}
    assert {
        "support_chatbot", "legacy_v0_app", "tool_agent", "structured_extraction", "finetuned_classifier",
        "rag_search", "multimodal_app", "langchain_faq",
    } <= names
    assert [app.name for app in APPS if app.pins] == ["legacy_v0_app"], "only the 0.x app needs its own venv"


@pytest.mark.parametrize("app", APPS, ids=[a.name for a in APPS])
def test_app_suite_passes_against_the_fake_upstream(app, suite_results):
    if missing := missing_dependencies(app):
        pytest.skip(f"{app.name} needs {', '.join(missing)}: pip install them to run its suite")
    outcome = suite_results[app.name]
    if isinstance(outcome, BaseException):
        raise outcome
    result, served = outcome
    output = (result.stdout + result.stderr)[-4000:]
    assert result.returncode == 0, f"{app.name} suite failed:\n{output}"
    summary = result.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary), f"{app.name}: no test ran: {summary}"
    assert "failed" not in summary and "error" not in summary and "skipped" not in summary, summary
    # The suite really talked to the server it was given (not a mock, not another endpoint).
    assert served, f"{app.name}: the suite sent no request to the fake upstream"


def test_missing_dependencies_are_named(tmp_path):
    app = App("x", tmp_path, ("openai>=1.40", "surely-not-installed-pkg>=1; python_version >= '3'"))
    assert missing_dependencies(app) == ["surely-not-installed-pkg>=1; python_version >= '3'"]


def test_suite_env_never_leaks_a_real_endpoint(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-looking-key")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://corp.openai.azure.com")
    env = server_env("http://127.0.0.1:9/v1")
    assert env["OPENAI_API_KEY"] == "test-key"
    assert env["OPENAI_BASE_URL"] == env["OPENAI_API_BASE"] == "http://127.0.0.1:9/v1"
    assert "AZURE_OPENAI_ENDPOINT" not in env
