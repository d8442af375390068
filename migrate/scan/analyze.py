"""Per-source analysis: match the rules against one parsed module and score each finding.

`analyze_module` returns `Hit`s that keep the libcst node, so `migrate rewrite` finds exactly the call sites
the scan reported on the same CST; `analyze_source` parses, analyses and turns hits into report `Finding`s.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider
from pydantic import BaseModel, Field

from offramp.migrate.report_model import DeepSeekOffer, Finding
from offramp.migrate.ruleset import DeepSeekOffer as RuleOffer
from offramp.migrate.ruleset import Rule, RuleSet
from offramp.migrate.scan import features as feature_detect
from offramp.migrate.scan.resolve import (
    MODULE_RECEIVERS,
    PATH_CALL_MODIFIERS,
    PATH_MODIFIERS,
    Collected,
    Obj,
    ProjectContext,
    QName,
    Resolver,
    Scope,
    collect,
    exports_of,
)
from offramp.migrate.secrets import redact

# Bump when a change in the engine could change results for unchanged input (invalidates the cache).
ENGINE_VERSION = "2"


@dataclass(frozen=True)
class RuleIndex:
    """The rules of a RuleSet arranged for lookup by qualified name or by (receiver type, method path)."""

    calls: dict[str, list[Rule]]
    constructors: dict[str, list[Rule]]
    assigns: dict[str, Rule]
    references: dict[str, Rule]
    methods: dict[tuple[str, str], list[Rule]]
    producers: dict[str, tuple[str, bool]]
    module_roots: frozenset[str]


@functools.lru_cache(maxsize=8)
def _index(ruleset: RuleSet) -> RuleIndex:
    by_kind: dict[str, dict[Any, Any]] = {k: {} for k in ("call", "constructor", "assign", "reference", "method")}
    producers: dict[str, tuple[str, bool]] = {}
    roots: set[str] = {"beta", *PATH_MODIFIERS, *PATH_CALL_MODIFIERS}
    for rule in ruleset.rules:
        m = rule.match
        for name in m.names:
            if m.kind == "method":
                by_kind["method"].setdefault((m.receiver, name), []).append(rule)
                if m.receiver in MODULE_RECEIVERS.values():
                    roots.add(name.split(".")[0])
            elif m.kind in ("call", "constructor"):
                by_kind[m.kind].setdefault(name, []).append(rule)
            else:
                by_kind[m.kind].setdefault(name, rule)
            if m.produces:
                producers[name] = (m.produces, m.is_async)
    for table in (by_kind["call"], by_kind["constructor"], by_kind["method"]):
        for rules in table.values():
            rules.sort(key=lambda r: r.match.when is None)  # narrowed rules are tried first
    return RuleIndex(by_kind["call"], by_kind["constructor"], by_kind["assign"], by_kind["reference"],
                     by_kind["method"], producers, frozenset(roots))


_BY_ID: dict[int, tuple[RuleSet, RuleIndex]] = {}


def rule_index(ruleset: RuleSet) -> RuleIndex:
    """`_index` memoised by identity first: hashing a frozen RuleSet walks every rule (measured: 5% of a scan)."""
    got = _BY_ID.get(id(ruleset))
    if got is None or got[0] is not ruleset:
        if len(_BY_ID) > 8:
            _BY_ID.clear()
        got = _BY_ID[id(ruleset)] = (ruleset, _index(ruleset))
    return got[1]


@dataclass
class Hit:
    """One matched API use, on the CST: `node` is the Call (or assignment target / reference expression)."""

    node: cst.CSTNode
    scope: Scope
    rule: Rule
    api: str
    features: list[str]
    level: int
    category: str
    receiver: Obj | None = None
    modifiers: tuple[str, ...] = ()
    line: int = 0
    column: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    offer: RuleOffer | None = None  # what DeepSeek offers for this use (its highest contributor's); see _score


def _api_name(rule: Rule, name: str) -> str:
    if rule.match.kind == "constructor" and name.startswith("openai."):
        return name[len("openai."):]
    return name


def _pick(rules: list[Rule] | None, call: cst.Call, scope: Scope, r: Resolver) -> Rule | None:
    for rule in rules or ():
        if rule.match.when is None or feature_detect.call_matches(rule.match.when, call, scope, r):
            return rule
    return None


def _async_variant(rule: Rule, name: str) -> bool:
    """`openai.ChatCompletion.acreate` is the async form when the rule also lists `...create`."""
    mod, _, last = name.rpartition(".")
    return last.startswith("a") and f"{mod}.{last[1:]}" in rule.match.names


def _score(rule: Rule, feats: list[str], ruleset: RuleSet) -> tuple[int, str, RuleOffer]:
    """Level, category and DeepSeek offer of a finding: those of its highest contributor (the rule, or the
    first feature in `features.toml` order that raises the level)."""
    level, category, offer = rule.level, rule.category, rule.deepseek
    for fid in feats:
        f = ruleset.feature(fid)
        if f.level > level:
            level, category = f.level, f.category
            offer = f.deepseek or offer
    return level, category, offer


def _ordered(ids: list[str], ruleset: RuleSet) -> list[str]:
    order = {f.id: i for i, f in enumerate(ruleset.features)}
    return sorted(set(ids), key=lambda i: order.get(i, 999))


def analyze_module(module: cst.Module, ruleset: RuleSet, project: ProjectContext | None = None,
                   collected: Collected | None = None) -> tuple[list[Hit], Collected, Resolver]:
    """Every rule match in `module`, in source order once positions are attached."""
    project = project or ProjectContext()
    idx = rule_index(ruleset)
    c = collected or collect(module, project.package)
    r = Resolver(c, idx.producers, idx.module_roots, project)
    hits: list[Hit] = []
    seen: set[int] = set()

    def add(node: cst.CSTNode, scope: Scope, rule: Rule, api: str, feats: list[str], recv: Obj | None = None,
            mods: tuple[str, ...] = ()) -> None:
        feats = _ordered([*rule.features, *feats], ruleset)
        level, category, offer = _score(rule, feats, ruleset)
        seen.add(id(node))
        hits.append(Hit(node, scope, rule, api, feats, level, category, recv, mods, offer=offer))

    for call, scope in c.calls:
        callee = r.eval(call.func, scope)
        rule: Rule | None = None
        feats: list[str] = []
        if isinstance(callee, QName):
            rule = _pick(idx.calls.get(callee.name) or idx.constructors.get(callee.name), call, scope, r)
            if rule is None:
                continue
            api = _api_name(rule, callee.name)
            if rule.match.is_async or _async_variant(rule, callee.name):
                feats.append("async")
            if rule.match.kind == "constructor" or rule.match.produces:
                produced = r.call_result(callee, call, scope)
                if isinstance(produced, Obj) and produced.is_async:
                    feats.append("async")
            recv = None
        elif isinstance(callee, Obj) and callee.path:
            path = ".".join(callee.path)
            rule = _pick(idx.methods.get((callee.type, path)), call, scope, r)
            if rule is None:
                continue
            api = path
            recv = callee
            if callee.is_async:
                feats.append("async")
            if callee.module_client:
                feats.append("module_client")
            if any(m in PATH_MODIFIERS for m in callee.modifiers):
                feats.append("raw_response")
        else:
            continue
        if id(call) in c.awaited:
            feats.append("async")
        feats.extend(feature_detect.detect(call, scope, r, ruleset.features))
        add(call, scope, rule, api, feats, recv, recv.modifiers if recv else ())

    for target, scope in c.assigns:
        v = r.eval(target, scope)
        if isinstance(v, QName) and v.name in idx.assigns:
            add(target, scope, idx.assigns[v.name], v.name, [])

    for expr, scope in c.references:
        if id(expr) in seen:
            continue
        v = r.eval(expr, scope)
        if isinstance(v, QName) and v.name in idx.references:
            add(expr, scope, idx.references[v.name], v.name, [])
    return hits, c, r


def _codegen_positions(module: cst.Module) -> tuple[Any, str]:
    """PositionProvider's positions of every node of `module`, and the generated code."""
    from libcst.metadata.position_provider import PositionProvidingCodegenState

    provider = PositionProvider()
    state = PositionProvidingCodegenState(default_indent=module.default_indent,
                                          default_newline=module.default_newline, provider=provider)
    module._codegen(state)
    return provider._computed, "".join(state.tokens)


