"""The rewrite of one source and of a tree: the scan decides which sites move, the strategies rewrite them on
one libcst tree, imports are fixed once, and the result must pass the safety check before it can be written."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst
from libcst.codemod import Codemod, CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from pydantic import BaseModel, Field

from migrate.rewrite import notebooks, safety
from migrate.rewrite.annotate import annotate as add_annotations
from migrate.rewrite.model import FileResult, RewriteResult, Site
from migrate.rewrite.strategies import LAST, PIPELINE, REPORTING, DictResponseAccess
from migrate.rewrite.strategies.base import FINDINGS, LEFT, MOVED
from migrate.rewrite.strategies.module_config_to_configure import INSERTED, KEEP, V0_RETRIES

_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox",
              ".mypy_cache", ".ruff_cache", ".pytest_cache", ".offramp-cache", "site-packages", "build", "dist"}
_PLATFORM_TEXT = re.compile(
    r"\bopenai\.(beta|batches|realtime|vector_stores|responses|uploads|containers|evals|webhooks|conversations"
    r"|videos|graders)\b")
_CONFIG_READ = re.compile(r"\bopenai\.(api_key|api_base|base_url|organization|api_type|api_version)\b(?!\s*=[^=])")
_V0_TEXT = re.compile(r"\b(ChatCompletion|Completion|Embedding|Image|Audio|Moderation|File|FineTuningJob|FineTune"
                      r"|Model|Edit)\.a?(create|list|retrieve|delete|transcribe|translate|download|cancel)")
_STRATEGY_CATEGORIES = {"ErrorClasses": {"errors"}, "ClientConstruction": {"client"},
                        "ModuleConfigToConfigure": {"configuration", "config"}}


class RewriteOptions(BaseModel):
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    only_categories: list[str] = Field(default_factory=list)
    rules_dirs: list[Path] = Field(default_factory=list)
    annotate: bool = False
    use_scan: bool = True


@dataclass
class SourceInput:
    relpath: str
    text: str
    findings: list[dict[str, Any]] | None = None
    notebook: notebooks.Notebook | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ one source
def rewrite_source(source: str, relpath: str = "<string>", *, findings: list[dict[str, Any]] | None = None,
                   keep_config: bool = False, v0_retries: bool = False, annotate: bool = False,
                   only: Iterable[str] = ()) -> tuple[str, list[Site], list[Site], str]:
    """(new code, moved, left, error). `findings`: the scan's findings for this source (None: own resolution)."""
    only = set(only)
    wanted = _wanted_steps(source, findings)
    if not wanted and "adapters" not in source:  # nothing to do here: skip the parse and the code generation
        left = _dedupe(_unaccounted(findings or [], [], [], only))
        if not (annotate and left):
            return source, [], left, ""
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as e:
        return source, [], [], f"does not parse (line {e.raw_line}, column {e.raw_column})"
    context = CodemodContext(filename=relpath)
    if findings is not None:
        by_line: dict[int, list[dict[str, Any]]] = {}
        for f in findings:
            if not only or f.get("category") in only:
                by_line.setdefault(f["line"], []).append(f)
        context.scratch[FINDINGS] = by_line
    context.scratch[KEEP] = keep_config
    context.scratch[V0_RETRIES] = v0_retries
    for step in PIPELINE:
        if only and step.__name__ in _STRATEGY_CATEGORIES and not (_STRATEGY_CATEGORIES[step.__name__] & only):
            continue
        if step.__name__ not in wanted and not (step is DictResponseAccess and (
                context.scratch.get(MOVED) or "adapters" in source)):
            continue
        tree = Codemod.transform_module(step(context), tree)
    for step in LAST:
        if (only and not (_STRATEGY_CATEGORIES[step.__name__] & only)) or step.__name__ not in wanted:
            continue
        tree = Codemod.transform_module(step(context), tree)
    moved = [Site(**m) for m in context.scratch.get(MOVED, [])]
    left = [Site(**x) for x in context.scratch.get(LEFT, [])]
    left = _dedupe(left + _unaccounted(findings or [], moved, left, only))
    if annotate:
        inserted = sorted(context.scratch.get(INSERTED, []))
        reasons: dict[int, list[str]] = {}
        for s in left:
            line = s.line + sum(1 for i in inserted if i < s.line)
            reasons.setdefault(line, []).append(s.reason)
        tree = add_annotations(tree, reasons)
    tree = _swap_openai_import(tree, context)
    if AddImportsVisitor.CONTEXT_KEY in context.scratch:
        tree = AddImportsVisitor(context).transform_module(tree)
    if RemoveImportsVisitor.CONTEXT_KEY in context.scratch:
        tree = RemoveImportsVisitor(context).transform_module(tree)
    code = tree.code
    if code == source:
        return source, [], left, ""
    return code, moved, left, ""


_BY_STRATEGY = {"v0-exception": "ErrorClasses", "v0-resource-call": "ModuleApiToClient",
                "client-constructor": "ClientConstruction", "v0-config": "ModuleConfigToConfigure",
                "wrapper-base-url": "WrapperClients"}
