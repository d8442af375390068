"""Score `migrate scan` against hand-labelled real repositories (bench/corpus/repos/*.toml).

For each label file: materialise the repository's tree at its commit (from a `fetch` mirror, or by
`git clone`), scan it with the installed scanner (`python -m offramp.migrate scan DIR --format json --no-cache`),
match findings to labelled sites by path and line, and report API-site and setup-site recall (inside the
covered paths), trap hits, unlabelled findings inside covered paths, per-site level and feature agreement,
project level, and every miss with how the code reached the SDK. See bench/corpus/README.md.

    python bench/corpus/score.py [--only owner/repo] [--json [FILE]] [--verbose] [--lint] [--list] [--check] [--quick]
        [--misses-md [--name NAME]]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEFAULT_LABELS = HERE / "repos"
DEFAULT_CORPUS = Path(os.environ.get("OFFRAMP_CORPUS_DIR", "/work/corpus"))
DEFAULT_MIRROR = Path(os.environ.get("OFFRAMP_MIRROR_DIR", "/work/.mirror"))
DEFAULT_JSON = REPO_ROOT / "bench" / "results" / "corpus.json"
TARGETS = {"api_recall": 0.99, "setup_recall": 0.98, "site_level": 0.95, "trap_hits": 0, "project_level_off": 1}
SHA = re.compile(r"^[0-9a-f]{40}$")
KINDS = ("api", "setup")


class LabelError(ValueError):
    """A label file that cannot be used; the message is one line naming the file and the field."""


# --------------------------------------------------------------------------------------------------- labels


@dataclass
class Site:
    path: str
    line: int
    kind: str
    api: str
    features: list[str]
    level: int
    how: str
    note: str = ""
    finding: dict[str, Any] | None = None
    shifted: bool = False

    @property
    def is_exception(self) -> bool:
        """A setup site that references an SDK exception class (`openai.error.RateLimitError`, `openai.APIError`)."""
        last = self.api.rsplit(".", 1)[-1]
        return self.kind == "setup" and self.api.startswith("openai.") and last[:1].isupper()

    @property
    def how_kind(self) -> str:
        return (self.how.split() or ["?"])[0].rstrip(":,;").lower()


@dataclass
class Trap:
    path: str
    line: int
    what: str


@dataclass
class Labels:
    file: Path
    name: str
    commit: str
    url: str
    covered: list[str]
    why: str
    level: int
    sites: list[Site]
    traps: list[Trap]

    @property
    def dirname(self) -> str:
        return self.name.replace("/", "__")

    def is_covered(self, path: str) -> bool:
        return any(c in (".", "") or path == c or path.startswith(c.rstrip("/") + "/") for c in self.covered)


def _need(table: dict[str, Any], key: str, typ: type | tuple[type, ...], where: str) -> Any:
    if key not in table:
        raise LabelError(f"{where}.{key}: missing")
    value = table[key]
    if not isinstance(value, typ) or isinstance(value, bool) and typ is int:
        raise LabelError(f"{where}.{key}: expected {getattr(typ, '__name__', typ)}, got {value!r}")
    return value


def _rel(path: str, where: str) -> str:
    if path.startswith("/") or "\\" in path or ".." in path.split("/"):
        raise LabelError(f"{where}.path: must be POSIX and relative to the repository root, got {path!r}")
    return path


def load_labels(file: Path) -> Labels:
    """Parse and validate one label file."""
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise LabelError(f"{file}: cannot read: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise LabelError(f"{file}: not TOML: {e}") from None
    where = f"{file.name}: repo"
    repo = data.get("repo")
    if not isinstance(repo, dict):
        raise LabelError(f"{file.name}: [repo]: missing")
    name = _need(repo, "name", str, where)
    if name.count("/") != 1:
        raise LabelError(f"{where}.name: expected owner/repo, got {name!r}")
    commit = _need(repo, "commit", str, where)
    if not SHA.match(commit):
        raise LabelError(f"{where}.commit: expected 40 lowercase hex digits, got {commit!r}")
    expected = name.replace("/", "__") + ".toml"
    if file.name != expected:
        raise LabelError(f"{file.name}: file name must be {expected} for {name}")
    covered = _need(repo, "covered", list, where)
    if not covered or not all(isinstance(c, str) for c in covered):
        raise LabelError(f"{where}.covered: expected a non-empty list of paths")
    level = _need(repo, "level", int, where)
    if not 0 <= level <= 5:
        raise LabelError(f"{where}.level: expected 0-5, got {level}")
    labels = Labels(file, name, commit, repo.get("url") or f"https://github.com/{name}",
                    [c.rstrip("/") or "." for c in covered], str(repo.get("why", "")), level, [], [])
    seen: set[tuple[str, int, str]] = set()
    for i, s in enumerate(data.get("site", [])):
        w = f"{file.name}: site[{i}]"
        site = Site(
            path=_rel(_need(s, "path", str, w), w), line=_need(s, "line", int, w), kind=_need(s, "kind", str, w),
            api=_need(s, "api", str, w), features=list(s.get("features", [])), level=_need(s, "level", int, w),
            how=_need(s, "how", str, w), note=str(s.get("note", "")),
        )
        if site.kind not in KINDS:
            raise LabelError(f"{w}.kind: expected one of {', '.join(KINDS)}, got {site.kind!r}")
        if not 0 <= site.level <= 5:
            raise LabelError(f"{w}.level: expected 0-5, got {site.level}")
        if site.line < 1:
            raise LabelError(f"{w}.line: expected a 1-based line, got {site.line}")
        if not labels.is_covered(site.path):
            raise LabelError(f"{w}.path: {site.path} is outside covered {labels.covered}")
        key = (site.path, site.line, site.api)
        if key in seen:
            raise LabelError(f"{w}: duplicate site {site.path}:{site.line} {site.api}")
        seen.add(key)
        labels.sites.append(site)
    for i, t in enumerate(data.get("trap", [])):
        w = f"{file.name}: trap[{i}]"
        labels.traps.append(Trap(_rel(_need(t, "path", str, w), w), _need(t, "line", int, w),
                                 _need(t, "what", str, w)))
    site_lines = {(s.path, s.line) for s in labels.sites}
    for t in labels.traps:
        if (t.path, t.line) in site_lines:
            raise LabelError(f"{file.name}: trap {t.path}:{t.line} is also a site's line")
    return labels


def feature_ids() -> set[str]:
    try:
        from offramp.rules import RULES_DIR
    except ImportError:  # pragma: no cover - the scorer runs with offramp installed
        return set()
    data = tomllib.loads((RULES_DIR / "features.toml").read_text(encoding="utf-8"))
    return {f["id"] for f in data.get("feature", [])}


# ----------------------------------------------------------------------------------------------- the trees


def _mirror_gitdir(mirror_dir: Path, name: str) -> Path | None:
    base = mirror_dir / name.replace("/", "+") / "repo"
    for d in (base / ".git", base):
        if (d / "HEAD").is_file() and (d / "objects").is_dir():
            return d
    return None


WANTED_SUFFIXES = (".py", ".ipynb")
WANTED_NAMES = (".gitignore", "pyproject.toml")


def _wanted(path: str) -> bool:
    """What the scanner reads: Python files, notebooks, and the files that steer it (.gitignore, pyproject)."""
    return path.endswith(WANTED_SUFFIXES) or path.rsplit("/", 1)[-1] in WANTED_NAMES


def _export_from_git(gitdir: Path, commit: str, tree: Path, where: str) -> None:
    """Write the wanted blobs of `commit` under `tree`. Blobs a snapshot lacks (large assets left out of a
    fetch mirror) are skipped; git archive would fail on them."""
    ls = subprocess.run(["git", f"--git-dir={gitdir}", "ls-tree", "-r", "-z", commit], capture_output=True)
    if ls.returncode != 0:
        raise LabelError(f"{where}: commit {commit} not in {gitdir}: "
                         f"{ls.stderr.decode(errors='replace').strip()[-200:]}")
    entries = []
    for rec in ls.stdout.split(b"\0"):
        if not rec:
            continue
        meta, _, name = rec.partition(b"\t")
        mode, kind, sha = meta.split()
        path = name.decode("utf-8", errors="surrogateescape")
        if kind == b"blob" and mode != b"120000" and _wanted(path):
            entries.append((sha.decode(), path))
    proc = subprocess.Popen(["git", f"--git-dir={gitdir}", "cat-file", "--batch"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    for sha, path in entries:
        proc.stdin.write(sha.encode() + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline().split()
        if len(header) < 3:  # "<sha> missing"
            continue
        data = proc.stdout.read(int(header[2]))
        proc.stdout.read(1)
        out = tree / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    proc.stdin.close()
    proc.wait()


def materialise(labels: Labels, corpus_dir: Path, mirror_dir: Path) -> tuple[Path, str]:
    """The repository's tree at its commit under corpus_dir, made if missing; and how it was got."""
    dest = corpus_dir / labels.dirname
    stamp = dest / ".offramp-corpus-commit"
    if dest.is_dir() and any(dest.iterdir()):
        if stamp.is_file() and stamp.read_text().strip() != labels.commit:
            raise LabelError(f"{dest}: holds commit {stamp.read_text().strip()}, labels want {labels.commit}; "
                             "remove the directory to re-export")
        return dest, "present"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=corpus_dir))
    try:
        tree = tmp / "tree"
        tree.mkdir()
        gitdir = _mirror_gitdir(mirror_dir, labels.name)
        if gitdir is not None:
            how = f"mirror {gitdir}"
            _export_from_git(gitdir, labels.commit, tree, labels.file.name)
        else:
            how = f"git clone {labels.url}"
            clone = tmp / "clone"
            cmd = ["git", "clone", "-q", "--bare", "--filter=blob:none", labels.url, str(clone)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise LabelError(f"{labels.file.name}: no mirror under {mirror_dir} and `{' '.join(cmd)}` "
                                 f"failed: {r.stderr.strip().splitlines()[-1:] or r.returncode}")
            _export_from_git(clone, labels.commit, tree, labels.file.name)
        (tree / ".offramp-corpus-commit").write_text(labels.commit + "\n")
        if dest.exists():
            dest.rmdir()
        tree.rename(dest)
        return dest, how
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def scan(tree: Path, scanner: list[str]) -> dict[str, Any]:
    cmd = [*scanner, "scan", str(tree), "--format", "json", "--no-cache", "--no-fail-on-skipped"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0, 3, 4):
        raise RuntimeError(f"`{' '.join(cmd)}` exited {r.returncode}: {r.stderr.strip()[-500:]}")
    try:
        return json.loads(r.stdout)
    except json.JSONDecodeError as e:
        raise RuntimeError(f"`{' '.join(cmd)}` printed no JSON report: {e}") from None


# ------------------------------------------------------------------------------------------------ matching


def _norm_api(api: str) -> str:
    return api.replace("beta.", "") if not api.startswith("openai.") else api


class _Spans:
    """Statement spans of one file: the innermost statement holding a line (a compound statement's header
    only), by `ast`."""

    def __init__(self, source: str | None) -> None:
        self.spans: list[tuple[int, int]] = []
        if source is None:
            return
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return
        for node in ast.walk(tree):
            if not isinstance(node, ast.stmt):
                continue
            end = node.end_lineno or node.lineno
            bodies = [getattr(node, a) for a in ("body", "orelse", "finalbody", "handlers", "cases")
                      if isinstance(getattr(node, a, None), list) and getattr(node, a)]
            if bodies:  # a compound statement: its header only (match cases start at their pattern)
                firsts = [getattr(b[0], "lineno", None) or b[0].pattern.lineno for b in bodies]
                end = max(min(firsts) - 1, node.lineno)
            self.spans.append((node.lineno, end))

    def of(self, line: int) -> tuple[int, int]:
        best = (line, line)
        for a, b in self.spans:
            if a <= line <= b and (best == (line, line) or b - a < best[1] - best[0]):
                best = (a, b)
        return best


@dataclass
class RepoResult:
    labels: Labels
    tree: Path | None = None
    got: str = ""
    error: str = ""
    report_level: int | None = None
    findings: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)
    trap_hits: list[tuple[Trap, dict[str, Any]]] = field(default_factory=list)
    unlabelled: list[dict[str, Any]] = field(default_factory=list)
    outside: int = 0
    notebook: int = 0

    def sites(self, kind: str | None = None) -> list[Site]:
        return [s for s in self.labels.sites if kind is None or s.kind == kind]

    def found(self, kind: str | None = None) -> list[Site]:
        return [s for s in self.sites(kind) if s.finding is not None]


