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

from offramp.migrate.rewrite import notebooks, safety
from offramp.migrate.rewrite.annotate import annotate as add_annotations
from offramp.migrate.rewrite.model import FileResult, RewriteResult, Site
from offramp.migrate.rewrite.strategies import LAST, PIPELINE, REPORTING, DictResponseAccess
from offramp.migrate.rewrite.strategies.base import FINDINGS, LEFT, MOVED
from offramp.migrate.rewrite.strategies.imports import drop_repeated_imports
from offramp.migrate.rewrite.strategies.module_config_to_configure import INSERTED, KEEP, MERGED, V0_RETRIES
from offramp.migrate.rewrite.strategies.offramp_imports import OLD_IMPORT, OWN_ADAPTERS, OfframpImports

_SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox",
              ".mypy_cache", ".ruff_cache", ".pytest_cache", ".offramp-cache", "site-packages", "build", "dist"}
_PLATFORM_TEXT = re.compile(
    r"\bopenai\.(beta|batches|realtime|vector_stores|responses|uploads|containers|evals|webhooks|conversations"
    r"|videos|graders)\b")
_CONFIG_READ = re.compile(r"\bopenai\.(api_key|api_base|base_url|organization|api_type|api_version)\b(?!\s*=[^=])")
_V0_TEXT = re.compile(r"\b(ChatCompletion|Completion|Embedding|Image|Audio|Moderation|File|FineTuningJob|FineTune"
                      r"|Model|Edit)\.a?(create|list|retrieve|delete|transcribe|translate|download|cancel)")
RIDES = "with-client"  # calls on a client object: they move with the client's constructor
# Dict-style access DictResponseAccess could turn into attributes: a string subscript or `.get(`.
_DICT_TEXT = re.compile(r"""\[\s*[rRuU]?['"]|\.get\(""")
_STRATEGY_CATEGORIES = {"ErrorClasses": {"errors"}, "ClientConstruction": {"client"},
                        "ModuleConfigToConfigure": {"configuration", "config"}}


class RewriteOptions(BaseModel):
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    only_categories: list[str] = Field(default_factory=list)
    rules_dirs: list[Path] = Field(default_factory=list)
    annotate: bool = False
    use_scan: bool = True
    jobs: int | None = Field(default=None, description="scan worker processes; None = all cores")


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
                   only: Iterable[str] = (), own_adapters: bool = False) -> tuple[str, list[Site], list[Site], str]:
    """(new code, moved, left, error). `findings`: the scan's findings for this source (None: own resolution).
    `own_adapters`: the project has an `adapters` package of its own (its imports are never upgraded)."""
    only = set(only)
    wanted = _wanted_steps(source, findings)
    if OLD_IMPORT.search(source):
        wanted.add("OfframpImports")
    if not wanted and "adapters" not in source:  # nothing to do here: skip the parse and the code generation
        left = _dedupe(_unaccounted(findings or [], [], [], only))
        if not (annotate and left):
            return source, rides_along(findings or [], [], left, only), left, ""
    try:
        tree = cst.parse_module(source)
    except cst.ParserSyntaxError as e:
        why = safety.unsupported_syntax(source, relpath)  # this Python's own message, when it has one
        line, msg = why or (e.raw_line, f"{safety.UNSUPPORTED} (libcst: {e.message.splitlines()[0][:100]})")
        return source, [], [], f"line {line}: {msg}"
    context = CodemodContext(filename=relpath)
    if findings is not None:
        by_line: dict[int, list[dict[str, Any]]] = {}
        for f in findings:
            if not only or f.get("category") in only:
                by_line.setdefault(f["line"], []).append(f)
        context.scratch[FINDINGS] = by_line
    context.scratch[KEEP] = keep_config
    context.scratch[V0_RETRIES] = v0_retries
    context.scratch[OWN_ADAPTERS] = own_adapters
    if "OfframpImports" in wanted:  # first: later steps then see (and add to) the current import
        tree = Codemod.transform_module(OfframpImports(context), tree)
    for step in PIPELINE:
        if only and step.__name__ in _STRATEGY_CATEGORIES and not (_STRATEGY_CATEGORIES[step.__name__] & only):
            continue
        if step.__name__ not in wanted and not (step is DictResponseAccess and _needs_response_access(
                source, context.scratch.get(MOVED, []))):
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
        merged = context.scratch.get(MERGED, [])  # a merged line now lives on the line above it
        reasons: dict[int, list[str]] = {}
        for s in left:
            line = s.line + sum(1 for i in inserted if i < s.line) - sum(1 for m in merged if m <= s.line)
            reasons.setdefault(line, []).append(s.reason)
        tree = add_annotations(tree, reasons)
    tree = drop_repeated_imports(tree, context)
    tree = _swap_openai_import(tree, context)
    if context.scratch.get(AddImportsVisitor.CONTEXT_KEY):
        tree = AddImportsVisitor(context).transform_module(tree)
    if context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY):
        tree = RemoveImportsVisitor(context).transform_module(tree)
    moved += rides_along(findings or [], moved, left, only)
    code = tree.code
    if code == source:
        return source, [s for s in moved if s.strategy == RIDES], left, ""
    return code, moved, left, ""


