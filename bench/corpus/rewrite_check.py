"""Rewrite every exported corpus repository (a copy) and check what the rewrite wrote.

Per repository: `migrate rewrite --allow-dirty` on a fresh copy of the tree `score.py` exported, its exit code and
summary, whether every changed Python file still compiles (the rewrite's own safety check must make this
always true), and the files the rewrite did not write: refused by the safety check (`not rewritten`) or skipped
(syntax not supported by the parser). The repositories' own test suites are not run here: most need services, keys or packages this
machine does not have.

    python bench/corpus/rewrite_check.py [--corpus-dir /work/corpus] [--only owner__repo]
"""

from __future__ import annotations

import argparse
import filecmp
import os
import py_compile
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def changed_py(before: Path, after: Path) -> list[Path]:
    out = []
    for p in after.rglob("*.py"):
        q = before / p.relative_to(after)
        if not q.exists() or not filecmp.cmp(p, q, shallow=False):
            out.append(p)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus-dir", type=Path, default=Path(os.environ.get("OFFRAMP_CORPUS_DIR", "/work/corpus")))
    ap.add_argument("--only", action="append", default=[])
    a = ap.parse_args()
    repos = sorted(p for p in a.corpus_dir.iterdir() if p.is_dir() and (not a.only or p.name in a.only))
    total_files = bad = failed = 0
    refused: list[str] = []
    skipped: list[str] = []
    touched_repos = moved = left = 0
    for src in repos:
        with tempfile.TemporaryDirectory() as tmp:
            dst = Path(tmp) / src.name
            shutil.copytree(src, dst, symlinks=True)
            r = subprocess.run([sys.executable, "-m", "offramp.migrate", "rewrite", str(dst), "--allow-dirty",
                                "--no-color"], capture_output=True, text=True)
            files = changed_py(src, dst)
            broken = []
            for f in files:
                try:
                    py_compile.compile(str(f), doraise=True)
                except py_compile.PyCompileError as e:
                    broken.append(f"{f.relative_to(dst)}: {e.msg.splitlines()[-1]}")
            total_files += len(files)
            touched_repos += bool(files)
            m = re.search(r"(\d+) sites moved onto the adapter.*?, (\d+) left", r.stdout)
            if m:
                moved += int(m.group(1))
                left += int(m.group(2))
            for ln in r.stdout.splitlines():
                if ln.startswith("not rewritten "):
                    refused.append(f"{src.name}: {ln[len('not rewritten '):]}")
                elif ln.startswith("skipped "):
                    skipped.append(f"{src.name}: {ln[len('skipped '):]}")
            bad += len(broken)
            failed += r.returncode not in (0, 3)
            summary = next((ln for ln in reversed(r.stdout.splitlines()) if ln.strip()), "")
            print(f"{src.name:48s} exit {r.returncode}  files changed {len(files):3d}  not compiling "
                  f"{len(broken)}  | {summary[:90]}")
            for b in broken:
                print(f"    {b}")
            if r.returncode not in (0, 3):
                print("    " + (r.stderr.strip().splitlines() or [""])[-1][:200])
    for title, rows in (("refused by the safety check", refused), ("skipped", skipped)):
        if rows:
            print(f"\n{len(rows)} file(s) {title}:")
            for row in rows:
                print(f"    {row[:240]}")
    print(f"\n{len(repos)} repositories ({touched_repos} with a Python file rewritten), {total_files} Python files "
          f"rewritten, {moved} sites moved and {left} left, {bad} not compiling, {len(refused)} refused by the safety check, {len(skipped)} skipped, "
          f"{failed} runs that failed (exit other than 0 or 3)")
    return 1 if bad or failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