def _read(tree: Path, rel: str) -> str | None:
    try:
        return (tree / rel).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def match(res: RepoResult, report: dict[str, Any]) -> None:
    """Pair findings with sites: same path and line (equal api first), then a finding inside the site's
    statement (line-shifted). Then trap hits, and unlabelled findings inside covered paths."""
    labels = res.labels
    findings = list(report.get("findings", []))
    res.findings = len(findings)
    res.report_level = report.get("summary", {}).get("level")
    res.skipped = list(report.get("skipped", []))
    used: set[int] = set()
    by_line: dict[tuple[str, int], list[int]] = defaultdict(list)
    for i, f in enumerate(findings):
        by_line[(f["path"], f["line"])].append(i)
    for s in labels.sites:
        s.finding, s.shifted = None, False
    for same_api in (True, False):
        for s in labels.sites:
            if s.finding is not None:
                continue
            for i in by_line.get((s.path, s.line), ()):
                if i not in used and (not same_api or _norm_api(findings[i]["api"]) == _norm_api(s.api)):
                    used.add(i)
                    s.finding = findings[i]
                    break
    spans: dict[str, _Spans] = {}
    site_lines = {(s.path, s.line) for s in labels.sites}
    for s in labels.sites:
        if s.finding is not None or res.tree is None:
            continue
        if s.path not in spans:
            spans[s.path] = _Spans(_read(res.tree, s.path))
        lo, hi = spans[s.path].of(s.line)
        for i, f in enumerate(findings):
            if i in used or f["path"] != s.path or not lo <= f["line"] <= hi or (f["path"], f["line"]) in site_lines:
                continue
            used.add(i)
            s.finding, s.shifted = f, True
            break
    traps = {(t.path, t.line): t for t in labels.traps}
    for i, f in enumerate(findings):
        t = traps.get((f["path"], f["line"]))
        if t is not None:
            res.trap_hits.append((t, f))
            continue
        if i in used:
            continue
        if not labels.is_covered(f["path"]):
            res.outside += 1
        elif f.get("cell") is not None or f["path"].endswith(".ipynb"):
            res.notebook += 1
        else:
            res.unlabelled.append(f)