_BY_STRATEGY = {"v0-exception": "ErrorClasses", "v0-resource-call": "ModuleApiToClient",
                "client-constructor": "ClientConstruction", "v0-config": "ModuleConfigToConfigure",
                "wrapper-base-url": "WrapperClients"}
_TEXT_FILTERS = {
    "ErrorClasses": re.compile(r"\berror\b|\bInvalidRequestError\b"),
    "ModuleApiToClient": _V0_TEXT,
    "ModuleClientCalls": re.compile(r"\b(openai|import)\b"),
    "ClientConstruction": re.compile(r"OpenAI|Client"),
    "ModuleConfigToConfigure": re.compile(r"\.\s*(api_key|api_base|base_url|organization|api_type|api_version|proxy"
                                          r"|requestssession|aiosession|verify_ssl_certs|api_key_path|debug|log"
                                          r"|app_info)\s*="),
    "WrapperClients": re.compile(r"langchain_openai"),
}


def _needs_response_access(source: str, moved: list[dict[str, Any]]) -> bool:
    """DictResponseAccess only rewrites dict-style access on the result of an `adapters.client()` /
    `adapters.async_client()` call: such calls exist when a 0.x or module-client call was just moved there, or
    were already in the source. Anything else would be a full metadata pass for nothing."""
    if not _DICT_TEXT.search(source):
        return False
    return "adapters.client" in source or "adapters.async_client" in source or any(
        m.get("strategy") in ("v0-resource-call", "keep-call") for m in moved)


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
    return wanted


def _is_adapters_module(imp: Any) -> bool:
    """The request `from offramp import adapters` (the module itself, not a name from it)."""
    return imp.module_name == "offramp" and imp.obj_name == "adapters" and imp.alias is None


def _swap_openai_import(tree: cst.Module, context: CodemodContext) -> cst.Module:
    """When `import openai` goes unused and `from offramp import adapters` is needed, put the new import where the old one
    was (a one-line diff, in the user's import order) instead of appending it after the last import.

    The same scope analysis also cancels requests to remove `import openai` that would change nothing (the
    module is still used), so libcst's RemoveImportsVisitor — a metadata pass of its own — runs only when an
    import really goes."""
    from libcst.metadata import MetadataWrapper, ScopeProvider

    needed = context.scratch.get(AddImportsVisitor.CONTEXT_KEY, [])
    removals = context.scratch.get(RemoveImportsVisitor.CONTEXT_KEY, [])
    want_swap = any(_is_adapters_module(i) for i in needed)
    if not want_swap and not any(obj is None and "." not in mod for mod, obj, _ in removals):
        return tree
    wrapper = MetadataWrapper(tree, unsafe_skip_copy=True)
    scopes = wrapper.resolve(ScopeProvider)
    imports: list[cst.Import] = []

    class _Imports(cst.CSTVisitor):
        def visit_Import(self, node: cst.Import) -> None:
            imports.append(node)

    wrapper.module.visit(_Imports())

    def referenced(node: cst.Import, bound: str) -> bool | None:
        """None when unknown (no scope): neither swapped nor spared from removal then."""
        scope = scopes.get(node)
        if scope is None:
            return None
        return any(a.references for a in scope.assignments[bound] if getattr(a, "node", None) is node)

    def binds(node: cst.Import, module: str, asname: str | None) -> bool:
        return any(cst.helpers.get_full_name_for_node(a.name) == module
                   and (a.evaluated_alias if a.asname else None) == asname for a in node.names)

    target: cst.Import | None = None
    if want_swap:
        for stmt in wrapper.module.body:
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if isinstance(small, cst.Import) and len(small.names) == 1 and binds(small, "openai", None) \
                        and referenced(small, "openai") is False:
                    target = small
    kept = [(mod, obj, asname) for mod, obj, asname in removals
            if obj is not None or "." in mod
            or not all(referenced(n, asname or mod) is True
                       for n in imports if n is not target and binds(n, mod, asname))]
    if len(kept) != len(removals):
        context.scratch[RemoveImportsVisitor.CONTEXT_KEY] = kept
    if target is None:
        return tree
    found = target

    class _Swap(cst.CSTTransformer):
        def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.BaseSmallStatement:
            if original_node is found:
                return cst.ImportFrom(module=cst.Name("offramp"), names=[cst.ImportAlias(name=cst.Name("adapters"))])
            return updated_node

    context.scratch[AddImportsVisitor.CONTEXT_KEY] = [
        i for i in needed if not _is_adapters_module(i)]
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
        elif strategy == "keep-call":
            continue  # calls keeping their shape: counted by `rides_along` (they move with their client)
        else:
            reason = f"not rewritten: {strategy} could not prove this site safe ({f.get('api')})"
        out.append(Site(line=f["line"], column=f.get("column", 0), api=f.get("api", ""),
                        strategy="scan:" + strategy, category=f.get("category", ""), reason=reason))
    return out


