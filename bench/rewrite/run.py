"""Benchmark of `migrate rewrite --dry-run` against `migrate scan` of the same corpus, in the same run.

Corpus: the scan benchmark's (bench/scan/run.py: installed pure-Python packages plus copies of sample_apps).
Reported: files/s and lines/s of the scan (single process, no cache — the rewrite runs single-process) and of
the rewrite's dry run (which scans too: it rewrites what the scan finds), and their ratio. `--quick` samples
~300 files plus the sample-app copies and finishes in well under a minute.

    python bench/rewrite/run.py [--quick] [--copies N]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench" / "scan"))


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sample ~300 files; finishes in well under a minute")
    ap.add_argument("--copies", type=int, default=None, help="copies of sample_apps (default 20, quick 3)")
    ap.add_argument("--repeat", type=int, default=None, help="best of N runs (default 3, quick 1)")
    args = ap.parse_args()

    import run as scan_bench  # bench/scan/run.py: the corpus is the scan benchmark's

    from offramp.migrate.rewrite.engine import RewriteOptions, rewrite_path
    from offramp.migrate.scan import ScanOptions, scan_path

    copies = args.copies if args.copies is not None else (3 if args.quick else 20)
    repeat = args.repeat or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory(prefix="offramp-bench-rewrite-") as t:
        tmp = Path(t)
        corpus = scan_bench.build_corpus(tmp, copies, False)
        if args.quick:
            corpus = scan_bench.quick_sample(corpus, tmp / "quick")
        files = scan_bench.py_files(corpus)
        n_files = len(files)
        n_lines = sum(p.read_bytes().count(b"\n") for p in files)
        print(f"corpus: {n_files} files, {n_lines} lines ({'quick sample' if args.quick else 'full'})")

        # Alternated, best of each: the machine is shared, and load that comes and goes must hit both sides.
        scan_s = rewrite_s = float("inf")
        for _ in range(repeat):
            s, report = _best(lambda: scan_path(corpus, ScanOptions(jobs=1, use_cache=False)), 1)
            r, result = _best(lambda: rewrite_path(corpus, RewriteOptions(jobs=1)), 1)
            scan_s, rewrite_s = min(scan_s, s), min(rewrite_s, r)
        rows = {
            "scan (1 process, no cache)": scan_s,
            "rewrite --dry-run (1 process)": rewrite_s,
        }
        for name, s in rows.items():
            print(f"{name:32s} {n_files / s:9.1f} files/s {n_lines / s:11.0f} lines/s  ({s:.2f} s)")
        ratio = rewrite_s / scan_s
        print(f"rewrite / scan time ratio: {ratio:.2f}x  (files with findings: "
              f"{report.summary.files_with_findings}, files rewritten: {len(result.changed)}, "
              f"sites moved: {result.moved}, left: {len(result.left)}, failed: {len(result.failed)})")
        results = REPO / "bench" / "results"
        results.mkdir(exist_ok=True)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        out = results / f"rewrite-{stamp}{'-quick' if args.quick else ''}.json"
        out.write_text(json.dumps({
            "when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": args.quick,
            "python": platform.python_version(), "files": n_files, "lines": n_lines,
            "seconds": rows, "files_per_s": {k: n_files / v for k, v in rows.items()},
            "lines_per_s": {k: n_lines / v for k, v in rows.items()}, "rewrite_over_scan": ratio,
            "changed": len(result.changed), "moved": result.moved, "left": len(result.left),
            "failed": [(f.path, f.error) for f in result.failed],
        }, indent=2) + "\n")
        print(f"written {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
