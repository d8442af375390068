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

from migrate.report_model import DeepSeekOffer, Finding
from migrate.ruleset import Rule, RuleSet
from migrate.scan import features as feature_detect
from migrate.scan.resolve import (
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

# Bump when a change in the engine could change results for unchanged input (invalidates the cache).
ENGINE_VERSION = "1"


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


def rule_index(ruleset: RuleSet) -> RuleIndex:
    return _index(ruleset)


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


def _score(rule: Rule, feats: list[str], ruleset: RuleSet) -> tuple[int, str]:
    level, category = rule.level, rule.category
    for fid in feats:
        f = ruleset.feature(fid)
        if f.level > level:
            level, category = f.level, f.category
    return level, category


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
        level, category = _score(rule, feats, ruleset)
        seen.add(id(node))
        hits.append(Hit(node, scope, rule, api, feats, level, category, recv, mods))

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


def attach_positions(module: cst.Module, hits: list[Hit]) -> None:
    """Line/column of each hit. Positions are resolved only for modules with hits: it costs a code-gen pass."""
    if not hits:
        return
    try:  # the provider alone: MetadataWrapper adds a full visit-and-replace pass (measured: ~45% of the cost)
        provider = PositionProvider()
        provider._gen_impl(module)
        positions = provider._computed
    except AttributeError:  # pragma: no cover - libcst internals moved
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
    attach_positions(module, hits)
    lines = source.splitlines()
    findings = []
    for h in hits:
        cell, line = line_map(h.line) if line_map else (None, h.line)
        findings.append(Finding(
            path=relpath, line=line, column=h.column, cell=cell, api=h.api, category=h.category,
            features=h.features, level=h.level, rule=h.rule.id,
            deepseek=DeepSeekOffer(**h.rule.deepseek.model_dump()), message=h.rule.message or h.rule.title,
            code=lines[h.line - 1].strip() if 0 < h.line <= len(lines) else "", rewrite=h.rule.rewrite,
        ))
    exports = exports_of(collected, resolver, project.module) if project.module else {}
    return FileResult(findings=findings, parsed=True, exports=exports)
