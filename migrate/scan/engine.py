"""`scan_path`: walk, pre-filter, analyse (in a process pool on large trees), cache, score.

The API graph spans the project by rounds to a fixed point: round 0 analyses the files that import an SDK or
wrapper (and files calling something of the OpenAI client's shape, for duck typing); what their modules export
(clients, factories, classes holding a client, SDK re-exports, star-importable names) and what they pass to
other modules' functions (cross-module parameter edges) goes into the project index; files importing those
modules, or receiving those arguments, are then analysed (again) with that knowledge, until nothing changes.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import re
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offramp.migrate.report_model import Finding, ModelRef, ScanReport, Skipped
from offramp.migrate.ruleset import RuleSet, load_ruleset, user_rule_dirs
from offramp.migrate.scan.analyze import FileResult, analyze_source
from offramp.migrate.scan.cache import ProjectCache, ResultCache, cache_key, content_hash, file_stat
from offramp.migrate.scan.deadlines import merge_models, minimal_models
from offramp.migrate.scan.notebook import LineMap, NotebookError, notebook_source
from offramp.migrate.scan.options import ScanOptions, default_cache_dir
from offramp.migrate.scan.prefilter import import_regex, reach_filter
from offramp.migrate.scan.project import ProjectIndex, module_name
from offramp.migrate.scan.resolve import MODULE_RECEIVERS, OFFRAMP_FACTORIES, OFFRAMP_MODULES, ProjectContext
from offramp.migrate.scan.summary import build_report, finding_order
from offramp.migrate.scan.walk import walk

# Below this much source to analyse in a round, starting workers costs more than it saves (`ast` parses and
# resolves ~1 MB/s per core; forking a worker and importing nothing new costs ~50 ms, paid once: the pool lives
# across rounds). The threshold is per round, and the rounds of the fixed point are small (on bench/scan's corpus
# 1.4, 1.1, 0.8 and 0.2 MB): at 1.5 MB no round ever reached the pool, so a cold scan used one core.
PARALLEL_MIN_CHARS = 200_000
MAX_ROUNDS = 6
OFFRAMP_ROOTS = frozenset({"offramp", "adapters"})
_AT_LINE = re.compile(r"syntax error at line (\d+)")


@dataclass
class _Source:
    data: bytes
    text: str
    cells: list[tuple[int, int]] | None


def _read(path: Path, rel: str, max_bytes: int) -> _Source | str:
    """The file's source, or a one-line reason to skip it."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return f"larger than max_file_bytes ({size} > {max_bytes} bytes)"
        data = path.read_bytes()
    except OSError as e:
        return "symlink loop" if e.errno == 40 else f"unreadable: {e.strerror or e}"
    if b"\0" in data[:8192]:
        return "binary file (NUL bytes)"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})"
    text = text.removeprefix("\ufeff")
    if rel.endswith(".ipynb"):
        try:
            src, cells = notebook_source(text)
        except NotebookError as e:
            return str(e)
        return _Source(data, src, cells)
    return _Source(data, text, None)


_WORKER_RULESET: RuleSet | None = None


def _mp_context() -> multiprocessing.context.BaseContext | None:
    """fork where it exists: workers inherit the imported rules/pydantic instead of re-importing them
    (spawn and forkserver pay ~0.5 s per worker before the first file)."""
    try:
        return multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - Windows
        return None


def _init_worker(ruleset: RuleSet) -> None:
    global _WORKER_RULESET
    _WORKER_RULESET = ruleset


def _run_job(job: tuple[str, str, ProjectContext, list[tuple[int, int]] | None]) -> dict[str, Any]:
    rel, text, ctx, cells = job
    assert _WORKER_RULESET is not None
    return _analyze(rel, text, ctx, cells, _WORKER_RULESET)


