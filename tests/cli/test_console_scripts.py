"""Both console scripts run the same app and name the version."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from offramp.migrate import __version__


@pytest.mark.parametrize("script", ["migrate", "offramp"])
def test_console_script_prints_the_version(script: str) -> None:
    # the script of this interpreter's environment (a venv's bin/ need not be on PATH)
    path = shutil.which(script, path=str(Path(sys.executable).parent)) or shutil.which(script)
    assert path, f"the {script} console script is not installed: pip install -e ."
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == script and out.stdout.split()[-1] == __version__
