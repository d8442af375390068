"""Harness for the sample apps: discover them, build (once, cached) a venv for apps pinned to another SDK,
and run an app's own test suite against a fake upstream in a subprocess."""

from __future__ import annotations

import fcntl
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10 only
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
SAMPLE_APPS = REPO / "sample_apps"
VENVS = REPO / ".offramp-cache" / "venvs"
# What every app suite needs besides its own dependencies.
TEST_TOOLS = ("pytest>=8", "pytest-asyncio>=0.23")
# An app pinned to the 0.x SDK cannot share this interpreter's packages: its dependencies go in their own venv.
NEEDS_OWN_VENV = re.compile(r"^openai(\[[^]]*\])?\s*==\s*0\.")


@dataclass(frozen=True)
class App:
    name: str
    root: Path
    dependencies: tuple[str, ...]

    @property
    def pins(self) -> tuple[str, ...]:
        """The dependencies to install in a venv of its own; empty when this interpreter's packages do."""
        if any(NEEDS_OWN_VENV.match(d) for d in self.dependencies):
            return self.dependencies
        return ()


def discover_apps() -> list[App]:
    apps = []
    for root in sorted(p for p in SAMPLE_APPS.iterdir() if (p / "expected_findings.json").is_file()):
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        apps.append(App(root.name, root, tuple(project.get("dependencies", ()))))
    return apps


def missing_dependencies(app: App) -> list[str]:
    """The app's dependencies this interpreter lacks (an app in its own venv lacks none)."""
    if app.pins:
        return []
    missing = []
    for requirement in app.dependencies:
        name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(requirement)
    return missing


def venv_python(pins: tuple[str, ...]) -> Path:
    """A venv with `pins` and the test tools, built once and reused (keyed by the pins)."""
    slug = "-".join(re.sub(r"[^A-Za-z0-9.]+", "-", p).strip("-") for p in sorted(pins))
    venv = VENVS / slug
    python = venv / "bin" / "python"
    marker = venv / ".offramp-ready"
    wanted = "\n".join([*sorted(pins), *TEST_TOOLS, sys.version.split()[0]])
    VENVS.mkdir(parents=True, exist_ok=True)
    with open(VENVS / f"{slug}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # several pytest workers may ask at once
        if marker.is_file() and marker.read_text() == wanted and python.exists():
            return python
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        pip = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins, *TEST_TOOLS],
            capture_output=True, text=True, timeout=600,
        )
        if pip.returncode != 0:
            tail = (pip.stderr or pip.stdout).strip().splitlines()[-1:] or ["no output"]
            pytest.fail(f"cannot build the venv for {', '.join(pins)} in {venv}: {tail[0]}")
        marker.write_text(wanted)
    return python


def server_env(base_url: str) -> dict[str, str]:
    """The environment an app suite runs in: only the test server, never a real key or endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}
    env.update(
        OPENAI_BASE_URL=base_url,
        OPENAI_API_BASE=base_url,  # the 0.x SDK's name for it
        OPENAI_API_KEY="test-key",
        PYTHONDONTWRITEBYTECODE="1",
        # Globally installed pytest plugins cost seconds of start-up per suite; the apps need only asyncio.
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    return env


def run_suite(app: App, base_url: str, python: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python or sys.executable), "-m", "pytest", "tests", "-q", "--no-header",
         "-p", "no:cacheprovider", "-p", "pytest_asyncio.plugin"],
        cwd=app.root, env=server_env(base_url), capture_output=True, text=True, timeout=300,
    )
