"""Per-source analysis: match the rules against one parsed module (stdlib `ast`) and score each finding.

`analyze_module` returns `Hit`s that keep the `ast` node; `analyze_source` parses, analyses and turns hits into
report `Finding`s with how each was reached (`via`), a confidence and an origin. `migrate rewrite` locates the
same sites on its libcst tree by line and column.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from offramp.migrate.report_model import DeepSeekOffer, Finding
from offramp.migrate.ruleset import DeepSeekOffer as RuleOffer
from offramp.migrate.ruleset import Rule, RuleSet
from offramp.migrate.scan import features as feature_detect
from offramp.migrate.scan.resolve import (
    MODULE_RECEIVERS,
    PASSTHROUGH,
    PATH_BETA,
    PATH_CALL_MODIFIERS,
    PATH_MODIFIERS,
    ClassInfo,
    Collected,
    Instance,
    Obj,
    ProjectContext,
    QName,
    Resolver,
    Scope,
    _Param,
    collect,
    exports_of,
    param_flows,
)
from offramp.migrate.secrets import redact

# Bump when a change in the engine could change results for unchanged input (invalidates the cache).
ENGINE_VERSION = "3-ast"
# Confidence of a finding: resolved through imports and local flow; through the project's data flow
# (factories, parameters, attributes, other modules); a duck-typed call of the OpenAI shape.
CONFIDENCE_DIRECT = 1.0
CONFIDENCE_FLOW = 0.9
CONFIDENCE_DUCK = 0.6


@dataclass(frozen=True)
class RuleIndex:
    """The rules of a RuleSet arranged for lookup by qualified name or by (receiver type, method path)."""

    calls: dict[str, list[Rule]]
    constructors: dict[str, list[Rule]]
    assigns: dict[Any, Rule]  # qualified name, or (receiver type, attribute)
    references: dict[str, Rule]
    methods: dict[tuple[str, str], list[Rule]]
    producers: dict[str, tuple[str, bool]]
    module_roots: frozenset[str]
    duck: dict[str, list[Rule]]  # method paths of the OpenAI client (two segments or more), for duck typing


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
            elif m.kind == "assign" and m.receiver:
                by_kind["assign"].setdefault((m.receiver, name), rule)
            else:
                by_kind[m.kind].setdefault(name, rule)
            if m.produces:
                producers[name] = (m.produces, m.is_async)
    for table in (by_kind["call"], by_kind["constructor"], by_kind["method"]):
        for rules in table.values():
            rules.sort(key=lambda r: r.match.when is None)  # narrowed rules are tried first
    duck = {name: rules for (recv, name), rules in by_kind["method"].items()
            if recv in MODULE_RECEIVERS.values() and "." in name}
    return RuleIndex(by_kind["call"], by_kind["constructor"], by_kind["assign"], by_kind["reference"],
                     by_kind["method"], producers, frozenset(roots), duck)


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
    """One matched API use: `node` is the `ast` Call (or assignment target / reference expression)."""

    node: ast.AST
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


def _pick(rules: list[Rule] | None, call: ast.Call, scope: Scope, r: Resolver) -> Rule | None:
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


def _chain(func: ast.expr) -> tuple[ast.expr, list[str]]:
    """`self.client.beta.chat.completions.create` → (`self.client`… root, ["beta", "chat", ...]) split at the
    longest attribute run."""
    parts: list[str] = []
    node = func
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    parts.reverse()
    return node, parts


def _received(root: ast.expr, first_attrs: list[str], scope: Scope, r: Resolver) -> str | None:
    """Is the receiver of a duck-typed call something this code was handed (a parameter, an attribute set
    from one, a name bound nowhere)? Returns a one-line description, or None."""
    if not isinstance(root, ast.Name):
        return None
    cands, owner = r.lookup(root.id, scope)
    if cands and isinstance(cands[0], Instance) and first_attrs:
        cls = cands[0].cls
        attr = first_attrs[0]
        stores = getattr(cls, "attrs", {}).get(attr)
        if stores is None:
            return None if getattr(cls, "scope", None) is None or attr in cls.scope.functions else \
                f"self.{attr}, set outside {cls.name}"
        for e, s in stores:
            if isinstance(e, ast.Name):
                c2, _ = r.lookup(e.id, s)
                if c2 and isinstance(c2[0], _Param):
                    return f"self.{attr}, from parameter {e.id}"
        return None
    if not cands:
        if hasattr(builtins, root.id):
            return None
        return f"{root.id}, bound nowhere in this module"
    if isinstance(cands[0], _Param):
        fn = owner.fn.qualname if owner.fn else "a function"
        return f"parameter {root.id} of {fn}()"
    return None


def analyze_module(module: ast.Module, ruleset: RuleSet, project: ProjectContext | None = None,
                   collected: Collected | None = None, relpath: str = "") -> tuple[list[Hit], Collected, Resolver]:
    """Every rule match in `module`, in source order."""
    project = project or ProjectContext()
    idx = rule_index(ruleset)
    c = collected or collect(module, project.package, relpath or project.relpath)
    r = Resolver(c, idx.producers, idx.module_roots, project)
    hits: list[Hit] = []
    seen: set[int] = set()

    def add(node: ast.AST, scope: Scope, rule: Rule, api: str, feats: list[str], recv: Obj | None = None,
            mods: tuple[str, ...] = (), via: tuple[str, ...] = (), origin: str = "openai",
            confidence: float = CONFIDENCE_DIRECT) -> None:
        if origin == "offramp" and via and "Offramp's client" in via[-1] and len(via) == 1:
            via = ()  # a direct use of Offramp's client: the origin says it
        feats = _ordered([*rule.features, *feats], ruleset)
        level, category, offer = _score(rule, feats, ruleset)
        seen.add(id(node))
        hit = Hit(node, scope, rule, api, feats, level, category, recv, mods, offer=offer)
        hit.line, hit.column = node.lineno, node.col_offset  # type: ignore[attr-defined]
        if via and confidence == CONFIDENCE_DIRECT:
            confidence = CONFIDENCE_FLOW
        hit.extra.update(via=list(via), origin=origin, confidence=confidence)
        hits.append(hit)

    for call, scope in c.calls:
        callee = r.eval(call.func, scope)
        if isinstance(callee, ClassInfo):  # constructing a project subclass of an SDK/wrapper class
            callee = r.producer_base(callee) or callee
        rule: Rule | None = None
        feats: list[str] = []
        via: tuple[str, ...] = ()
        if isinstance(callee, QName):
            rule = _pick(idx.calls.get(callee.name) or idx.constructors.get(callee.name), call, scope, r)
            if rule is None:
                continue
            api = _api_name(rule, callee.name)
            via = callee.via
            origin = callee.origin
            if rule.match.is_async or _async_variant(rule, callee.name):
                feats.append("async")
            if rule.match.kind == "constructor" or rule.match.produces:
                produced = r.call_result(callee, call, scope)
                if isinstance(produced, Obj) and produced.is_async:
                    feats.append("async")
                if origin == "openai":  # a wrapper handed Offramp's client (`ChatOpenAI(root_client=adapters.client())`)
                    for k in call.keywords:
                        kv = r.eval(k.value, scope)
                        if isinstance(kv, Obj) and kv.origin == "offramp":
                            origin = "offramp"
                            via = (*via, f"{k.arg}= is Offramp's client")
                            break
            recv = None
        elif isinstance(callee, Obj) and callee.path:
            path = ".".join(callee.path)
            rule = _pick(idx.methods.get((callee.type, path)), call, scope, r)
            if rule is None:
                continue
            api = path
            recv = callee
            via = callee.via
            origin = callee.origin
            if callee.is_async:
                feats.append("async")
            if callee.module_client:
                feats.append("module_client")
            if any(m in PATH_MODIFIERS for m in callee.modifiers):
                feats.append("raw_response")
        elif not (isinstance(callee, QName) and callee.name in PASSTHROUGH) and (
                passed := _passed_method(call, scope, r, idx)) is not None:
            # a bound SDK method handed to something that calls it (`run_in_executor(None, client.x.create, ...)`,
            # `error_handler(func=llm.apredict_messages, ...)`): the call is here, with these arguments
            rule, recv, how = passed
            api = ".".join(recv.path)
            via = (*recv.via, how)
            origin = recv.origin
            if recv.is_async:
                feats.append("async")
            if recv.module_client:
                feats.append("module_client")
        elif callee is None and isinstance(call.func, ast.Attribute):
            got = _duck(call, scope, r, idx)
            if got is None:
                continue
            rule, api, how, mods = got
            if id(call) in c.awaited:
                feats.append("async")
            if any(m in PATH_MODIFIERS for m in mods):
                feats.append("raw_response")
            feats.extend(feature_detect.detect(call, scope, r, ruleset.features))
            add(call, scope, rule, api, feats, None, mods, (f"duck-typed: {how}",), "openai-compatible",
                CONFIDENCE_DUCK)
            continue
        else:
            continue
        if id(call) in c.awaited:
            feats.append("async")
        feats.extend(feature_detect.detect(call, scope, r, ruleset.features))
        add(call, scope, rule, api, feats, recv, recv.modifiers if recv else (), via, origin)

    for target, scope in c.assigns:
        # the assigned attribute must be the module's own (`openai.api_base = ...`), not a name that merely
        # holds a module setting's value (`self.api_base = openai.api_base; self.api_base = x`)
        base = r.eval(target.value, scope)
        v = QName(f"{base.name}.{target.attr}", base.via, base.origin) if isinstance(base, QName) else None
        if isinstance(v, QName) and v.name in idx.assigns:
            add(target, scope, idx.assigns[v.name], v.name, [], via=v.via, origin=v.origin)
        elif isinstance(base, Obj) and not base.path and (base.type, target.attr) in idx.assigns:
            # a setting changed on a client object (`self.client.api_key = next(keys)`)
            add(target, scope, idx.assigns[(base.type, target.attr)], target.attr, [], via=base.via,
                origin=base.origin)

    imported = _imported_names(c)
    for expr, scope in c.references:
        if id(expr) in seen:
            continue
        base = expr
        while isinstance(base, ast.Attribute):
            base = base.value
        if not isinstance(base, ast.Name) or base.id not in imported:
            continue
        v = r.eval(expr, scope)
        if isinstance(v, QName) and v.name in idx.references:
            add(expr, scope, idx.references[v.name], v.name, [], via=v.via, origin=v.origin)
    hits.sort(key=lambda h: (h.line, h.column, h.rule.id))
    return hits, c, r


def _passed_method(call: ast.Call, scope: Scope, r: Resolver, idx: RuleIndex) -> tuple[Rule, Obj, str] | None:
    """An SDK method (an attribute, not a call of it) passed as an argument of this call."""
    for a in [*call.args, *(k.value for k in call.keywords)]:
        if not isinstance(a, ast.Attribute):
            continue
        v = r.eval(a, scope)
        if isinstance(v, Obj) and v.path:
            rule = _pick(idx.methods.get((v.type, ".".join(v.path))), call, scope, r)
            if rule is not None:
                return rule, v, f"bound method {ast.unparse(a)} passed to {ast.unparse(call.func)}() at {r.rel}:{call.lineno}"
    return None


def _imported_names(c: Collected) -> set[str]:
    """Local names bound by an import anywhere in the module (exception references start at one)."""
    out: set[str] = set()
    stack = [c.module]
    seen: set[int] = set()
    while stack:
        s = stack.pop()
        if id(s) in seen:
            continue
        seen.add(id(s))
        out |= set(s.imports)
        if s.star:
            out |= set(s.bindings) | _ALL_NAMES
        for f in s.functions.values():
            stack.append(f.scope)
        for k in s.classes.values():
            stack.append(k.scope)
    return out


class _AllNames(set):
    def __contains__(self, item: object) -> bool:  # a star import may bind any name
        return True


_ALL_NAMES: set[str] = _AllNames()


def _duck(call: ast.Call, scope: Scope, r: Resolver, idx: RuleIndex) -> tuple[Rule, str, str, tuple[str, ...]] | None:
    """A call of the OpenAI client's shape (`x.chat.completions.create(...)`, `x.beta.threads.runs.create`) on
    an object this code receives but whose type the graph cannot see."""
    root, parts = _chain(call.func)
    if len(parts) < 2:
        return None
    mods = tuple(p for p in parts if p in PATH_MODIFIERS)
    clean = [p for p in parts if p != PATH_BETA and p not in PATH_MODIFIERS and p not in PATH_CALL_MODIFIERS]
    for i in range(len(clean) - 1):  # the longest method path first that a rule of the client names
        path = ".".join(clean[i:])
        rules = idx.duck.get(path)
        if not rules:
            continue
        lead = [p for p in parts[: len(parts) - len(clean[i:])] if p]
        how = _received(root, lead, scope, r)
        if how is None:
            return None
        rule = _pick(rules, call, scope, r)
        return (rule, path, how, mods) if rule is not None else None
    return None


class FileResult(BaseModel):
    """What the scan learned from one file; cached as JSON between runs."""

    findings: list[Finding] = Field(default_factory=list)
    skipped_reason: str | None = None
    parsed: bool = False
    exports: dict[str, dict[str, Any]] = Field(default_factory=dict)
    params: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    stars: list[str] = Field(default_factory=list)


_PY2 = re.compile(r"^[ \t]*(?:print[ \t]+[^(\s=]|exec[ \t]+[\"']|except[ \t]+[\w.]+[ \t]*,[ \t]*\w+[ \t]*:)",
                  re.MULTILINE)


def _syntax_reason(se: SyntaxError, source: str) -> str:
    """One line: where, a Python 2 hint when the source looks like it, and the parser's words (shortened)."""
    line, col, msg = se.lineno or 0, max((se.offset or 1) - 1, 0), str(se.msg)
    if len(msg) > 90:
        msg = msg[:87] + "..."
    hint = " (Python 2 code?)" if _PY2.search(source) else ""
    return f"syntax error at line {line}, column {col}{hint}: {msg}"