_TEXT_FILTERS = {
    "ErrorClasses": re.compile(r"\berror\b"),
    "ModuleApiToClient": _V0_TEXT,
    "ModuleClientCalls": re.compile(r"\b(openai|import)\b"),
    "ClientConstruction": re.compile(r"OpenAI|Client"),
    "ModuleConfigToConfigure": re.compile(r"\.\s*(api_key|api_base|base_url|organization|api_type|api_version|proxy"
                                          r"|requestssession|aiosession|verify_ssl_certs|api_key_path|debug|log"
                                          r"|app_info)\s*="),
    "WrapperClients": re.compile(r"langchain_openai"),
}


def _wanted_steps(source: str, findings: list[dict[str, Any]] | None) -> set[str]:
    """Strategies worth running on this source: those the scan's findings name (cheap text checks without a
    scan). A libcst pass with metadata costs far more than the scan of the file, so skipping matters."""
    if findings is None:
        return {name for name, rx in _TEXT_FILTERS.items() if rx.search(source)}
    wanted = {_BY_STRATEGY[f["rewrite"]] for f in findings if f.get("rewrite") in _BY_STRATEGY}
    if any(f.get("rewrite") == "keep-on-openai" and f["api"].startswith("openai.") for f in findings):
        wanted.add("ModuleApiToClient")
    if any("module_client" in f.get("features", []) or f["api"].startswith("openai.") for f in findings):
        wanted.add("ModuleClientCalls")
    if wanted & {"ModuleApiToClient", "ClientConstruction"} or any(f["category"] == "errors" for f in findings):
        wanted |= {"ErrorClasses", "ModuleClientCalls", "ClientConstruction"} & {
            n for n, rx in _TEXT_FILTERS.items() if rx.search(source)}
    return wanted


def _swap_openai_import(tree: cst.Module, context: CodemodContext) -> cst.Module:
    """When `import openai` goes unused and `import adapters` is needed, put the new import where the old one
    was (a one-line diff, in the user's import order) instead of appending it after the last import."""
    from libcst.metadata import MetadataWrapper, ScopeProvider

    needed = context.scratch.get(AddImportsVisitor.CONTEXT_KEY, [])
    if not any(i.module_name == "adapters" and i.obj_name is None for i in needed):
        return tree
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    scopes = wrapper.resolve(ScopeProvider)
    target: cst.Import | None = None
    for stmt in wrapper.module.body:
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Import) and len(small.names) == 1 and small.names[0].asname is None \
                    and cst.helpers.get_full_name_for_node(small.names[0].name) == "openai":
                scope = scopes.get(small)
                if scope is not None and not any(a.references for a in scope.assignments["openai"]
                                                 if getattr(a, "node", None) is small):
                    target = small
    if target is None:
        return tree
    found = target

    class _Swap(cst.CSTTransformer):
        def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.Import:
            if original_node is found:
                return updated_node.with_changes(names=[cst.ImportAlias(name=cst.Name("adapters"))])
            return updated_node

    context.scratch[AddImportsVisitor.CONTEXT_KEY] = [
        i for i in needed if not (i.module_name == "adapters" and i.obj_name is None)]
    return wrapper.module.visit(_Swap())


def _unaccounted(findings: list[dict[str, Any]], moved: list[Site], left: list[Site],
                 only: set[str]) -> list[Site]:
    """Scan findings no strategy moved or reported: left, with the rule's reason."""
    seen = {s.line for s in moved} | {s.line for s in left}
    out = []
    for f in findings:
        if f["line"] in seen or (only and f.get("category") not in only):
            continue
        strategy = f.get("rewrite", "")
        if strategy in REPORTING:
            reason = f.get("reason") or f.get("message") or strategy
        elif strategy == "keep-call" and "module_client" not in f.get("features", []):
            continue  # a call on a client object keeps its shape: it moves with the client's constructor
        elif strategy == "keep-call":
            continue
        else:
            reason = f"not rewritten: {strategy} could not prove this site safe ({f.get('api')})"
        out.append(Site(line=f["line"], column=f.get("column", 0), api=f.get("api", ""),
                        strategy="scan:" + strategy, category=f.get("category", ""), reason=reason))
    return out


def _dedupe(sites: list[Site]) -> list[Site]:
    seen: set[tuple[int, str]] = set()
    out = []
    for s in sorted(sites, key=lambda s: (s.line, s.column)):
        key = (s.line, s.reason)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