def rides_along(findings: list[dict[str, Any]], moved: list[Site], left: list[Site], only: set[str]) -> list[Site]:
    """Calls on a client object (`client.chat.completions.create`) keep their shape: they move onto the adapter
    with the constructor of their client. Returned as moved sites; `rewrite_path` turns them into left sites
    when the project's clients did not all move."""
    seen = {s.line for s in moved} | {s.line for s in left}
    out = []
    for f in findings:
        if not (f.get("rewrite") == "keep-call" and "module_client" not in f.get("features", [])
                and f["line"] not in seen and not (only and f.get("category") not in only)):
            continue
        via = list(f.get("via", []))
        site = Site(line=f["line"], column=f.get("column", 0), api=f.get("api", ""), strategy=RIDES,
                    category=f.get("category", ""), via=via)
        if f.get("origin") == "openai-compatible":
            # the graph saw only the shape of the client: nothing proves the client it receives moves
            left.append(site.model_copy(update={"strategy": "scan:duck-typed", "reason": (
                "not moved: a call of the OpenAI shape on a client this code receives "
                f"({via[0].removeprefix('duck-typed: ') if via else 'of unknown type'}); point that client at "
                "the adapter where it is built")}))
            continue
        if via:
            site.reason = "moves with its client, reached through " + " → ".join(via)
        out.append(site)
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
        from offramp.migrate.scan.walk import walk
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


def _finding_dict(f: Any, line: int) -> dict[str, Any]:
    return {"line": line, "column": f.column, "api": f.api, "rule": f.rule, "rewrite": f.rewrite,
            "category": f.category, "features": list(f.features), "message": f.message, "reason": f.deepseek.reason,
            "via": list(getattr(f, "via", [])), "origin": getattr(f, "origin", "openai")}


@dataclass
class ProjectScan:
    """The scan of the whole tree, with its project index (clients made by a factory in another module, classes
    holding a client, ...): the rewrite then sees exactly the sites `migrate scan` reports."""

    findings: dict[str, list[Any]]
    skipped: set[str]
    report: Any = None


def scan_project(root: Path, options: RewriteOptions) -> ProjectScan | None:
    if not options.use_scan:
        return None
    try:
        from offramp.migrate.scan import ScanOptions, scan_path
    except ImportError:
        return None
    report = scan_path(root, ScanOptions(include=list(options.include), exclude=list(options.exclude),
                                         rules_dirs=list(options.rules_dirs), use_cache=False,
                                         jobs=options.jobs))
    by_path: dict[str, list[Any]] = {}
    for f in report.findings:
        if getattr(f, "origin", "openai") == "offramp":
            continue  # already on Offramp's client (a second run, or code written for it): nothing to move
        by_path.setdefault(f.path, []).append(f)
    return ProjectScan(by_path, {s.path for s in report.skipped}, report)


def _findings_for(item: SourceInput, scan: ProjectScan) -> list[dict[str, Any]] | None:
    """This file's findings in the rewrite's coordinates (a notebook's cell lines become lines of the joined
    cells); None when the scan skipped the file (own resolution)."""
    if item.relpath in scan.skipped:
        return None
    found = scan.findings.get(item.relpath, [])
    if item.notebook is None:
        return [_finding_dict(f, f.line) for f in found]
    marks: dict[int, int] = {}
    for lineno, text in enumerate(item.notebook.source_cache.splitlines(), 1):
        m = re.match(r"^# @@offramp-cell (\d+)@@$", text)
        if m:
            marks[item.notebook.cells[int(m.group(1))]] = lineno
    return [_finding_dict(f, marks[f.cell] + f.line) for f in found if f.cell in marks]


def load_ruleset(root: Path, options: RewriteOptions) -> Any:
    """The scan's rules (built-in + user); None when the scan engine is not usable (own resolution)."""
    if not options.use_scan:
        return None
    try:
        from offramp.migrate.ruleset import load_ruleset as _load
        from offramp.migrate.ruleset import user_rule_dirs
        from offramp.migrate.scan import analyze_source  # noqa: F401
    except ImportError:
        return None
    base = root if root.is_dir() else root.parent
    return _load([*options.rules_dirs, *user_rule_dirs(base)])


