"""Benchmark of `migrate scan` against baselines run side by side on the same files (issue 9.4).

Corpus: the `.py` files of the big pure-Python packages installed in this interpreter (openai, sqlalchemy,
aiohttp, pydantic, rich, typer, libcst, httpx, langchain, pip, setuptools ... whatever is installed) plus
`sample_apps/` copied N times, copied into one plain tree (no symlinks, an empty `.semgrepignore`) so that every
tool reads exactly the same files; `--full` adds a throwaway venv with django, langchain and litellm (needs PyPI).

Each scanner (`--scanner NAME=PYTHON`, repeatable: the interpreter of a checkout's venv, e.g. main's and a
branch's) runs as `PYTHON -m offramp.migrate scan` in a subprocess: cold on one process, cold on `--jobs`
workers, cold writing its cache, and warm (a re-scan with that cache). Semgrep (`--semgrep`, e.g. from a
throwaway venv: `python -m venv /tmp/sg && /tmp/sg/bin/pip install semgrep`; never a project dependency) runs a
two-pattern OpenAI rule with the same `--jobs`. Peak RSS is sampled over each process tree (workers included).
A scan of an empty directory gives each scanner's start-up (imports, rule loading, the report), shown apart
because on a small corpus it dominates the warm re-scan.
Printed side by side, per scanner: the issue's ratios — cold scan / Semgrep (target <= 0.5), warm re-scan /
reading the files (target <= 2) — and the peak RSS of the cold scan; plus `ast.parse` and libcst's parse as
context. `--quick` samples ~300 files and runs each step once.

    python bench/scan/run.py [--quick] [--full] [--copies N] [--jobs N] [--scanner NAME=PYTHON ...]
                             [--semgrep PATH] [--reps N]
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
import threading
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
MAX_FILE_BYTES = 2_000_000  # the scanner's default max_file_bytes; Semgrep gets the same limit
TARGET_COLD_VS_SEMGREP = 0.5
TARGET_WARM_VS_READ = 2.0


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
        for f in d.rglob("*.py"):
            if f.is_file() and "__pycache__" not in f.parts:
                target = corpus / name / f.relative_to(d)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(f, target)
    apps = REPO / "sample_apps"
    if apps.is_dir():
        for i in range(copies):
            shutil.copytree(apps, corpus / f"sample_apps_{i}", ignore=shutil.ignore_patterns(".offramp-cache"))
    (corpus / ".semgrepignore").write_text("# empty: Semgrep's default ignores (tests/ ...) would scan fewer files\n")
    return corpus


def py_files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*.py") if p.is_file())


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
    shutil.copyfile(corpus / ".semgrepignore", dest / ".semgrepignore")
    return dest


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants, from /proc (0 when it is gone)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            continue
    return total


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds and peak RSS (the whole process tree, sampled every 10 ms) of one command."""
    peak = [0]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            done.wait(0.01)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    sec = time.perf_counter() - t
    done.set()
    th.join()
    return sec, peak[0], subprocess.CompletedProcess(cmd, proc.returncode, out, err)


class Scanner:
    """One `migrate scan` install, run as a subprocess of its own interpreter."""

    def __init__(self, name: str, python: str, tmp: Path) -> None:
        self.name, self.python = name, python
        self.cache = tmp / f"cache-{name}"
        self.findings: int | None = None
        self.parsed: int | None = None

    def run(self, corpus: Path, jobs: int, cache: bool) -> tuple[float, int]:
        out = self.cache.parent / f"report-{self.name}.json"
        cmd = [self.python, "-m", "offramp.migrate", "scan", str(corpus), "--format", "json", "-o", str(out),
               "--jobs", str(jobs), "--no-fail-on-skipped"]
        if not cache:
            cmd.append("--no-cache")
        env = {**os.environ, "OFFRAMP_CACHE_DIR": str(self.cache)}
        sec, rss, r = run_measured(cmd, env)
        if r.returncode not in (0, 3):
            raise SystemExit(f"{self.name}: `{' '.join(cmd)}` exited {r.returncode}: {r.stderr.decode()[-800:]}")
        summary = json.loads(out.read_text())["summary"]
        if summary["files_scanned"]:
            self.findings, self.parsed = summary["findings"], summary["files_parsed"]
        return sec, rss