def _analyze(rel: str, text: str, ctx: ProjectContext, cells: list[tuple[int, int]] | None,
             ruleset: RuleSet) -> dict[str, Any]:
    try:
        res = analyze_source(text, rel, ruleset, ctx, line_map=LineMap(cells) if cells is not None else None)
    except RecursionError:
        res = FileResult(skipped_reason="too deeply nested to analyse")
    m = _AT_LINE.match(res.skipped_reason or "")
    if cells is not None and m:  # name the cell, not the line of the joined module
        cell, cline = LineMap(cells)(int(m.group(1)))
        res.skipped_reason = f"syntax error in cell {cell}, line {cline}" + res.skipped_reason[m.end():]
    return res.model_dump(mode="json")


def duck_regex(ruleset: RuleSet) -> re.Pattern[str]:
    """Text a file must hold to be parsed for duck-typed calls: the last two segments of a method path of the
    OpenAI client followed by `(` (`completions.create(`, `runs.retrieve(`)."""
    tails = {".".join(n.split(".")[-2:]) for r in ruleset.rules if r.match.kind == "method"
             and r.match.receiver in MODULE_RECEIVERS.values() for n in r.match.names if "." in n}
    alt = "|".join(sorted(re.escape(t).replace(r"\.", r"\s*\.\s*") for t in tails))
    return re.compile(rf"\.\s*(?:{alt})\s*\(")


def reach_names(ruleset: RuleSet) -> set[str]:
    """Qualified names an import must lead to for a file to be worth parsing (see prefilter.reach_filter)."""
    names = {n for r in ruleset.rules if r.match.kind != "method" for n in r.match.names}
    for module, receiver in MODULE_RECEIVERS.items():
        names |= {f"{module}.{n.split('.')[0]}" for r in ruleset.rules if r.match.receiver == receiver
                  for n in r.match.names}
        names |= {f"{module}.{m}" for m in ("beta", "with_raw_response", "with_streaming_response", "with_options")}
    for n in list(names):  # the same names through Offramp's client
        if n.startswith("openai."):
            rest = n[len("openai."):]
            names |= {f"{m}{rest}" for m in OFFRAMP_MODULES}
    names |= {f"{m}{f}" for m in OFFRAMP_MODULES for f in OFFRAMP_FACTORIES}
    return names


def scan_path(root: Path, options: ScanOptions | None = None) -> ScanReport:
    """Scan a directory (or one file) and return the full report. Raises FileNotFoundError for a missing
    root and migrate.ruleset.RuleFileError for a bad rule file."""
    options = options or ScanOptions()
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such file or directory")
    root_dir = root if root.is_dir() else root.parent
    ruleset = load_ruleset([*options.rules_dirs, *user_rule_dirs(root_dir)])

    started_ns = time.time_ns()
    walked = walk(root, options.include, options.exclude)
    cache_dir = (options.cache_dir or default_cache_dir(root_dir)) if options.use_cache else None
    project_cache = ProjectCache(cache_dir)
    project_key = _project_key(root, walked, ruleset, options)
    answer = project_cache.load(project_key, walked.files)
    if answer is None:
        answer = _scan_files(root, walked.files, ruleset, options, cache_dir, project_cache, project_key, started_ns)
    findings = [Finding.model_validate(f) for f in answer["findings"]]
    refs = [[ModelRef.model_validate(r) for r in got] for got in answer["models"]]
    skipped = [*walked.skipped, *(Skipped.model_validate(s) for s in answer["skipped"])]
    if options.only_categories:
        wanted = set(options.only_categories)
        kept = [(f, r) for f, r in zip(findings, refs, strict=True) if f.category in wanted]
        findings, refs = [f for f, _ in kept], [r for _, r in kept]
    report = build_report(str(root.resolve()), findings, skipped, ruleset, files_scanned=len(walked.files),
                          files_parsed=answer["files_parsed"], models=merge_models(refs))
    route_offramp_findings(report, root_dir, ruleset)  # reads offramp.toml on every scan, cached or not
    return report