# ------------------------------------------------------------------------------------------------- lint


def lint(labels: Labels, tree: Path, known_features: set[str]) -> list[str]:
    """Label checks that need the code: the file exists, an expression the site can be starts on its line,
    the features are known ids. Warnings, one line each."""
    out: list[str] = []
    parsed: dict[str, ast.AST | None] = {}
    for s in labels.sites:
        where = f"{labels.file.name}: {s.path}:{s.line}"
        for fid in s.features:
            if known_features and fid not in known_features:
                out.append(f"{where}: feature {fid!r} is not an id of rules/features.toml (use a note)")
        if s.path not in parsed:
            src = _read(tree, s.path)
            try:
                parsed[s.path] = ast.parse(src) if src is not None else None
            except SyntaxError:
                parsed[s.path] = None
                out.append(f"{where}: file does not parse with Python {sys.version_info[0]}.{sys.version_info[1]}")
        mod = parsed[s.path]
        if mod is None:
            if (tree / s.path).exists() is False:
                out.append(f"{where}: no such file at {labels.commit[:10]}")
            continue
        starts = set()
        for node in ast.walk(mod):
            if isinstance(node, ast.Call):
                starts.add(node.lineno)
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                for t in getattr(node, "targets", None) or [node.target]:
                    starts.add(t.lineno)
            elif isinstance(node, ast.ExceptHandler) and node.type is not None:
                for n in ast.walk(node.type):
                    if isinstance(n, (ast.Name, ast.Attribute)):
                        starts.add(n.lineno)
            elif isinstance(node, (ast.Attribute, ast.Name)) and s.kind == "setup":
                starts.add(node.lineno)
        if s.line not in starts:
            out.append(f"{where}: no call, assignment or handler starts on this line ({s.api})")
    return out