def _scanner_arg(value: str) -> tuple[str, str]:
    name, sep, python = value.partition("=")
    if not sep or not name or not python:
        raise argparse.ArgumentTypeError(f"expected NAME=PYTHON, got {value!r}")
    if shutil.which(python) is None and not Path(python).is_file():
        raise argparse.ArgumentTypeError(f"{name}: no interpreter at {python}")
    return name, python


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sample ~300 files, one repetition; for development")
    ap.add_argument("--full", action="store_true", help="add a throwaway venv with django, langchain, litellm")
    ap.add_argument("--copies", type=int, default=None, help="copies of sample_apps (default 20, quick 3)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="workers, the same for every tool")
    ap.add_argument("--scanner", type=_scanner_arg, action="append", default=[], metavar="NAME=PYTHON",
                    help="a scanner install to measure (repeatable; default: this=<this interpreter>)")
    ap.add_argument("--semgrep", default=shutil.which("semgrep"), help="semgrep executable (default: on PATH)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions, best kept (default 3, quick 1)")
    args = ap.parse_args()
    scanners_arg = args.scanner or [("this", sys.executable)]
    reps = args.reps or (1 if args.quick else 3)

    import libcst

    copies = args.copies if args.copies is not None else (3 if args.quick else 20)
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    # outside any git checkout: Semgrep takes an enclosing repository as its project root and then applies its
    # default ignores (tests/, setup.py ...) instead of the corpus's empty .semgrepignore, scanning fewer files
    with tempfile.TemporaryDirectory(prefix="offramp-scan-corpus-") as t:
        tmp = Path(t)
        corpus = build_corpus(tmp, copies, args.full)
        if args.quick:
            corpus = quick_sample(corpus, tmp / "quick")
        files = py_files(corpus)
        texts = [p.read_bytes() for p in files]
        n_files, n_bytes = len(files), sum(len(x) for x in texts)
        n_lines = sum(x.count(b"\n") for x in texts)
        print(f"corpus: {n_files} files, {n_lines} lines, {n_bytes / 1e6:.1f} MB "
              f"({'quick sample' if args.quick else 'full'}); jobs {args.jobs}; best of {reps}")

        def read_all():
            for p in files:
                p.read_bytes()

        def ast_all():
            for x in texts:
                try:
                    ast.parse(x)
                except (SyntaxError, ValueError):
                    pass

        def cst_all():
            for x in texts:
                try:
                    libcst.parse_module(x.decode("utf-8", "replace"))
                except Exception:
                    pass

        base = {"read files": timed(read_all, max(2, reps)), "ast.parse (1 proc)": timed(ast_all),
                "libcst parse (1 proc)": timed(cst_all)}
        scanners = [Scanner(name, py, tmp) for name, py in scanners_arg]
        runs: dict[str, dict[str, list[float]]] = {sc.name: {} for sc in scanners}
        rss: dict[str, dict[str, int]] = {sc.name: {} for sc in scanners}
        sg: list[float] = []
        sg_rss, sg_findings = 0, None
        rule = tmp / "rule.yaml"
        rule.write_text(SEMGREP_RULE)

        def note(sc: Scanner, what: str, sec_rss: tuple[float, int]) -> None:
            runs[sc.name].setdefault(what, []).append(sec_rss[0])
            rss[sc.name][what] = max(rss[sc.name].get(what, 0), sec_rss[1])

        # interleaved repetitions: the machine is shared, so each tool sees the same neighbours; best kept
        empty = tmp / "empty"
        empty.mkdir()
        for _ in range(reps):
            for sc in scanners:
                note(sc, "start-up", sc.run(empty, 1, cache=False))  # imports, rules, report: paid once per run
                note(sc, "cold, 1 proc", sc.run(corpus, 1, cache=False))
                note(sc, "cold", sc.run(corpus, args.jobs, cache=False))
                shutil.rmtree(sc.cache, ignore_errors=True)
                note(sc, "cold + write cache", sc.run(corpus, args.jobs, cache=True))
                note(sc, "warm", sc.run(corpus, args.jobs, cache=True))
            if args.semgrep:
                sec, peak, r = run_measured(
                    [args.semgrep, "scan", "--config", str(rule), "--json", "--quiet", "--metrics=off",
                     "--jobs", str(args.jobs), "--max-target-bytes", str(MAX_FILE_BYTES), "--no-git-ignore",
                     str(corpus)],
                    # no version check: offline it waits ~100 s for the network before scanning
                    {**os.environ, "SEMGREP_ENABLE_VERSION_CHECK": "0", "SEMGREP_SEND_METRICS": "off"})
                if r.returncode not in (0, 1):  # 1: findings
                    raise SystemExit(f"semgrep exited {r.returncode}: {r.stderr.decode()[-800:]}")
                sg.append(sec)
                sg_rss = max(sg_rss, peak)
                try:
                    out = json.loads(r.stdout)
                    sg_findings = len(out.get("results", []))
                    sg_files = len(out.get("paths", {}).get("scanned", []))
                except json.JSONDecodeError:
                    sg_files = None

        best = {n: {k: min(v) for k, v in d.items()} for n, d in runs.items()}
        semgrep = min(sg) if sg else None
        read = base["read files"]
        names = [sc.name for sc in scanners]
        w = max(12, *(len(n) for n in names))
        print(f"\nbaselines: read files {read:.3f} s · ast.parse {base['ast.parse (1 proc)']:.3f} s · "
              f"libcst parse {base['libcst parse (1 proc)']:.3f} s (one process, in memory)"
              + (f" · semgrep {semgrep:.3f} s, peak RSS {sg_rss / 2**20:.0f} MiB, {sg_findings} findings"
                 f" in {sg_files} files" if semgrep else " · semgrep: not given (--semgrep PATH) - no comparison"))
        print(f"\n{'':34}" + "".join(f"{n:>{w}}" for n in names))
        table = []

        def row(label: str, fmt):
            vals = [fmt(n) for n in names]
            print(f"{label:34}" + "".join(f"{v:>{w}}" for v in vals))
            table.append({"row": label, **dict(zip(names, vals, strict=True))})

        for what in ("start-up", "cold, 1 proc", "cold", "cold + write cache", "warm"):
            row(f"scan {what} (s)", lambda n, what=what: f"{best[n][what]:.3f}")
        if semgrep:
            row(f"cold / semgrep (target <= {TARGET_COLD_VS_SEMGREP})", lambda n: f"{best[n]['cold'] / semgrep:.3f}")
            row("cold, 1 proc / semgrep", lambda n: f"{best[n]['cold, 1 proc'] / semgrep:.3f}")
        row(f"warm / read files (target <= {TARGET_WARM_VS_READ:g})", lambda n: f"{best[n]['warm'] / read:.2f}")
        row("(warm - start-up) / read files", lambda n: f"{max(best[n]['warm'] - best[n]['start-up'], 0) / read:.2f}")
        if semgrep:
            row("(cold - start-up) / semgrep", lambda n: f"{max(best[n]['cold'] - best[n]['start-up'], 0) / semgrep:.3f}")
        row("cold / ast.parse", lambda n: f"{best[n]['cold'] / base['ast.parse (1 proc)']:.2f}")
        row("cold / libcst parse", lambda n: f"{best[n]['cold'] / base['libcst parse (1 proc)']:.3f}")
        row("peak RSS cold, all jobs (MiB)", lambda n: f"{rss[n]['cold'] / 2**20:.0f}")
        row("peak RSS cold, 1 proc (MiB)", lambda n: f"{rss[n]['cold, 1 proc'] / 2**20:.0f}")
        if semgrep:
            row("peak RSS cold / semgrep's", lambda n: f"{rss[n]['cold'] / sg_rss:.2f}")
        row("files parsed / findings", lambda n: f"{next(s for s in scanners if s.name == n).parsed}/"
                                                  f"{next(s for s in scanners if s.name == n).findings}")
        print("(each scanner is a subprocess of its own interpreter: start-up and rule loading are counted; "
              "ratios < 1 are faster)")

        out = {
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": args.quick, "full": args.full,
            "python": platform.python_version(), "cpus": os.cpu_count(), "jobs": args.jobs, "reps": reps,
            "files": n_files, "lines": n_lines, "bytes": n_bytes, "baselines_s": base,
            "semgrep": None if not semgrep else {"seconds": semgrep, "peak_rss": sg_rss, "findings": sg_findings,
                                                 "files": sg_files},
            "scanners": {sc.name: {"python": sc.python, "seconds": best[sc.name], "peak_rss": rss[sc.name],
                                   "files_parsed": sc.parsed, "findings": sc.findings} for sc in scanners},
            "targets": {"cold_vs_semgrep": TARGET_COLD_VS_SEMGREP, "warm_vs_read": TARGET_WARM_VS_READ},
            "table": table,
        }
        dest = results / f"scan-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}{'-quick' if args.quick else ''}.json"
        dest.write_text(json.dumps(out, indent=2))
        print(f"wrote {dest.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