def parse(source: str) -> ast.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences in the scanned code are not our warnings
        return ast.parse(source)


def _char_column(line: str, byte_col: int) -> int:
    """`ast` columns count UTF-8 bytes; the report counts characters."""
    if line.isascii():
        return byte_col
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def analyze_source(source: str, relpath: str, ruleset: RuleSet, project_index: Any = None,
                   line_map: Any = None) -> FileResult:
    """Findings of one Python source. `project_index` is a ProjectContext for this file, or an object with
    `context_for(relpath)` (the scan's ProjectIndex); `line_map(line) -> (cell, line)` maps notebook lines."""
    project = project_index.context_for(relpath) if hasattr(project_index, "context_for") else project_index
    project = project or ProjectContext()
    try:
        module = parse(source)
    except SyntaxError as e:
        return FileResult(skipped_reason=_syntax_reason(e, source))
    except (RecursionError, MemoryError, ValueError) as e:
        return FileResult(skipped_reason=f"cannot parse: {type(e).__name__}")
    hits, collected, resolver = analyze_module(module, ruleset, project, relpath=relpath)
    lines = source.splitlines()
    findings = []
    for h in hits:
        src_line = lines[h.line - 1] if 0 < h.line <= len(lines) else ""
        column = _char_column(src_line, h.column)
        cell, line = line_map(h.line) if line_map else (None, h.line)
        findings.append(Finding(
            path=relpath, line=line, column=column, cell=cell, api=h.api, category=h.category,
            features=h.features, level=h.level, rule=h.rule.id,
            deepseek=DeepSeekOffer(**(h.offer or h.rule.deepseek).model_dump()), message=h.rule.message or h.rule.title,
            code=redact(src_line.strip()), rewrite=h.rule.rewrite,
            via=h.extra.get("via", []), origin=h.extra.get("origin", "openai"),
            confidence=h.extra.get("confidence", CONFIDENCE_DIRECT),
        ))
    exports = exports_of(collected, resolver, project.module) if project.module else {}
    params = param_flows(collected, resolver) if project.module else {}
    stars = sorted(n for n in [*collected.module.bindings, *collected.module.functions, *collected.module.classes,
                               *collected.module.imports] if not n.startswith("_") and not n.endswith("[]"))
    return FileResult(findings=findings, parsed=True, exports=exports, params=params, stars=stars)