def _project_key(root: Path, walked: Any, ruleset: RuleSet, options: ScanOptions) -> str:
    """What a whole-project answer depends on besides the files' contents: the engine (checked by the cache),
    the rules (their digest covers pyproject's `[tool.migrate] rules` and --rules dirs), the root, the
    options read before the report and the walked file list (include/exclude, .gitignore)."""
    h = hashlib.blake2b(digest_size=20)
    parts = [ruleset.digest, str(root.resolve()), str(root.is_dir()), str(options.max_file_bytes),
             *(rel for rel, _ in walked.files), "\0skipped", *(f"{s.path}\0{s.reason}" for s in walked.skipped)]
    for part in parts:
        h.update(part.encode("utf-8", "surrogateescape"))
        h.update(b"\0")
    return h.hexdigest()


def _scan_files(root: Path, files: list[tuple[str, Path]], ruleset: RuleSet, options: ScanOptions, cache_dir: Path | None,
                project_cache: ProjectCache, project_key: str, started_ns: int) -> dict[str, Any]:
    """Read, pre-filter and analyse the walked files to a fixed point; the answer is stored in the project
    cache with each file's stat and content hash."""
    skipped: list[Skipped] = []
    sources: dict[str, _Source] = {}
    stats: dict[str, list[Any]] = {}
    for rel, path in files:
        st = file_stat(path)
        got = _read(path, rel, options.max_file_bytes)
        if isinstance(got, str):
            skipped.append(Skipped(path=rel, reason=got))
            stats[rel] = [st, None]
        else:
            sources[rel] = got
            stats[rel] = [st, content_hash(got.data)]

    roots = ruleset.import_roots
    scan_roots = roots | OFFRAMP_ROOTS  # Offramp's own client is usage too (a scan after `migrate rewrite`)
    rx = import_regex(scan_roots)
    may_reach = reach_filter(scan_roots, reach_names(ruleset))
    duck = duck_regex(ruleset)
    direct = {rel for rel, s in sources.items()
              if (any(r in s.text for r in scan_roots) and rx.search(s.text) and may_reach(s.text))
              or ("(" in s.text and duck.search(s.text))}
    index = ProjectIndex({rel: s.text for rel, s in sources.items()}, roots)
    cache = ResultCache(cache_dir)
    jobs_n = options.jobs or os.cpu_count() or 1

    results: dict[str, FileResult] = {}
    used_sig: dict[str, str] = {}
    total, done = len(direct), 0
    pool: ProcessPoolExecutor | None = None
    # Files importing another SDK-importing module of the project wait for round 1, when that module's
    # exports are known: most files are then parsed once.
    deferred = {rel for rel in direct if any(
        index.rel_of(src) in direct for _, src in index.imported(rel, sources[rel].text))} if len(direct) > 1 else set()
    targets = sorted(direct - deferred)
    try:
        for _ in range(MAX_ROUNDS + 1):
            todo: list[tuple[str, str, tuple[str, str, ProjectContext, list[tuple[int, int]] | None]]] = []
            for rel in targets:
                src = sources[rel]
                ctx = index.context_for(rel, src.text)
                sig = ctx.signature()
                if used_sig.get(rel) == sig:
                    continue
                if rel in used_sig or rel not in direct:
                    total += 1
                used_sig[rel] = sig
                key = cache_key(rel, src.data, sig, ruleset.digest)
                hit = cache.get(key)
                if hit is not None:
                    results[rel] = FileResult.model_validate(hit)
                    done += 1
                    if options.progress:
                        options.progress(done, total)
                else:
                    todo.append((key, rel, (rel, src.text, ctx, src.cells)))
            if todo:
                work = sum(len(j[1]) for _, _, j in todo)
                if jobs_n > 1 and len(todo) > 1 and work >= PARALLEL_MIN_CHARS:
                    if pool is None:
                        pool = ProcessPoolExecutor(max_workers=jobs_n, mp_context=_mp_context(),
                                                   initializer=_init_worker, initargs=(ruleset,))
                    # largest first, one file per task: a few big modules otherwise leave a worker idle at the
                    # end of the round (results are small, so per-task messages cost little)
                    todo.sort(key=lambda t: -len(t[2][1]))
                    outs = pool.map(_run_job, [j for _, _, j in todo], chunksize=1)
                else:
                    outs = (_analyze(*j, ruleset) for _, _, j in todo)
                finished = 0
                try:
                    for (key, rel, _), out in zip(todo, outs, strict=True):
                        cache.put(key, out)
                        results[rel] = FileResult.model_validate(out)
                        finished += 1
                        done += 1
                        if options.progress:
                            options.progress(done, total)
                except BrokenProcessPool:  # a worker died (native crash, OOM kill): finish in this process
                    if pool is not None:
                        pool.shutdown(wait=False, cancel_futures=True)
                    pool = None
                    for key, rel, job in todo[finished:]:
                        out = _analyze(*job, ruleset)
                        cache.put(key, out)
                        results[rel] = FileResult.model_validate(out)
                        done += 1
                        if options.progress:
                            options.progress(done, total)
            exports = {module_name(rel)[0]: r.exports for rel, r in results.items() if r.exports}
            params = {rel: r.params for rel, r in results.items() if r.params}
            stars = {module_name(rel)[0]: r.stars for rel, r in results.items() if r.parsed}
            changed = index.set_params(params) | index.set_stars(stars)
            if exports == index.exports and not deferred and not changed:
                break
            index.set_exports(exports)
            deferred = set()
            targets = sorted(direct | index.exporting_importers() | index.param_receivers())
    finally:
        if pool is not None:
            pool.shutdown()
    cache.save()

    findings: list[Finding] = []
    for rel, res in results.items():
        if res.skipped_reason:
            skipped.append(Skipped(path=rel, reason=res.skipped_reason))
        findings.extend(res.findings)
    findings.sort(key=finding_order)  # the report's order: the first finding of a model ref names its context
    models = minimal_models(findings, root)
    answer = {"findings": [f.model_dump(mode="json") for f in findings],
              "models": [[r.model_dump(mode="json") for r in got] for got in models],
              "skipped": [s.model_dump(mode="json") for s in skipped],
              "files_parsed": sum(1 for r in results.values() if r.parsed)}
    if all(st is not None for st, _ in stats.values()):
        project_cache.save(project_key, started_ns, stats, answer)
    return answer


