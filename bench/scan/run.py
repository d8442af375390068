"""Benchmark of `migrate scan` against baselines run side by side on the same files.

Corpus: the installed big pure-Python packages of this interpreter (openai, sqlalchemy, aiohttp, pydantic,
rich, typer, libcst, httpx, langchain, pip, setuptools ... whatever is installed) plus `sample_apps/`
copied N times; `--full` adds a throwaway venv with django, langchain and litellm (needs PyPI).
Reported: files/s and lines/s of reading, `ast.parse`, libcst's bare parse, the scan single-process and on
all cores (cold, no cache), and a re-scan with a warm cache, each as ratios; Semgrep with an equivalent
two-pattern rule when installed. `--quick` samples a subset and finishes in well under a minute.

    python bench/scan/run.py [--quick] [--full] [--copies N] [--jobs N]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

PACKAGES = ["openai", "sqlalchemy", "aiohttp", "pydantic", "rich", "typer", "libcst", "httpx", "langchain_core",
            "langchain_openai", "langchain", "litellm", "django", "pip", "setuptools"]
SEMGREP_RULE = """rules:
  - id: openai-usage
    languages: [python]
    severity: INFO
    message: OpenAI SDK use
    pattern-either:
      - pattern: openai.$RES.create(...)
      - pattern: $CLIENT.chat.completions.create(...)