def _cst_statements(body: Any, out: list[tuple[cst.CSTNode | None, int]]) -> None:
    """Statements in source order as (node, how many `ast` statements it stands for); the small statements
    of a one-line suite (`if x: a; b`) are (None, n)."""
    if isinstance(body, cst.SimpleStatementSuite):
        out.append((None, len(body.body)))
        return
    for stmt in body.body if isinstance(body, cst.IndentedBlock) else body:
        if isinstance(stmt, cst.SimpleStatementLine):
            out.append((stmt, len(stmt.body)))
            continue
        out.append((stmt, 1))
        if isinstance(stmt, cst.Match):
            for case in stmt.cases:
                _cst_statements(case.body, out)
            continue
        _cst_statements(stmt.body, out)
        for h in getattr(stmt, "handlers", ()):
            _cst_statements(h.body, out)
        orelse = getattr(stmt, "orelse", None)
        while orelse is not None:
            if isinstance(orelse, cst.If):  # elif: a statement of its own, as in ast
                out.append((orelse, 1))
                _cst_statements(orelse.body, out)
                orelse = orelse.orelse
            else:
                _cst_statements(orelse.body, out)
                orelse = None
        final = getattr(stmt, "finalbody", None)
        if final is not None:
            _cst_statements(final.body, out)