def rewrite_path(root: Path, options: RewriteOptions | None = None) -> RewriteResult:
    options = options or RewriteOptions()
    root = root.resolve()
    base = root if root.is_dir() else root.parent
    scan = scan_project(root, options)
    inputs: list[SourceInput] = []
    result = RewriteResult(root=str(root), report=scan.report if scan is not None else None)
    files = discover(root, options)
    result.files_scanned = len(files)
    own_adapters = any(p.name == "adapters.py" or p.parent.name == "adapters" for p in files)
    for path in files:
        rel = path.relative_to(base).as_posix()
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            result.files.append(FileResult(path=rel, original="", rewritten="", error=f"cannot read: {e}"))
            continue
        if "openai" not in text and (scan is None or rel not in scan.findings) and not OLD_IMPORT.search(text):
            continue  # files without OpenAI usage (or Offramp's pre-0.2 imports) never change
        item = SourceInput(relpath=rel, text=text)
        if path.suffix == ".ipynb":
            try:
                item.notebook = notebooks.load(text, rel)
            except notebooks.NotebookError as e:
                result.files.append(FileResult(path=rel, original=text, rewritten=text, error=str(e)))
                continue
        if scan is not None:
            item.findings = _findings_for(item, scan)
            if item.findings == [] and "adapters" not in text:
                continue  # the scan found nothing to move here
        inputs.append(item)
    keep = _keeps_openai_module(inputs)
    v0 = any(_V0_TEXT.search(i.notebook.source_cache if i.notebook else i.text) for i in inputs)
    for item in inputs:
        result.files.append(_rewrite_one(item, keep, v0, options, own_adapters))
    _settle_riders(result, options.only_categories)
    return result


def _settle_riders(result: RewriteResult, only: Iterable[str] = ()) -> None:
    """Calls on client objects moved only if every client constructor the scan found moved too: otherwise some
    of them still talk to OpenAI through a client built here unchanged (or outside the scanned files). A client
    left on OpenAI because it serves only platform APIs (batches, assistants, ...) has no such calls."""
    only = set(only)
    blocked = [(f.path, s.line) for f in result.files for s in f.left
               if s.category == "client" and not s.strategy.endswith("keep-on-openai")]
    blocked += [(f.path, s.line) for f in result.files if f.error for s in f.moved
                if s.strategy == "client-constructor"]
    has_client = any(s.strategy == "client-constructor" for f in result.files if not f.error for s in f.moved) \
        or any("adapters" in f.original for f in result.files)
    if not blocked and has_client:
        return
    if blocked:
        why = (f"call on a client: it moves with its client, but the client constructor at {blocked[0][0]}:"
               f"{blocked[0][1]} was not moved")
    elif only and "client" not in only:
        why = "call on a client: it moves with its client constructor, which --only leaves out"
    else:
        why = "call on a client built outside the rewritten files: point that client at the adapter"
    for f in result.files:
        riders = [s for s in f.moved if s.strategy == RIDES]
        if riders:
            f.moved = [s for s in f.moved if s.strategy != RIDES]
            f.left = _dedupe(f.left + [s.model_copy(update={"reason": why}) for s in riders])


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


def _rewrite_one(item: SourceInput, keep: bool, v0: bool, options: RewriteOptions,
                 own_adapters: bool = False) -> FileResult:
    nb = item.notebook
    source = nb.source_cache if nb else item.text
    code, moved, left, error = rewrite_source(source, item.relpath, findings=item.findings, keep_config=keep,
                                              v0_retries=v0, annotate=options.annotate, only=options.only_categories,
                                              own_adapters=own_adapters)
    if not error and code != source:
        error = safety.check(source, code, item.relpath)
    rewritten = item.text
    if not error and code != source:
        rewritten = nb.render(code) if nb else code
    cell = skipped = None
    m = _SKIPPED.match(error)
    if m:  # one line naming where the parser stopped (a notebook's: in its cell)
        cell, skipped = nb.line_map(int(m.group(1))) if nb else (None, int(m.group(1)))
        error = error[m.end():]
    if error:  # nothing of this file moves: its sites are reported with the reason (a client kept blocks riders)
        why = f"not moved: {item.relpath} was " + ("skipped" if skipped is not None else "not rewritten")
        left = _dedupe(left + [x.model_copy(update={"reason": why}) for x in moved if x.strategy != RIDES])
        moved = [x for x in moved if x.strategy == RIDES]
    if nb:
        for s in (*moved, *left):
            s.cell, s.line = nb.line_map(s.line)
    return FileResult(path=item.relpath, cell=cell, original=item.text,
                      rewritten=rewritten if not error else item.text, moved=moved, left=left, error=error,
                      skipped_line=skipped)


_SKIPPED = re.compile(rf"line (\d+): (?={re.escape(safety.UNSUPPORTED)})")