"""


def _package_dir(name: str, site: Path | None = None) -> Path | None:
    if site is not None:
        d = site / name
        return d if d.is_dir() else None
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin or not spec.origin.endswith("__init__.py"):
        return None
    return Path(spec.origin).parent


def _full_venv(tmp: Path) -> Path | None:
    venv = tmp / "venv"
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
        pip = venv / "bin" / "pip"
        subprocess.run([str(pip), "install", "-q", "django", "langchain", "litellm"], check=True, timeout=900)
    except (subprocess.SubprocessError, OSError) as e:
        print(f"--full: could not build the venv ({e}); continuing without it", file=sys.stderr)
        return None
    return next((venv / "lib").glob("python*/site-packages"), None)


def build_corpus(tmp: Path, copies: int, full: bool) -> Path:
    corpus = tmp / "corpus"
    corpus.mkdir()
    dirs: dict[str, Path] = {}
    for name in PACKAGES:
        d = _package_dir(name)
        if d is not None:
            dirs[name] = d
    if full:
        site = _full_venv(tmp)
        if site is not None:
            for name in ("django", "langchain", "langchain_core", "langchain_community", "litellm", "openai"):
                d = _package_dir(name, site)
                if d is not None:
                    dirs[f"venv_{name}"] = d
    for name, d in dirs.items():
        (corpus / name).symlink_to(d, target_is_directory=True)
    apps = REPO / "sample_apps"
    if apps.is_dir():
        for i in range(copies):
            shutil.copytree(apps, corpus / f"sample_apps_{i}", ignore=shutil.ignore_patterns(".offramp-cache"))
    return corpus


def py_files(corpus: Path) -> list[Path]:
    from offramp.migrate.scan.walk import walk

    return [p for _, p in walk(corpus).files if p.suffix == ".py"]


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def quick_sample(corpus: Path, dest: Path) -> Path:
    """The `--quick` corpus: a seeded sample of 300 files plus every sample-app copy, so runs stay comparable."""
    files = py_files(corpus)
    random.Random(7).shuffle(files)
    for p in set(files[:300]) | {p for p in files if "sample_apps_" in str(p)}:
        target = dest / p.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sample ~300 files; finishes in well under a minute")
    ap.add_argument("--full", action="store_true", help="add a throwaway venv with django, langchain, litellm")
    ap.add_argument("--copies", type=int, default=None, help="copies of sample_apps (default 20, quick 3)")
    ap.add_argument("--jobs", type=int, default=None, help="workers for the all-cores run (default: all cores)")
    ap.add_argument("--semgrep", default=shutil.which("semgrep"), help="semgrep executable (default: on PATH)")
    args = ap.parse_args()

    import libcst

    from offramp.migrate.ruleset import load_ruleset
    from offramp.migrate.scan import ScanOptions, scan_path
    from offramp.migrate.scan.engine import reach_names
    from offramp.migrate.scan.prefilter import import_regex, reach_filter

    copies = args.copies if args.copies is not None else (3 if args.quick else 20)
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scan-corpus-", dir=results) as t:
        tmp = Path(t)
        corpus = build_corpus(tmp, copies, args.full)
        if args.quick:
            corpus = quick_sample(corpus, tmp / "quick")
        files = py_files(corpus)

        texts = [p.read_bytes() for p in files]
        n_files = len(files)
        n_lines = sum(t.count(b"\n") for t in texts)
        print(f"corpus: {n_files} files, {n_lines} lines ({'quick sample' if args.quick else 'full'})")

        def read_all():
            for p in files:
                p.read_bytes()

        def ast_all():
            for t in texts:
                try:
                    ast.parse(t)
                except (SyntaxError, ValueError):
                    pass

        def cst_all():
            for t in texts:
                try:
                    libcst.parse_module(t.decode("utf-8", "replace"))
                except Exception:
                    pass

        rs = load_ruleset()
        rx = import_regex(rs.import_roots)
        may_reach = reach_filter(rs.import_roots, reach_names(rs))
        decoded = [t.decode("utf-8", "replace") for t in texts]
        kept_substring = sum(1 for s in decoded if "openai" in s)
        kept_imports = sum(1 for s in decoded if rx.search(s))
        lines_substring = sum(s.count("\n") for s in decoded if "openai" in s)
        lines_imports = sum(s.count("\n") for s in decoded if rx.search(s))
        reach = [s for s in decoded if rx.search(s) and may_reach(s)]

        rows: dict[str, float] = {}
        rows["read files"] = timed(read_all, 2)
        rows["ast.parse (1 proc)"] = timed(ast_all)
        rows["libcst parse (1 proc)"] = timed(cst_all)
        cache = tmp / "cache"
        report = None

        def scan(jobs, use_cache):
            nonlocal report
            report = scan_path(corpus, ScanOptions(jobs=jobs, use_cache=use_cache, cache_dir=cache))

        # best of N: the machine is shared, and one slow repetition says more about the neighbours than the scan
        reps = 2 if args.quick else 3

        def cold_with_cache():
            shutil.rmtree(cache, ignore_errors=True)
            scan(args.jobs, True)

        rows["scan, 1 proc, cold"] = timed(lambda: scan(1, False), reps)
        rows["scan, all cores, cold"] = timed(lambda: scan(args.jobs, False), reps)
        rows["scan, all cores, cold + write cache"] = timed(cold_with_cache, reps)
        rows["scan, warm cache"] = timed(lambda: scan(args.jobs, True), reps)

        semgrep = args.semgrep
        if semgrep:
            rule = tmp / "rule.yaml"
            rule.write_text(SEMGREP_RULE)
            rows["semgrep (2-pattern rule)"] = timed(lambda: subprocess.run(
                [semgrep, "--config", str(rule), "--json", "--quiet", "--metrics=off", "--jobs", str(os.cpu_count()),
                 str(corpus)],
                capture_output=True, check=False,
                # no version check: offline it waits ~100 s for the network before scanning
                env={**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"}), reps)

        base_ast = rows["ast.parse (1 proc)"]
        base_cst = rows["libcst parse (1 proc)"]
        table = []
        print(f"\n{'run':40} {'seconds':>8} {'files/s':>9} {'lines/s':>10} {'× ast':>7} {'× libcst':>9}")
        for name, sec in rows.items():
            row = {"run": name, "seconds": round(sec, 4), "files_per_s": round(n_files / sec, 1),
                   "lines_per_s": round(n_lines / sec), "vs_ast_parse": round(sec / base_ast, 3),
                   "vs_libcst_parse": round(sec / base_cst, 3)}
            table.append(row)
            print(f"{name:40} {sec:8.3f} {row['files_per_s']:9.0f} {row['lines_per_s']:10.0f} "
                  f"{row['vs_ast_parse']:7.2f} {row['vs_libcst_parse']:9.3f}")
        if not semgrep:
            print("semgrep: not installed (pip install semgrep) - no comparison")
        print(f"\npre-filter: substring 'openai' keeps {kept_substring} files / {lines_substring} lines; "
              f"import pre-filter keeps {kept_imports} files / {lines_imports} lines, of which "
              f"{len(reach)} files / {sum(s.count(chr(10)) for s in reach)} lines import a name a rule can reach; "
              f"scan parsed {report.summary.files_parsed} files, {report.summary.findings} findings")
        print("(× columns: time relative to the baseline over the same files; < 1 is faster)")

        out = {
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": args.quick, "full": args.full,
            "python": platform.python_version(), "cpus": os.cpu_count(), "files": n_files, "lines": n_lines,
            "prefilter": {"substring_files": kept_substring, "substring_lines": lines_substring,
                          "import_files": kept_imports, "import_lines": lines_imports,
                          "reach_files": len(reach), "reach_lines": sum(s.count("\n") for s in reach),
                          "parsed": report.summary.files_parsed},
            "findings": report.summary.findings, "semgrep": bool(semgrep), "runs": table,
        }
        dest = results / f"scan-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}{'-quick' if args.quick else ''}.json"
        dest.write_text(json.dumps(out, indent=2))
        print(f"wrote {dest.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