def _ast_statements(body: list[ast.stmt], out: list[ast.stmt]) -> None:
    for stmt in body:
        out.append(stmt)
        if isinstance(stmt, ast.Match):
            for case in stmt.cases:
                _ast_statements(case.body, out)
            continue
        _ast_statements(getattr(stmt, "body", ()), out)
        for h in getattr(stmt, "handlers", ()):
            _ast_statements(h.body, out)
        _ast_statements(getattr(stmt, "orelse", ()), out)
        _ast_statements(getattr(stmt, "finalbody", ()), out)


def _statement_lines(module: cst.Module, source: str) -> dict[int, int] | None:
    """id(libcst statement) -> line of its first token, from `ast` (10x cheaper than a code-gen pass)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    seq: list[tuple[cst.CSTNode | None, int]] = []
    flat: list[ast.stmt] = []
    try:
        _cst_statements(module.body, seq)
        _ast_statements(tree.body, flat)
    except RecursionError:
        return None
    if sum(n for _, n in seq) != len(flat):
        return None
    out: dict[int, int] = {}
    i = 0
    for node, n in seq:
        if node is not None:
            a = flat[i]
            decorators = getattr(a, "decorator_list", None)
            out[id(node)] = decorators[0].lineno if decorators else a.lineno
        i += n
    return out


def _unit_positions(module: cst.Module, source: str, hits: list[Hit],
                    statement_of: dict[int, cst.CSTNode]) -> dict[int, tuple[int, int]] | None:
    """Positions of the hits from a code-gen pass over the innermost statement holding each (the header only,
    for a compound statement), placed at the line where `ast` says that statement starts.

    A code-gen pass over the whole module costs half as much as parsing it (measured, bench/scan). Every hit
    is checked against its source line; None (use the full pass) on any doubt."""
    lines = _statement_lines(module, source)
    if lines is None:
        return None
    src_lines = source.split("\n")
    out: dict[int, tuple[int, int]] = {}
    by_unit: dict[int, list[Hit]] = {}
    units: dict[int, cst.CSTNode] = {}
    for h in hits:
        u = statement_of.get(id(h.node))
        if u is None or id(u) not in lines:
            return None
        by_unit.setdefault(id(u), []).append(h)
        units[id(u)] = u
    for uid, u in units.items():
        stmt = u
        body = getattr(u, "body", None)
        if isinstance(body, cst.IndentedBlock) and not isinstance(u, cst.Try | cst.TryStar | cst.Match):
            # the hits are in the header (they would belong to an inner statement otherwise): leave the blocks
            # out of the pass. Not for try/match: an `except` clause or a case comes after a block.
            stmt = u.with_changes(body=body.with_changes(body=(cst.SimpleStatementLine((cst.Pass(),)),)))
            if getattr(u, "orelse", None) is not None:
                stmt = stmt.with_changes(orelse=None)
        decorators = getattr(u, "decorators", ())
        first = decorators[0] if decorators else stmt
        positions, code = _codegen_positions(cst.Module(body=[stmt], header=[], footer=[],
                                                        default_indent=module.default_indent,
                                                        default_newline=module.default_newline))
        delta = lines[uid] - positions[first].start.line
        sub_lines = code.split("\n")
        for h in by_unit[uid]:
            pos = positions[h.node].start
            full_no = pos.line + delta
            if not (0 < full_no <= len(src_lines) and 0 < pos.line <= len(sub_lines)):
                return None
            full, sub = src_lines[full_no - 1], sub_lines[pos.line - 1]
            if not full.endswith(sub):  # the pass drops only the statement's indentation
                return None
            out[id(h.node)] = (full_no, pos.column + len(full) - len(sub))
    return out


def attach_positions(module: cst.Module, hits: list[Hit], source: str | None = None,
                     collected: Collected | None = None) -> None:
    """Line/column of each hit. Positions are resolved only for modules with hits: it costs a code-gen pass,
    limited to the statements holding hits when `source` and `collected` are given."""
    if not hits:
        return
    fast = _unit_positions(module, source, hits, collected.statement_of) if (
        source is not None and collected is not None) else None
    if fast is not None:
        for h in hits:
            h.line, h.column = fast[id(h.node)]
    else:
        try:  # the provider alone: MetadataWrapper adds a full visit-and-replace pass (measured: ~45% of the cost)
            positions = _codegen_positions(module)[0]
        except (AttributeError, ImportError):  # pragma: no cover - libcst internals moved
            positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
        for h in hits:
            pos = positions[h.node].start
            h.line, h.column = pos.line, pos.column
    hits.sort(key=lambda h: (h.line, h.column, h.rule.id))


class FileResult(BaseModel):
    """What the scan learned from one file; cached as JSON between runs."""

    findings: list[Finding] = Field(default_factory=list)
    skipped_reason: str | None = None
    parsed: bool = False
    exports: dict[str, dict[str, Any]] = Field(default_factory=dict)


_PY2 = re.compile(r"^[ \t]*(?:print[ \t]+[^(\s=]|exec[ \t]+[\"']|except[ \t]+[\w.]+[ \t]*,[ \t]*\w+[ \t]*:)",
                  re.MULTILINE)
_AT = re.compile(r"error at (\d+):(\d+)")


def _syntax_reason(e: cst.ParserSyntaxError, source: str) -> str:
    """One line: where, a Python 2 hint when the source looks like it, and the parser's words (shortened)."""
    try:  # CPython's own message and position are more precise; ask only once libcst failed
        ast.parse(source)
        msg = " ".join(str(e.message).split()).removeprefix("parser error: ")
        m = _AT.search(msg)
        line, col = (int(m.group(1)), int(m.group(2))) if m else (e.raw_line, e.raw_column)
        msg = _AT.sub("", msg).lstrip(": ")
    except SyntaxError as se:
        line, col, msg = se.lineno or 0, max((se.offset or 1) - 1, 0), str(se.msg)
    except (ValueError, RecursionError, MemoryError):
        line, col, msg = e.raw_line, e.raw_column, "cannot parse"
    if len(msg) > 90:
        msg = msg[:87] + "..."
    hint = " (Python 2 code?)" if _PY2.search(source) else ""
    return f"syntax error at line {line}, column {col}{hint}: {msg}"


