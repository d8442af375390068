"""Run a corpus repository's own tests before and after `migrate rewrite` (the guide judges a rewrite by the app's
own tests passing before and after). Only repositories whose tests run offline without services or heavy packages
are listed in SUITES; everything else is out of reach on a machine without their dependencies.

    python bench/corpus/app_tests.py --before-python /tmp/venv028/bin/python [--after-python .venv/bin/python]

`--before-python`: an interpreter with the app's own SDK (0.x apps need `openai==0.28.1`, and the apps below
`pydantic<2`); `--after-python`: one with Offramp installed (openai 1.x; Offramp needs pydantic>=2.6). Each run
works on a fresh copy of the exported tree (`score.py` exports them); pytest plugin autoloading is off, so the
machine's plugins do not change the outcome. Nothing fetched is written outside the temporary copies.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# repository -> (test paths, extra PYTHONPATH entries relative to the repository root)
SUITES: dict[str, tuple[list[str], list[str]]] = {
    "Floris__jarvis": (["tests"], ["app"]),
    "TransformerOptimus__SuperAGI": (["tests/unit_tests/llms/test_open_ai.py"], []),
}


def pytest_run(python: str, root: Path, paths: list[str], pythonpath: list[str]) -> tuple[str, str]:
    """(one-line outcome, first error line) of pytest in `root`."""
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
               PYTHONPATH=os.pathsep.join(str(root / p) for p in pythonpath))
    env.pop("OPENAI_API_KEY", None)
    r = subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *paths], cwd=root, env=env,
                       capture_output=True, text=True, timeout=600)
    lines = r.stdout.splitlines()
    outcome = next((ln.strip("= ") for ln in reversed(lines) if re.search(r"\b(passed|failed|error)", ln)),
                   f"exit {r.returncode}")
    error = next((ln.strip() for ln in lines if ln.startswith("E   ")), "")
    return outcome, error


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus-dir", type=Path, default=Path(os.environ.get("OFFRAMP_CORPUS_DIR", "/work/corpus")))
    ap.add_argument("--before-python", required=True)
    ap.add_argument("--after-python", default=sys.executable)
    ap.add_argument("--only", action="append", default=[])
    a = ap.parse_args()
    for name, (paths, pythonpath) in SUITES.items():
        if a.only and name not in a.only:
            continue
        src = a.corpus_dir / name
        if not src.is_dir():
            print(f"{name}: not exported (run bench/corpus/score.py first)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            before_dir = Path(tmp) / "before" / name
            after_dir = Path(tmp) / "after" / name
            shutil.copytree(src, before_dir, symlinks=True)
            shutil.copytree(src, after_dir, symlinks=True)
            before = pytest_run(a.before_python, before_dir, paths, pythonpath)
            rw = subprocess.run([a.after_python, "-m", "offramp.migrate", "rewrite", str(after_dir), "--allow-dirty",
                                 "--no-color"], capture_output=True, text=True)
            after = pytest_run(a.after_python, after_dir, paths, pythonpath)
        print(f"{name}: before {before[0]} | rewrite exit {rw.returncode} | after {after[0]}")
        for label, (_, err) in (("before", before), ("after", after)):
            if err:
                print(f"    {label}: {err[:200]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
