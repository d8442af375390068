"""Run a corpus repository's own tests before and after `migrate rewrite` (the guide judges a rewrite by the app's
own tests passing before and after). Only repositories whose tests run offline without services or heavy packages
are listed in SUITES; everything else is out of reach on a machine without their dependencies.

    python bench/corpus/app_tests.py --v0-python /tmp/venv028/bin/python [--python .venv/bin/python]

`--python`: an interpreter with Offramp installed (openai 1.x; Offramp needs pydantic>=2.6): it runs the rewrite,
the tests after it, and the tests before it of apps already on 1.x. `--v0-python`: one with the SDK of the 0.x
apps (`openai==0.28.1`; the two below also need `pydantic<2`), for their tests before the rewrite. Each run
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

# repository -> (test paths, extra PYTHONPATH entries relative to the repository root, the SDK it was written for)
SUITES: dict[str, tuple[list[str], list[str], str]] = {
    "Floris__jarvis": (["tests"], ["app"], "0.x"),
    "TransformerOptimus__SuperAGI": (["tests/unit_tests/llms/test_open_ai.py"], [], "0.x"),
    "matdac12__whatsapp_test01": (["tests"], [], "1.x"),
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
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--v0-python", help="interpreter with openai==0.28.1 (the 0.x apps' tests before the rewrite)")
    ap.add_argument("--only", action="append", default=[])
    a = ap.parse_args()
    for name, (paths, pythonpath, sdk) in SUITES.items():
        if a.only and name not in a.only:
            continue
        before_python = a.v0_python if sdk == "0.x" else a.python
        if not before_python:
            print(f"{name}: skipped (a 0.x app: give --v0-python)")
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
            before = pytest_run(before_python, before_dir, paths, pythonpath)
            rw = subprocess.run([a.python, "-m", "offramp.migrate", "rewrite", str(after_dir), "--allow-dirty",
                                 "--no-color"], capture_output=True, text=True)
            changed = sum(1 for ln in rw.stdout.splitlines() if ln.startswith("+++ b/"))
            after = pytest_run(a.python, after_dir, paths, pythonpath)
        print(f"{name} (openai {sdk}): before {before[0]} | rewrite exit {rw.returncode}, {changed} file(s) "
              f"changed | after {after[0]}")
        for label, (_, err) in (("before", before), ("after", after)):
            if err:
                print(f"    {label}: {err[:200]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