def parse(source: str) -> cst.Module:
    return cst.parse_module(source)


def analyze_source(source: str, relpath: str, ruleset: RuleSet, project_index: Any = None,
                   line_map: Any = None) -> FileResult:
    """Findings of one Python source. `project_index` is a ProjectContext for this file, or an object with
    `context_for(relpath)` (the scan's ProjectIndex); `line_map(line) -> (cell, line)` maps notebook lines."""
    project = project_index.context_for(relpath) if hasattr(project_index, "context_for") else project_index
    project = project or ProjectContext()
    try:
        module = parse(source)
    except cst.ParserSyntaxError as e:
        return FileResult(skipped_reason=_syntax_reason(e, source))
    except (RecursionError, MemoryError, ValueError) as e:
        return FileResult(skipped_reason=f"cannot parse: {type(e).__name__}")
    hits, collected, resolver = analyze_module(module, ruleset, project)
    attach_positions(module, hits, source, collected)
    lines = source.splitlines()
    findings = []
    for h in hits:
        cell, line = line_map(h.line) if line_map else (None, h.line)
        findings.append(Finding(
            path=relpath, line=line, column=h.column, cell=cell, api=h.api, category=h.category,
            features=h.features, level=h.level, rule=h.rule.id,
            deepseek=DeepSeekOffer(**(h.offer or h.rule.deepseek).model_dump()), message=h.rule.message or h.rule.title,
            code=redact(lines[h.line - 1].strip()) if 0 < h.line <= len(lines) else "", rewrite=h.rule.rewrite,
        ))
    exports = exports_of(collected, resolver, project.module) if project.module else {}
    return FileResult(findings=findings, parsed=True, exports=exports)