def _endpoint(api: str) -> str:
    """`chat.completions.create` → `chat/completions/create`, the path shape offramp's router matches on."""
    return "/".join(api.split("."))


def route_offramp_findings(report: ScanReport, root_dir: Path, ruleset: RuleSet) -> None:
    """For calls through Offramp's client, the backend the project's offramp.toml routes each to
    (`Finding.backend`), with offramp.adapters' own config loader and router. No offramp.toml: the client
    behaves exactly like openai's, so every call goes to "openai". A bad offramp.toml is one skipped entry."""
    kinds = {r.id: r.match.kind for r in ruleset.rules}
    mine = [f for f in report.findings if f.origin == "offramp" and kinds.get(f.rule) in ("call", "method")
            and not f.api.startswith("openai.")]
    if not mine:
        return
    from offramp.adapters.config import ConfigError, parse_config
    from offramp.adapters.routing import candidates, capabilities_of

    path = next((d / "offramp.toml" for d in (root_dir.resolve(), *root_dir.resolve().parents)
                 if (d / "offramp.toml").is_file()), None)
    cfg = None
    if path is not None:
        try:
            cfg = parse_config(path.read_text(encoding="utf-8"), str(path))
        except (ConfigError, OSError, UnicodeDecodeError) as e:
            report.skipped.append(Skipped(path="offramp.toml", reason=f"cannot route calls: {str(e).splitlines()[0]}"))
            report.summary.skipped = len(report.skipped)
            return
    for f in mine:
        if cfg is None:
            f.backend = "openai"
            continue
        caps = capabilities_of(_endpoint(f.api), None)
        if {"vision", "vision_input_image"} & set(f.features) and "vision" not in caps:
            caps.append("vision")
        if {"audio_input", "audio_data_url", "audio_output"} & set(f.features) and "audio" not in caps:
            caps.append("audio")
        try:
            got = candidates(cfg, caps, f.models[0] if f.models else None, None, {})[0]
        except (KeyError, ValueError):
            continue
        f.backend = got.backend