# ------------------------------------------------------------------------------------------------ a tree
def discover(root: Path, options: RewriteOptions) -> list[Path]:
    """Python files and notebooks under root: the scan's own walk (its include/exclude, .gitignore and vendored
    trees), so that the rewrite looks at exactly the files the scan reports on."""
    if root.is_file():
        return [root]
    try:
        from migrate.scan.walk import walk
    except ImportError:  # the scan engine is optional for the rewrite: same rules, without .gitignore
        pass
    else:
        return [p for _, p in walk(root, list(options.include), list(options.exclude)).files]
    import pathspec

    exclude = pathspec.PathSpec.from_lines("gitignore", options.exclude) if options.exclude else None
    include = pathspec.PathSpec.from_lines("gitignore", options.include) if options.include else None
    if root.is_file():
        return [root]
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = sorted(
            d for d in dirnames
            if not (d in _SKIP_DIRS or d.startswith(".") or (Path(dirpath) / d / "pyvenv.cfg").exists())
            or (include and include.match_file((rel_dir / d).as_posix() + "/"))
        )
        for name in sorted(filenames):
            if not name.endswith((".py", ".ipynb")):
                continue
            rel = (rel_dir / name).as_posix()
            if exclude and exclude.match_file(rel) and not (include and include.match_file(rel)):
                continue
            out.append(Path(dirpath) / name)
    return out


def _scan_findings(text: str, relpath: str, ruleset: Any, line_map: Any = None) -> list[dict[str, Any]] | None:
    from migrate.scan import analyze_source

    result = analyze_source(text, relpath, ruleset)
    if result.skipped_reason:
        return None
    return [{"line": f.line, "column": f.column, "api": f.api, "rule": f.rule, "rewrite": f.rewrite,
             "category": f.category, "features": f.features, "message": f.message,
             "reason": f.deepseek.reason} for f in result.findings]


def load_ruleset(root: Path, options: RewriteOptions) -> Any:
    """The scan's rules (built-in + user); None when the scan engine is not usable (own resolution)."""
    if not options.use_scan:
        return None
    try:
        from migrate.ruleset import load_ruleset as _load
        from migrate.ruleset import user_rule_dirs
        from migrate.scan import analyze_source  # noqa: F401
    except ImportError:
        return None
    base = root if root.is_dir() else root.parent
    return _load([*options.rules_dirs, *user_rule_dirs(base)])


def rewrite_path(root: Path, options: RewriteOptions | None = None) -> RewriteResult:
    options = options or RewriteOptions()
    root = root.resolve()
    base = root if root.is_dir() else root.parent
    ruleset = load_ruleset(root, options)
    prefilter = None
    if ruleset is not None:
        from migrate.scan.prefilter import import_regex

        prefilter = import_regex(ruleset.import_roots)
    inputs: list[SourceInput] = []
    result = RewriteResult(root=str(root))
    files = discover(root, options)
    result.files_scanned = len(files)
    for path in files:
        rel = path.relative_to(base).as_posix()
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            result.files.append(FileResult(path=rel, original="", rewritten="", error=f"cannot read: {e}"))
            continue
        if "openai" not in text:
            continue  # files without OpenAI usage never change
        item = SourceInput(relpath=rel, text=text)
        if path.suffix == ".ipynb":
            try:
                item.notebook = notebooks.load(text, rel)
            except notebooks.NotebookError as e:
                result.files.append(FileResult(path=rel, original=text, rewritten=text, error=str(e)))
                continue
        if prefilter is not None and not prefilter.search(item.notebook.source_cache if item.notebook else text):
            continue  # the scan's own pre-filter: only files importing an SDK or wrapper have findings
        if ruleset is not None:
            src = item.notebook.source_cache if item.notebook else text
            item.findings = _scan_findings(src, rel, ruleset)
        inputs.append(item)
    keep = _keeps_openai_module(inputs)
    v0 = any(_V0_TEXT.search(i.notebook.source_cache if i.notebook else i.text) for i in inputs)
    for item in inputs:
        result.files.append(_rewrite_one(item, keep, v0, options))
    return result


def _keeps_openai_module(inputs: list[SourceInput]) -> bool:
    """Does anything in the project keep using the openai module client (so its config must stay set)?"""
    for item in inputs:
        src = item.notebook.source_cache if item.notebook else item.text
        if _PLATFORM_TEXT.search(src) or _CONFIG_READ.search(src):
            return True
        for f in item.findings or []:
            if f["rewrite"] in ("keep-on-openai", "report-only") and (
                    f["api"].startswith("openai.") or "module_client" in f.get("features", [])):
                return True
    return False


def _rewrite_one(item: SourceInput, keep: bool, v0: bool, options: RewriteOptions) -> FileResult:
    nb = item.notebook
    source = nb.source_cache if nb else item.text
    code, moved, left, error = rewrite_source(source, item.relpath, findings=item.findings, keep_config=keep,
                                              v0_retries=v0, annotate=options.annotate, only=options.only_categories)
    if not error and code != source:
        error = safety.check(source, code, item.relpath)
    rewritten = item.text
    if not error and code != source:
        rewritten = nb.render(code) if nb else code
    if nb:
        for s in (*moved, *left):
            s.cell, s.line = nb.line_map(s.line)
    return FileResult(path=item.relpath, original=item.text, rewritten=rewritten if not error else item.text,
                      moved=moved, left=left, error=error)