# ------------------------------------------------------------------------------------------------ report


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:5.1f}%" if d else "    -"


def _ratio(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def totals(results: list[RepoResult]) -> dict[str, Any]:
    ok = [r for r in results if not r.error]
    api = sum(len(r.sites("api")) for r in ok)
    api_found = sum(len(r.found("api")) for r in ok)
    setup = sum(len(r.sites("setup")) for r in ok)
    setup_found = sum(len(r.found("setup")) for r in ok)
    exc = [s for r in ok for s in r.sites("setup") if s.is_exception]
    exc_found = sum(1 for s in exc if s.finding is not None)
    matched = [s for r in ok for s in r.found()]
    level_ok = sum(1 for s in matched if s.finding["level"] == s.level)
    api_matched = [s for s in matched if s.kind == "api"]
    api_level_ok = sum(1 for s in api_matched if s.finding["level"] == s.level)
    feat_ok = sum(1 for s in matched if set(s.finding.get("features", [])) == set(s.features))
    all_sites = sum(len(r.sites()) for r in ok)
    project_exact = sum(1 for r in ok if r.report_level == r.labels.level)
    return {
        "repositories": len(results), "scanned": len(ok), "sites": all_sites, "api_sites": api,
        "setup_sites": setup, "traps": sum(len(r.labels.traps) for r in ok),
        "api_recall": _ratio(api_found, api), "setup_recall": _ratio(setup_found, setup),
        "setup_recall_without_exceptions": _ratio(setup_found - exc_found, setup - len(exc)),
        "exception_sites": len(exc), "exception_recall": _ratio(exc_found, len(exc)),
        "site_level": _ratio(level_ok, len(matched)), "site_level_all": _ratio(level_ok, all_sites),
        "api_site_level": _ratio(api_level_ok, len(api_matched)),
        "features_exact": _ratio(feat_ok, len(matched)),
        "trap_hits": sum(len(r.trap_hits) for r in ok), "unlabelled": sum(len(r.unlabelled) for r in ok),
        "line_shifted": sum(1 for s in matched if s.shifted),
        "project_level_exact": project_exact, "project_level_off": len(ok) - project_exact,
    }


def meets(t: dict[str, Any]) -> dict[str, bool]:
    return {
        "api_recall": (t["api_recall"] or 0) >= TARGETS["api_recall"],
        "setup_recall": (t["setup_recall"] or 0) >= TARGETS["setup_recall"],
        "site_level": (t["site_level"] or 0) >= TARGETS["site_level"],
        "trap_hits": t["trap_hits"] <= TARGETS["trap_hits"],
        "project_level": t["project_level_off"] <= TARGETS["project_level_off"],
    }


def _site_json(s: Site) -> dict[str, Any]:
    f = s.finding
    return {
        "path": s.path, "line": s.line, "kind": s.kind, "api": s.api, "features": s.features, "level": s.level,
        "how": s.how, "note": s.note, "found": f is not None, "shifted": s.shifted,
        "finding": None if f is None else {k: f.get(k) for k in ("line", "api", "rule", "features", "level", "via",
                                                                   "confidence")},
    }


def to_json(results: list[RepoResult], scanner: list[str]) -> dict[str, Any]:
    t = totals(results)
    return {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scanner": scanner, "targets": TARGETS, "totals": t, "meets": meets(t),
        "misses_by_how": dict(Counter(s.how_kind for r in results for s in r.sites() if s.finding is None
                                      and not r.error).most_common()),
        "repositories": [
            {
                "name": r.labels.name, "commit": r.labels.commit, "covered": r.labels.covered, "why": r.labels.why,
                "error": r.error or None, "level": r.labels.level, "scan_level": r.report_level,
                "findings": r.findings, "outside_covered": r.outside, "notebook_findings": r.notebook,
                "skipped": r.skipped,
                "sites": [_site_json(s) for s in r.labels.sites],
                "trap_hits": [{"path": t.path, "line": t.line, "what": t.what, "api": f["api"], "rule": f["rule"]}
                              for t, f in r.trap_hits],
                "unlabelled": [{k: f.get(k) for k in ("path", "line", "api", "rule", "level", "code")}
                               for f in r.unlabelled],
            }
            for r in results
        ],
    }


def render(results: list[RepoResult], verbose: bool) -> str:
    lines: list[str] = []
    w = max([len(r.labels.name) for r in results] + [10])
    head = (f"{'repository':<{w}}  {'api':>9} {'recall':>6}  {'setup':>9} {'recall':>6}  {'level':>6}  "
            f"{'feats':>6}  {'traps':>5}  {'unlab':>5}  project")
    lines += [head, "-" * len(head)]
    for r in results:
        if r.error:
            lines.append(f"{r.labels.name:<{w}}  ERROR {r.error}")
            continue
        a, af, s, sf = len(r.sites("api")), len(r.found("api")), len(r.sites("setup")), len(r.found("setup"))
        m = r.found()
        lv = sum(1 for x in m if x.finding["level"] == x.level)
        ft = sum(1 for x in m if set(x.finding.get("features", [])) == set(x.features))
        proj = "exact" if r.report_level == r.labels.level else "off"
        lines.append(f"{r.labels.name:<{w}}  {af:>4}/{a:<4} {_pct(af, a)}  {sf:>4}/{s:<4} {_pct(sf, s)}  "
                     f"{_pct(lv, len(m))}  {_pct(ft, len(m))}  {len(r.trap_hits):>5}  {len(r.unlabelled):>5}  "
                     f"{proj} (L{r.report_level} vs L{r.labels.level})")
    t = totals(results)
    lines.append("-" * len(head))
    ok = meets(t)
    mark = {True: "ok", False: "BELOW TARGET"}
    lines += [
        f"repositories {t['scanned']}/{t['repositories']} · sites {t['sites']} (api {t['api_sites']}, setup "
        f"{t['setup_sites']}) · traps {t['traps']}",
        f"API-site recall     {_fmt(t['api_recall'])}   target >= 99%   {mark[ok['api_recall']]}",
        f"setup-site recall   {_fmt(t['setup_recall'])}   target >= 98%   {mark[ok['setup_recall']]}"
        f"   (clients and settings {_fmt(t['setup_recall_without_exceptions'])}, "
        f"{t['exception_sites']} exception references {_fmt(t['exception_recall'])})",
        f"per-site level      {_fmt(t['site_level'])}   target >= 95%   {mark[ok['site_level']]}"
        f"   (API sites {_fmt(t['api_site_level'])}; over all labelled sites, misses wrong: "
        f"{_fmt(t['site_level_all'])})",
        f"features exact      {_fmt(t['features_exact'])}",
        f"trap hits           {t['trap_hits']:>6}   target 0        {mark[ok['trap_hits']]}",
        f"project level       {t['project_level_exact']}/{t['scanned']} exact, {t['project_level_off']} off"
        f"   target <= 1 off   {mark[ok['project_level']]}",
        f"unlabelled findings in covered paths {t['unlabelled']} · line-shifted matches {t['line_shifted']}",
    ]
    misses = [(r, s) for r in results if not r.error for s in r.sites() if s.finding is None]
    if misses:
        lines += ["", f"Misses ({len(misses)}) by how the code reaches the SDK:"]
        for how, n in Counter(s.how_kind for _, s in misses).most_common():
            lines.append(f"  {n:>4}  {how}")
        lines += ["", "Every miss:"]
        for r, s in misses:
            lines.append(f"  {r.labels.name}  {s.path}:{s.line}  {s.kind} {s.api} L{s.level}  — {s.how}")
    wrong = [(r, s) for r in results if not r.error for s in r.found() if s.finding["level"] != s.level]
    if wrong:
        lines += ["", f"Level differs ({len(wrong)}): labelled vs found"]
        for r, s in wrong:
            lines.append(f"  {r.labels.name}  {s.path}:{s.line}  {s.api}  L{s.level} {sorted(s.features)} vs "
                         f"L{s.finding['level']} {sorted(s.finding.get('features', []))}")
    traps = [(r, t, f) for r in results for t, f in r.trap_hits]
    if traps:
        lines += ["", f"Trap hits ({len(traps)}):"]
        for r, t, f in traps:
            lines.append(f"  {r.labels.name}  {t.path}:{t.line}  {f['api']} ({f['rule']}) — trap: {t.what}")
    unl = [(r, f) for r in results for f in r.unlabelled]
    if unl:
        lines += ["", f"Unlabelled findings inside covered paths ({len(unl)}): a false positive or a missing label"]
        for r, f in unl:
            lines.append(f"  {r.labels.name}  {f['path']}:{f['line']}  {f['api']} L{f['level']}  | "
                         f"{(f.get('code') or '').strip()[:70]}")
    shifted = [(r, s) for r in results for s in r.found() if s.shifted]
    differs = [(r, s) for r in results for s in r.found() if _norm_api(s.finding["api"]) != _norm_api(s.api)]
    if shifted:
        lines += ["", f"Line-shifted matches ({len(shifted)}): labelled line vs finding line"]
        for r, s in shifted:
            lines.append(f"  {r.labels.name}  {s.path}:{s.line} -> {s.finding['line']}  {s.api}")
    if differs:
        lines += ["", f"API named differently ({len(differs)}): labelled vs found"]
        for r, s in differs:
            lines.append(f"  {r.labels.name}  {s.path}:{s.line}  {s.api} vs {s.finding['api']}")
    if verbose:
        for r in results:
            lines += ["", f"{r.labels.name} @ {r.labels.commit[:12]} ({r.got or 'not scanned'})"]
            for s in r.labels.sites:
                f = s.finding
                got = "MISS" if f is None else f"L{f['level']} {','.join(f.get('features', [])) or '-'}"
                lines.append(f"  {s.path}:{s.line:<5} {s.kind:<5} {s.api:<36} L{s.level} "
                             f"{','.join(s.features) or '-':<24} {got}")
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_misses_md(results: list[RepoResult], scanner_name: str) -> str:
    """The README's miss tables: misses by cause (the first word of `how`), every miss with its cause, and the
    matched sites whose level differs, in Markdown, regenerated from one scoring run."""
    ok = [r for r in results if not r.error]
    misses = [(r, s) for r in ok for s in r.sites() if s.finding is None]
    out = [f"Misses of {scanner_name}: {len(misses)} of {sum(len(r.sites()) for r in ok)} labelled sites "
           f"({sum(1 for _, s in misses if s.kind == 'api')} API, {sum(1 for _, s in misses if s.kind == 'setup')} "
           f"setup) over {len(ok)} repositories.", "", "| cause | misses | api | setup |", "|---|---|---|---|"]
    for how, n in Counter(s.how_kind for _, s in misses).most_common():
        api = sum(1 for _, s in misses if s.how_kind == how and s.kind == "api")
        out.append(f"| `{how}` | {n} | {api} | {n - api} |")
    out += ["", "| repository | site | kind | api | level | cause | how the code reaches the SDK |",
            "|---|---|---|---|---|---|---|"]
    for r, s in sorted(misses, key=lambda x: (x[1].how_kind, x[0].labels.name, x[1].path, x[1].line)):
        out.append(f"| {r.labels.name} | `{s.path}:{s.line}` | {s.kind} | `{s.api}` | {s.level} | `{s.how_kind}` | "
                   f"{_md(s.how)} |")
    wrong = [(r, s) for r in ok for s in r.found() if s.finding["level"] != s.level]
    if wrong:
        out += ["", f"Found with another level ({len(wrong)}):", "",
                "| repository | site | api | labelled | found | how |", "|---|---|---|---|---|---|"]
        for r, s in wrong:
            f = s.finding
            out.append(f"| {r.labels.name} | `{s.path}:{s.line}` | `{s.api}` | L{s.level} "
                       f"{', '.join(sorted(s.features)) or '-'} | L{f['level']} "
                       f"{', '.join(sorted(f.get('features', []))) or '-'} | {_md(s.how)} |")
    traps = [(r, t, f) for r in ok for t, f in r.trap_hits]
    if traps:
        out += ["", f"Trap hits ({len(traps)}):", "", "| repository | line | found | trap |", "|---|---|---|---|"]
        for r, t, f in traps:
            out.append(f"| {r.labels.name} | `{t.path}:{t.line}` | `{f['api']}` ({f['rule']}) | {_md(t.what)} |")
    off = [r for r in ok if r.report_level != r.labels.level]
    if off:
        out += ["", f"Project level off ({len(off)}): " + ", ".join(
            f"{r.labels.name} L{r.report_level} vs L{r.labels.level}" for r in off) + "."]
    return "\n".join(out)


def render_list(all_labels: list[Labels]) -> str:
    """One Markdown row per labelled repository (the README's table)."""
    rows = ["| repository | commit | covered | level | api | setup | traps | why |", "|---|---|---|---|---|---|---|---|"]
    for x in all_labels:
        api = sum(1 for s in x.sites if s.kind == "api")
        rows.append(f"| [{x.name}]({x.url}) | `{x.commit[:12]}` | {', '.join(x.covered)} | {x.level} | {api} | "
                    f"{len(x.sites) - api} | {len(x.traps)} | {x.why} |")
    rows.append(f"| **{len(all_labels)} repositories** | | | | {sum(1 for x in all_labels for s in x.sites if s.kind == 'api')} | "
                f"{sum(1 for x in all_labels for s in x.sites if s.kind == 'setup')} | {sum(len(x.traps) for x in all_labels)} | |")
    return "\n".join(rows)


def _fmt(x: float | None) -> str:
    return "     -" if x is None else f"{100 * x:5.1f}%"


# -------------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labels", type=Path, default=DEFAULT_LABELS, help="directory of label files")
    p.add_argument("--corpus-dir", type=Path, default=DEFAULT_CORPUS, help="where the trees are exported")
    p.add_argument("--mirror-dir", type=Path, default=DEFAULT_MIRROR, help="bare mirrors left by fetch")
    p.add_argument("--only", action="append", default=[], help="owner/repo (repeatable)")
    p.add_argument("--json", nargs="?", const=DEFAULT_JSON, type=Path, default=None,
                   help=f"also write the results as JSON (default {DEFAULT_JSON.relative_to(REPO_ROOT)})")
    p.add_argument("--scanner", default=None, help="scanner command (default: this interpreter -m offramp.migrate)")
    p.add_argument("--verbose", "-v", action="store_true", help="list every site with what was found")
    p.add_argument("--lint", action="store_true", help="check the labels against the code, then stop")
    p.add_argument("--list", action="store_true", help="list the labelled repositories (no scan), then stop")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    p.add_argument("--misses-md", action="store_true",
                   help="print the README's miss tables (by cause, every miss, level differences) in Markdown")
    p.add_argument("--name", default=None, help="the scanner's name in --misses-md (default: the command)")
    p.add_argument("--quick", action="store_true",
                   help="only the repositories whose tree is already exported (no git work)")
    a = p.parse_args(argv)
    scanner = shlex.split(a.scanner) if a.scanner else [sys.executable, "-m", "offramp.migrate"]
    files = sorted(a.labels.glob("*.toml"))
    if not files:
        print(f"score.py: no label files in {a.labels}", file=sys.stderr)
        return 2
    try:
        all_labels = [load_labels(f) for f in files]
    except LabelError as e:
        print(f"score.py: {e}", file=sys.stderr)
        return 2
    if a.only:
        wanted = set(a.only)
        all_labels = [x for x in all_labels if x.name in wanted]
        if missing := wanted - {x.name for x in all_labels}:
            print(f"score.py: no label file for {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    if a.list:
        print(render_list(all_labels))
        return 0
    if a.quick:
        all_labels = [x for x in all_labels if (a.corpus_dir / x.dirname).is_dir()]
    known = feature_ids()
    results: list[RepoResult] = []
    warnings: list[str] = []
    for labels in all_labels:
        res = RepoResult(labels)
        results.append(res)
        try:
            res.tree, res.got = materialise(labels, a.corpus_dir, a.mirror_dir)
        except (LabelError, OSError) as e:
            res.error = str(e)
            continue
        warnings += lint(labels, res.tree, known)
        if a.lint:
            continue
        try:
            match(res, scan(res.tree, scanner))
        except RuntimeError as e:
            res.error = str(e)
    for w in warnings:
        print(f"lint: {w}", file=sys.stderr)
    if a.lint:
        print(f"{len(all_labels)} label files, {sum(len(x.sites) for x in all_labels)} sites, "
              f"{len(warnings)} warnings", file=sys.stderr)
        return 1 if warnings else 0
    if a.misses_md:
        print(render_misses_md(results, a.name or " ".join(scanner)))
    else:
        print(render(results, a.verbose))
    if a.json is not None:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(to_json(results, scanner), indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {a.json}", file=sys.stderr)
    if any(r.error for r in results):
        return 1
    return 1 if a.check and not all(meets(totals(results)).values()) else 0


if __name__ == "__main__":
    sys.exit(main())
