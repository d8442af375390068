"""Resolution layer of the API graph: local names → qualified names, and which expressions hold SDK objects.

One stdlib-`ast` traversal (`collect`) records, per scope, the imports (star and relative included), the name
bindings, parameter annotations, functions with their return expressions, classes with their `self.x`
attributes, attributes assigned on other objects (`st.session_state.client = OpenAI()`), subscript stores
(`self._clients[key] = OpenAI()`) and every call site of a project function; it also lists every call,
attribute assignment and name/attribute reference.

Evaluation (`Resolver.eval`) walks the graph lazily and flow-insensitively: nodes are "the `openai` module",
"its member `OpenAI`", "the return of calling it", "member `chat` of that"…; edges are imports, assignments,
attributes, function returns (factories, lazy globals, `lru_cache`), parameters (bound from every call site
in the file, and from other modules through `ProjectContext.params`), class attributes and `self.*`, bound
methods kept in variables. Each tracked object carries `via`: the steps that led to it, for the report.
Cross-module edges come from `exports_of` (what a module exports, what it passes to other modules'
functions), iterated to a fixed point by the engine.
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass, field
from typing import Any

# Attribute segments that do not change which API is called; they are dropped from the matched path.
PATH_BETA = "beta"
PATH_MODIFIERS = {"with_raw_response": "raw_response", "with_streaming_response": "raw_response"}
PATH_CALL_MODIFIERS = {"with_options", "copy"}
# Modules that act as a client object themselves (the v1 module-level client: `openai.chat.completions.create`).
MODULE_RECEIVERS = {"openai": "openai.client"}
MAX_VIA = 6
# Offramp's own client (`from offramp.adapters import OpenAI`, and the pre-0.2 top-level `adapters` package):
# its classes are the SDK's, routed by offramp.toml; findings through it get origin "offramp".
OFFRAMP_MODULES = ("offramp.adapters.clients.", "offramp.adapters.", "adapters.clients.", "adapters.")
OFFRAMP_FACTORIES = {"client": False, "async_client": True}
# Private modules of the SDK whose names are the public ones (`openai._exceptions.RateLimitError`).
SDK_ALIASES = {"openai._exceptions.": "openai.", "openai._client.": "openai.", "openai.lib.azure.": "openai.",
               "openai.error.": "openai.error."}


# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class Obj:
    """A tracked object (an SDK client, a wrapper), the attribute path taken from it so far, and how it was
    reached (`via`, one human-readable step each)."""

    type: str
    is_async: bool = False
    path: tuple[str, ...] = ()
    modifiers: tuple[str, ...] = ()
    module_client: bool = False
    via: tuple[str, ...] = ()
    origin: str = "openai"

    def extend(self, attr: str) -> Obj:
        if attr == PATH_BETA:
            return self
        if attr in PATH_MODIFIERS:
            return dataclasses.replace(self, modifiers=(*self.modifiers, attr))
        return dataclasses.replace(self, path=(*self.path, attr))

    def step(self, how: str) -> Obj:
        if not how or how in self.via or len(self.via) >= MAX_VIA:
            return self
        return dataclasses.replace(self, via=(*self.via, how))

    def to_export(self) -> dict[str, Any]:
        return {"kind": "obj", "type": self.type, "is_async": self.is_async, "path": list(self.path),
                "module_client": self.module_client, "via": list(self.via), "origin": self.origin}


@dataclass(frozen=True)
class QName:
    """A qualified name reached through imports (`oa.ChatCompletion` → `openai.ChatCompletion`)."""

    name: str
    via: tuple[str, ...] = ()
    origin: str = "openai"


@dataclass(frozen=True)
class Factory:
    """Something that returns a tracked object when called (a factory imported from a project module)."""

    obj: Obj


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(eq=False)
class FunctionInfo:
    name: str
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    scope: Scope
    cls: ClassInfo | None = None
    returns: list[ast.expr] = field(default_factory=list)
    qualname: str = ""


@dataclass(eq=False)
class ClassInfo:
    name: str
    scope: Scope
    attrs: dict[str, list[tuple[ast.expr, Scope]]] = field(default_factory=dict)
    annotations: dict[str, ast.expr] = field(default_factory=dict)
    bases: list[ast.expr] = field(default_factory=list)
    line: int = 0


@dataclass(frozen=True)
class ExtClass:
    """A class exported by another project module: its tracked attributes and factory methods."""

    attrs: tuple[tuple[str, Obj], ...]
    methods: tuple[tuple[str, Obj], ...] = ()

    def get(self, name: str) -> Obj | Factory | None:
        got = dict(self.attrs).get(name)
        if got is not None:
            return got
        m = dict(self.methods).get(name)
        return Factory(m) if m is not None else None


@dataclass(frozen=True)
class Instance:
    cls: ClassInfo | ExtClass


@dataclass(frozen=True)
class BoundMethod:
    func: FunctionInfo


Value = Obj | QName | Factory | Const | FunctionInfo | ClassInfo | Instance | BoundMethod | ExtClass


# ---------------------------------------------------------------- scopes


@dataclass(eq=False)
class Scope:
    kind: str  # module | class | function
    parent: Scope | None
    cls: ClassInfo | None = None  # for a class body: the class; for a method: its class
    self_name: str | None = None  # first parameter of a method
    imports: dict[str, str] = field(default_factory=dict)
    bindings: dict[str, list[ast.expr]] = field(default_factory=dict)
    annotations: dict[str, ast.expr] = field(default_factory=dict)
    functions: dict[str, FunctionInfo] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    params: list[str] = field(default_factory=list)
    fn: FunctionInfo | None = None
    star: list[str] = field(default_factory=list)  # modules imported with `from m import *`
    globals_: set[str] = field(default_factory=set)

    def chain(self):
        """This scope, then the enclosing ones Python would look in (class bodies are skipped from methods)."""
        s: Scope | None = self
        first = True
        while s is not None:
            if first or s.kind != "class":
                yield s
            first = False
            s = s.parent


@dataclass
class Collected:
    """What one traversal found: the module scope, and the nodes the matcher looks at, with their scope."""

    module: Scope
    calls: list[tuple[ast.Call, Scope]] = field(default_factory=list)
    awaited: set[int] = field(default_factory=set)
    assigns: list[tuple[ast.Attribute, Scope]] = field(default_factory=list)
    references: list[tuple[ast.expr, Scope]] = field(default_factory=list)
    # dotted target of an attribute assignment on something that is not `self` → (value, scope)
    attr_stores: dict[str, list[tuple[ast.expr, Scope]]] = field(default_factory=dict)
    imports_sdk: set[str] = field(default_factory=set)  # top-level modules imported absolutely
    relpath: str = ""


def dotted(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _store_key(node: ast.expr) -> str | None:
    """`a.b.c` → "a.b.c"; `a.b["k"]` → "a.b[]"."""
    if isinstance(node, ast.Subscript):
        base = _store_key(node.value)
        return f"{base}[]" if base else None
    if isinstance(node, ast.Attribute):
        base = _store_key(node.value)
        return f"{base}.{node.attr}" if base else None
    if isinstance(node, ast.Name):
        return node.id
    return None


_FUNC = (ast.FunctionDef, ast.AsyncFunctionDef)


class _Collector:
    def __init__(self, package: str, module: str = "") -> None:
        self.package = package
        self.module = module
        self.scope = Scope("module", None)
        self.out = Collected(self.scope)
        self._ref_done: set[int] = set()

    # traversal ------------------------------------------------------
    def walk(self, node: ast.AST) -> None:
        m = getattr(self, f"visit_{type(node).__name__}", None)
        if m is not None and m(node) is False:
            return
        for child in ast.iter_child_nodes(node):
            self.walk(child)

    def _walk_all(self, nodes) -> None:
        for n in nodes:
            if n is not None:
                self.walk(n)

    # imports -------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> bool:
        for alias in node.names:
            full = alias.name
            self.out.imports_sdk.add(full.split(".")[0])
            if alias.asname:
                self.scope.imports[alias.asname] = full
            else:
                top = full.split(".")[0]
                self.scope.imports.setdefault(top, top)
        return False

    def visit_ImportFrom(self, node: ast.ImportFrom) -> bool:
        mod = node.module or ""
        if node.level:
            parts = self.package.split(".") if self.package else []
            up = node.level - 1
            base = parts[: len(parts) - up] if up <= len(parts) else []
            mod = ".".join([*base, mod] if mod else base)
        elif mod:
            self.out.imports_sdk.add(mod.split(".")[0])
        if not mod:
            return False
        for alias in node.names:
            if alias.name == "*":
                self.scope.star.append(mod)
                continue
            self.scope.imports[alias.asname or alias.name] = f"{mod}.{alias.name}"
        return False

    # scopes ----------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> bool:
        self._walk_all(node.decorator_list)
        self._walk_all(node.bases)
        self._walk_all(k.value for k in node.keywords)
        scope = Scope("class", self.scope)
        info = ClassInfo(node.name, scope, bases=list(node.bases), line=node.lineno)
        scope.cls = info
        self.scope.classes[node.name] = info
        outer, self.scope = self.scope, scope
        self._walk_all(node.body)
        self.scope = outer
        return False

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, name: str) -> FunctionInfo:
        outer = self.scope
        scope = Scope("function", outer)
        qual = name if outer.kind == "module" else (f"{outer.cls.name}.{name}" if outer.cls else name)
        info = FunctionInfo(name, node, scope, qualname=qual)
        scope.fn = info
        a = node.args
        params = [*a.posonlyargs, *a.args]
        if outer.kind == "class" and not isinstance(node, ast.Lambda):
            info.cls = outer.cls
            scope.cls = outer.cls
            static = any(dotted(d) == "staticmethod" for d in node.decorator_list)
            if params and not static:
                scope.self_name = params[0].arg
        allp = [*params, *a.kwonlyargs]
        scope.params = [p.arg for p in allp]
        for p in allp:
            if p.annotation is not None:
                scope.annotations[p.arg] = p.annotation
        defaults = list(a.defaults)
        for p, d in zip(params[len(params) - len(defaults):], defaults, strict=False):
            scope.bindings.setdefault(p.arg, []).append(d)
        for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=False):
            if d is not None:
                scope.bindings.setdefault(p.arg, []).append(d)
        return info

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        self._walk_all(node.decorator_list)
        self._walk_all(node.args.defaults)
        self._walk_all(node.args.kw_defaults)
        info = self._function(node, node.name)
        self.scope.functions[node.name] = info
        outer, self.scope = self.scope, info.scope
        for p in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            if p.annotation is not None:
                self._annotation_refs(p.annotation)
        if node.returns is not None:
            self._annotation_refs(node.returns)
        self._walk_all(node.body)
        self.scope = outer
        return False

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Lambda(self, node: ast.Lambda) -> bool:
        info = self._function(node, "<lambda>")
        info.returns.append(node.body)
        outer, self.scope = self.scope, info.scope
        self.walk(node.body)
        self.scope = outer
        return False

    def visit_Global(self, node: ast.Global) -> None:
        self.scope.globals_.update(node.names)

    def visit_Return(self, node: ast.Return) -> None:
        fn = self.scope.fn
        if fn is not None and node.value is not None and self.scope.kind == "function":
            fn.returns.append(node.value)

    def visit_Yield(self, node: ast.Yield) -> None:
        self.visit_Return(node)  # type: ignore[arg-type]

    # bindings ----------------------------------------------------------
    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            scope = self.scope
            if target.id in scope.globals_:
                while scope.parent is not None:
                    scope = scope.parent
            scope.bindings.setdefault(target.id, []).append(value)
        elif isinstance(target, ast.Tuple | ast.List):
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts, strict=True):
                    self._bind(t, v)
            else:
                for i, t in enumerate(target.elts):
                    self._bind(t, ast.Subscript(value=value, slice=ast.Constant(i), ctx=ast.Load()))
        elif isinstance(target, ast.Starred):
            self._bind(target.value, value)
        elif isinstance(target, ast.Attribute):
            self.out.assigns.append((target, self.scope))
            base = target.value
            if isinstance(base, ast.Name) and self.scope.cls is not None and base.id in (self.scope.self_name, "cls"):
                self.scope.cls.attrs.setdefault(target.attr, []).append((value, self.scope))
            else:
                key = _store_key(target)
                if key:
                    self.out.attr_stores.setdefault(key, []).append((value, self.scope))
        elif isinstance(target, ast.Subscript):
            key = _store_key(target)
            base = target.value
            if isinstance(base, ast.Name):
                self.scope.bindings.setdefault(f"{base.id}[]", []).append(
                    _item(target.slice, value))
            elif (isinstance(base, ast.Attribute) and isinstance(base.value, ast.Name) and self.scope.cls is not None
                  and base.value.id in (self.scope.self_name, "cls")):
                self.scope.cls.attrs.setdefault(f"{base.attr}[]", []).append((_item(target.slice, value), self.scope))
            elif key:
                self.out.attr_stores.setdefault(key, []).append((value, self.scope))

    def visit_Assign(self, node: ast.Assign) -> None:
        for t in node.targets:
            self._bind(t, node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        t = node.target
        self._annotation_refs(node.annotation)
        if isinstance(t, ast.Name):
            self.scope.annotations[t.id] = node.annotation
            if self.scope.kind == "class" and self.scope.cls is not None:
                self.scope.cls.annotations[t.id] = node.annotation
        elif (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and self.scope.cls is not None
              and t.value.id == self.scope.self_name):
            self.scope.cls.annotations.setdefault(t.attr, node.annotation)
        if node.value is not None:
            self._bind(t, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self.scope.bindings.setdefault(node.target.id, []).append(node.value)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._bind(node.target, node.value)

    def visit_withitem(self, node: ast.withitem) -> None:
        if node.optional_vars is not None:
            self._bind(node.optional_vars, node.context_expr)

    def visit_For(self, node: ast.For) -> None:
        self._bind(node.target, ast.Subscript(value=node.iter, slice=ast.Constant(0), ctx=ast.Load()))

    visit_AsyncFor = visit_For

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._bind(node.target, ast.Subscript(value=node.iter, slice=ast.Constant(0), ctx=ast.Load()))

    # uses --------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        self.out.calls.append((node, self.scope))
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if func.attr in ("append", "extend", "insert") and node.args:
                self.scope.bindings.setdefault(func.value.id, []).append(node.args[-1])
            elif func.attr in ("update", "setdefault"):
                if func.attr == "update":
                    for a in node.args:
                        self.scope.bindings.setdefault(f"{func.value.id}[]", []).append(a)
                    if node.keywords:
                        self.scope.bindings.setdefault(f"{func.value.id}[]", []).append(
                            ast.Dict(keys=[ast.Constant(k.arg) if k.arg else None for k in node.keywords],
                                     values=[k.value for k in node.keywords]))
                elif len(node.args) == 2:
                    self.scope.bindings.setdefault(f"{func.value.id}[]", []).append(_item(*node.args))

    def visit_Await(self, node: ast.Await) -> None:
        if isinstance(node.value, ast.Call):
            self.out.awaited.add(id(node.value))

    def _annotation_refs(self, ann: ast.expr) -> None:
        for n in ast.walk(ann):
            if isinstance(n, ast.Attribute | ast.Name):
                self._reference(n)

    def _reference(self, expr: ast.expr) -> None:
        if id(expr) in self._ref_done:
            return
        self._ref_done.add(id(expr))
        self.out.references.append((expr, self.scope))

    def visit_Attribute(self, node: ast.Attribute) -> bool:
        # the longest chain is the reference (`openai.error.RateLimitError`, not `openai.error`)
        if isinstance(node.ctx, ast.Load):
            self._reference(node)
        inner: ast.expr = node.value
        while isinstance(inner, ast.Attribute):
            self._ref_done.add(id(inner))
            inner = inner.value
        if isinstance(inner, ast.Name):
            self._ref_done.add(id(inner))
        else:
            self.walk(inner)
        return False

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._reference(node)


def _item(key: ast.expr, value: ast.expr) -> ast.Dict:
    return ast.Dict(keys=[key], values=[value])


def collect(module: ast.Module, package: str = "", relpath: str = "") -> Collected:
    """One traversal of the module; `package` is the file's dotted package for relative imports."""
    c = _Collector(package)
    c.out.relpath = relpath
    c.walk(module)
    return c.out


# ---------------------------------------------------------------- evaluation


class ProjectContext:
    """What one file may know about the rest of the scanned project.

    ``shadowed``: top-level module names that resolve to a project module for this file (a local `openai.py`).
    ``exports``: qualified name → exported value descriptor (from `exports_of`) of project modules.
    ``params``: "function qualname" → {parameter name or index: object descriptor} passed by other modules.
    ``stars``: module → names it exports for `from module import *` (project modules only).
    """

    def __init__(self, module: str = "", package: str | None = None, shadowed: frozenset[str] = frozenset(),
                 exports: dict[str, dict[str, Any]] | None = None, relpath: str = "",
                 params: dict[str, dict[str, dict[str, Any]]] | None = None,
                 stars: dict[str, list[str]] | None = None) -> None:
        self.module = module
        self.package = module.rpartition(".")[0] if package is None else package
        self.shadowed = shadowed
        self.exports = exports or {}
        self.relpath = relpath or (module.replace(".", "/") + ".py" if module else "")
        self.params = params or {}
        self.stars = stars or {}

    def signature(self) -> str:
        import json

        return json.dumps([self.module, sorted(self.shadowed), self.exports, self.params, self.stars], sort_keys=True)


def value_from_export(desc: dict[str, Any]) -> Value | None:
    kind = desc.get("kind")
    if kind == "obj":
        return Obj(desc["type"], desc["is_async"], tuple(desc["path"]), (), desc.get("module_client", False),
                   tuple(desc.get("via", ())), desc.get("origin", "openai"))
    if kind == "factory":
        o = value_from_export(desc["obj"])
        return Factory(o) if isinstance(o, Obj) else None
    if kind == "const":
        return Const(desc["value"])
    if kind == "class":
        attrs = tuple((k, v) for k, d in desc["attrs"].items() if isinstance(v := value_from_export(d), Obj))
        methods = tuple((k, v) for k, d in desc.get("methods", {}).items() if isinstance(v := value_from_export(d), Obj))
        return ExtClass(attrs, methods)
    if kind == "qname":
        return QName(desc["name"], origin=desc.get("origin", "openai"))
    return None


class Resolver:
    """Evaluates expressions of one collected module to values (qualified names, tracked objects, constants).

    ``producers`` maps a qualified callable name (a constructor or a call rule with `produces`) to the object
    type it returns and whether that object is async; ``module_roots`` lists the first attribute names of the
    module-level client (`openai.chat` is the client's `chat`, `openai.ChatCompletion` is a 0.x name).
    """

    MAX_DEPTH = 24

    def __init__(self, collected: Collected, producers: dict[str, tuple[str, bool]],
                 module_roots: frozenset[str], project: ProjectContext | None = None) -> None:
        self.c = collected
        self.producers = producers
        self.module_roots = module_roots
        self.project = project or ProjectContext()
        self.rel = collected.relpath or self.project.relpath or "this file"
        self._active: set[tuple[int, int]] = set()
        self._memo: dict[tuple[int, int], Value | None] = {}
        self._lit_memo: dict[tuple[int, int], Any] = {}
        self._keep: list[ast.AST] = []
        self._sites: dict[int, list[tuple[ast.Call, Scope]]] | None = None
        self._building_sites = False
        self._cut = False
        self._cut_memo: dict[tuple[int, int], tuple[int, Value | None]] = {}

    # call sites ---------------------------------------------------------
    def call_sites(self, fn: FunctionInfo) -> list[tuple[ast.Call, Scope]]:
        """Every call of `fn` in this file (for a method: calls through an instance or `self`; for
        `__init__`: constructions of its class)."""
        if self._sites is None:
            if self._building_sites:
                return []
            self._building_sites = True
            sites: dict[int, list[tuple[ast.Call, Scope]]] = {}
            try:
                for call, scope in self.c.calls:
                    v = self.eval(call.func, scope)
                    target: FunctionInfo | None = None
                    if isinstance(v, FunctionInfo):
                        target = v
                    elif isinstance(v, BoundMethod):
                        target = v.func
                    elif isinstance(v, ClassInfo):
                        target = self._init_of(v)
                    if target is not None:
                        sites.setdefault(id(target), []).append((call, scope))
                    # functions handed over as arguments are called with unknown arguments: nothing to add
            finally:
                self._building_sites = False
            self._sites = sites
            self._memo.clear()  # values computed while sites were unknown may be incomplete
            self._cut_memo.clear()
        return self._sites.get(id(fn), [])

    def _init_of(self, cls: ClassInfo) -> FunctionInfo | None:
        f = cls.scope.functions.get("__init__")
        if f is not None:
            return f
        for b in cls.bases:
            v = self.eval(b, cls.scope.parent or cls.scope)
            if isinstance(v, ClassInfo) and v is not cls:
                return self._init_of(v)
        return None

    def _param_values(self, s: Scope, name: str, depth: int) -> Value | None:
        fn = s.fn
        if fn is None or isinstance(fn.node, ast.Lambda):
            return None
        params = s.params
        idx = params.index(name)
        offset = 1 if s.self_name else 0
        ext = dict(self.project.params.get(f"{self.project.module}.{fn.qualname}", {}))
        if fn.name == "__init__" and fn.cls is not None:
            ext.update(self.project.params.get(f"{self.project.module}.{fn.cls.name}", {}))
        if name in ext or str(idx - offset) in ext:
            v = value_from_export(ext.get(name) or ext[str(idx - offset)])
            if isinstance(v, Obj):
                return v.step(f"parameter {name} of {fn.qualname}() from another module")
        fallback: Value | None = None
        for call, expr, cscope in self.param_args(s, name):
            v = self.eval(expr, cscope, depth)
            if isinstance(v, Obj):
                return v.step(f"parameter {name} of {fn.qualname}() from the call at {self.rel}:{call.lineno}")
            if isinstance(v, Factory | Instance) and fallback is None:
                fallback = v
        return fallback

    def param_args(self, s: Scope, name: str) -> list[tuple[ast.Call, ast.expr, Scope]]:
        """The argument given for parameter `name` of the function of scope `s` at each of its call sites."""
        fn = s.fn
        if fn is None or isinstance(fn.node, ast.Lambda) or name not in s.params:
            return []
        idx = s.params.index(name)
        pos = idx - (1 if s.self_name else 0)
        out = []
        for call, cscope in self.call_sites(fn):
            expr = next((k.value for k in call.keywords if k.arg == name), None)
            if expr is None and 0 <= pos < len(call.args) and not any(
                    isinstance(a, ast.Starred) for a in call.args[:pos + 1]):
                expr = call.args[pos]
            if expr is not None:
                out.append((call, expr, cscope))
        return out

    # names --------------------------------------------------------------
    def lookup(self, name: str, scope: Scope) -> tuple[list[Value | ast.expr], Scope]:
        """Candidates for a bare name (imports, functions, classes, bound expressions, annotations) and the
        scope that binds it, where bound expressions are evaluated."""
        for s in scope.chain():
            if s.kind == "function" and name == s.self_name and s.cls is not None:
                return [Instance(s.cls)], s
            if name in s.imports:
                q = s.imports[name]
                if q.split(".")[0] in self.project.shadowed:
                    return [], s
                return [QName(q)], s
            if name in s.functions:
                return [s.functions[name]], s
            if name in s.classes:
                return [s.classes[name]], s
            found: list[Value | ast.expr] = list(s.bindings.get(name, ()))
            ann = s.annotations.get(name)
            if ann is not None:
                t = self.annotation_type(ann, s)
                if t is not None:
                    found.insert(0, t)
            if name in s.params:  # call sites first: a default (`client=None`) is the least informative value
                return [_Param(name), *found], s
            if found:
                return found, s
            if s.kind == "module":
                for mod in s.star:
                    if mod.split(".")[0] in self.project.shadowed:
                        continue
                    names = self.project.stars.get(mod)
                    if names is None:  # not a project module: the SDK's own names
                        if mod.split(".")[0] in MODULE_RECEIVERS or mod in self.producers_modules():
                            return [QName(f"{mod}.{name}", (f"star import from {mod}",))], s
                    elif name in names:
                        return [QName(f"{mod}.{name}", (f"star import from {mod}",))], s
        return [], scope

    _pm: frozenset[str] | None = None

    def producers_modules(self) -> frozenset[str]:
        if self._pm is None:
            self._pm = frozenset(n.rpartition(".")[0] for n in self.producers)
        return self._pm

    def sdk_roots(self) -> frozenset[str]:
        return frozenset({*MODULE_RECEIVERS, *(m.split(".")[0] for m in self.producers_modules())})

    def annotation_type(self, ann: ast.expr, scope: Scope) -> Obj | None:
        """`OpenAI`, `"OpenAI"`, `Optional[AsyncOpenAI]`, `OpenAI | None` → the tracked object type."""
        if isinstance(ann, ast.Constant) and isinstance(ann.value, str):
            try:
                ann = ast.parse(ann.value, mode="eval").body
            except (SyntaxError, ValueError):
                return None
            self._keep.append(ann)  # memo keys are node ids: keep the node alive
        if isinstance(ann, ast.BinOp):
            return self.annotation_type(ann.left, scope) or self.annotation_type(ann.right, scope)
        if isinstance(ann, ast.Subscript):
            sl = ann.slice
            for el in (sl.elts if isinstance(sl, ast.Tuple) else [sl]):
                t = self.annotation_type(el, scope)
                if t is not None:
                    return t
            return None
        v = self.eval(ann, scope)
        if isinstance(v, QName) and v.name in self.producers:
            typ, is_async = self.producers[v.name]
            return Obj(typ, is_async)
        if isinstance(v, Obj) and not v.path:
            return v
        return None

    # expressions --------------------------------------------------------
    def eval(self, expr: ast.expr, scope: Scope, depth: int = 0) -> Value | None:
        key = (id(expr), id(scope))
        if key in self._memo:
            return self._memo[key]
        cut_at = self._cut_memo.get(key)
        if cut_at is not None and cut_at[0] <= depth:  # cut short before with at least this much budget left
            self._cut = True
            return cut_at[1]
        if depth > self.MAX_DEPTH:
            self._cut = True
            return None
        if key in self._active:
            return None
        self._active.add(key)
        outer, self._cut = self._cut, False
        try:
            v = self._eval(expr, scope, depth + 1)
        finally:
            self._active.discard(key)
        if not self._cut:
            self._memo[key] = v  # within a cycle this may miss a value; bounded work matters more
        else:  # cut short by the depth bound: recomputed only when asked again with more budget (polynomial)
            self._cut_memo[key] = (depth, v)
        self._cut = self._cut or outer
        return v

    def _first(self, cands: list[Any], scope: Scope, depth: int) -> Value | None:
        fallback: Value | None = None
        for cand in cands:
            if isinstance(cand, _Param):
                v = self._param_values(scope, cand.name, depth)
            else:
                v = self.eval(cand, scope, depth) if isinstance(cand, ast.AST) else cand
            if isinstance(v, Obj | Factory):
                return v
            if v is not None and fallback is None:
                fallback = v
        return fallback

    def _eval(self, expr: ast.expr, scope: Scope, depth: int) -> Value | None:
        if isinstance(expr, ast.Name):
            cands, owner = self.lookup(expr.id, scope)
            return self._qname_value(self._first(cands, owner, depth))
        if isinstance(expr, ast.Attribute):
            base = self.eval(expr.value, scope, depth)
            v = self._attr(base, expr.attr, depth)
            if not isinstance(v, Obj | Factory) and not isinstance(base, Obj) and self.c.attr_stores:
                # an attribute set on some other object (`st.session_state.client = OpenAI()`, `app.state.llm`)
                st = self._stored(_store_key(expr), depth)
                if st is not None:
                    return st
            return v
        if isinstance(expr, ast.Call):
            return self.call_result(self.eval(expr.func, scope, depth), expr, scope, depth)
        if isinstance(expr, ast.Await):
            return self.eval(expr.value, scope, depth)
        if isinstance(expr, ast.BoolOp):
            return self._first(list(expr.values), scope, depth)
        if isinstance(expr, ast.IfExp):
            return self._first([expr.body, expr.orelse], scope, depth)
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str | int | float) \
                and not isinstance(expr.value, bool):
            return Const(expr.value)
        if isinstance(expr, ast.Subscript):
            return self._subscript(expr, scope, depth)
        if isinstance(expr, ast.NamedExpr):
            return self.eval(expr.value, scope, depth)
        if isinstance(expr, ast.Starred):
            return self.eval(expr.value, scope, depth)
        if isinstance(expr, ast.Lambda):
            return None
        return None

    def _subscript(self, expr: ast.Subscript, scope: Scope, depth: int) -> Value | None:
        """`clients[key]`, `self._clients[k]`, `(a, b)[0]`, `{"x": OpenAI()}["x"]`, `for c in clients`."""
        base = expr.value
        if isinstance(base, ast.Dict):
            return self._first([v for v in base.values if v is not None], scope, depth)
        if isinstance(base, ast.List | ast.Tuple | ast.Set):
            return self._first([e for e in base.elts if not isinstance(e, ast.Starred)], scope, depth)
        cands: list[Any] = []
        owner = scope
        if isinstance(base, ast.Name):
            cands, owner = self.lookup(f"{base.id}[]", scope)
            items = [v for c in cands if isinstance(c, ast.Dict) for v in c.values if v is not None]
            got = self._first(items, owner, depth)
            if isinstance(got, Obj | Factory):
                return got
        b = self.eval(base, scope, depth)
        if isinstance(b, Instance | ClassInfo):
            cls = b.cls if isinstance(b, Instance) else b
            if isinstance(base, ast.Attribute) and isinstance(cls, ClassInfo):
                pass
        if isinstance(base, ast.Attribute):
            inner = self.eval(base.value, scope, depth)
            if isinstance(inner, Instance) and isinstance(inner.cls, ClassInfo):
                for e, s in inner.cls.attrs.get(f"{base.attr}[]", ()):
                    v = self._first([x for x in e.values if x is not None] if isinstance(e, ast.Dict) else [e],
                                    s, depth)
                    if isinstance(v, Obj):
                        return v.step(f"attribute self.{base.attr}[...] set at {self.rel}:{e.lineno}"
                                      if hasattr(e, "lineno") else "")
            st = self._stored(_store_key(expr), depth)
            if st is not None:
                return st
        # a literal container bound to a name: its elements
        if isinstance(base, ast.Name):
            for c in self.lookup(base.id, scope)[0]:
                if isinstance(c, ast.Dict | ast.List | ast.Tuple):
                    tmp = ast.Subscript(value=c, slice=expr.slice, ctx=ast.Load())
                    self._keep.append(tmp)  # memo keys are node ids: keep the node alive
                    got = self._subscript(tmp, owner, depth)
                    if got is not None:
                        return got
        if isinstance(b, Obj):  # `client.models.list()[0]`, a stream's chunk: not an SDK object
            return None
        return None

    def _stored(self, key: str | None, depth: int) -> Value | None:
        """Attributes assigned on objects that are not `self` (`st.session_state.client = OpenAI()`)."""
        if not key:
            return None
        found = self.c.attr_stores.get(key)
        if not found:
            return None
        for e, s in found:
            v = self.eval(e, s, depth)
            if isinstance(v, Obj):
                return v.step(f"attribute {key} set at {self.rel}:{e.lineno}")
            if isinstance(v, Factory | Instance):
                return v
        return None

    def _qname_value(self, v: Value | None) -> Value | None:
        if isinstance(v, QName) and v.origin == "openai":
            for prefix in OFFRAMP_MODULES:
                if v.name.startswith(prefix) and prefix.split(".")[0] not in self.project.shadowed:
                    rest = v.name[len(prefix):]
                    if rest in OFFRAMP_FACTORIES:
                        return Factory(Obj(MODULE_RECEIVERS["openai"], OFFRAMP_FACTORIES[rest],
                                           via=(f"{prefix}{rest}() (Offramp's client)",), origin="offramp"))
                    v = QName(f"openai.{rest}", (*v.via, f"{prefix}{rest.split('.')[0]} (Offramp's client)"),
                              "offramp")
                    break
        if isinstance(v, QName) and v.name.startswith("openai._"):
            for old, new in SDK_ALIASES.items():
                if v.name.startswith(old) and v.name.count(".") == old.count("."):
                    v = QName(new + v.name[len(old):], v.via, v.origin)
                    break
        if isinstance(v, QName):
            exp = self.project.exports.get(v.name)
            if exp is not None:
                got = value_from_export(exp)
                if isinstance(got, Obj):
                    return got.step(f"imported {v.name}")
                return got or v
            root, _, rest = v.name.partition(".")
            if root in MODULE_RECEIVERS and rest and rest.split(".")[0] in self.module_roots:
                obj: Obj = Obj(MODULE_RECEIVERS[root], module_client=True, via=v.via, origin=v.origin)
                for part in rest.split("."):
                    obj = obj.extend(part)
                return obj
        return v

    def _attr(self, base: Value | None, attr: str, depth: int) -> Value | None:
        if isinstance(base, QName):
            return self._qname_value(QName(f"{base.name}.{attr}", base.via, base.origin))
        if isinstance(base, Obj):
            return base.extend(attr)
        if isinstance(base, Instance | ClassInfo):
            cls = base.cls if isinstance(base, Instance) else base
            if isinstance(cls, ExtClass):
                return cls.get(attr)
            return self._class_attr(cls, attr, depth, set())
        if isinstance(base, ExtClass):
            return base.get(attr)
        return None

    def _class_attr(self, cls: ClassInfo, attr: str, depth: int, seen: set[int]) -> Value | None:
        if id(cls) in seen:
            return None
        seen.add(id(cls))
        if attr in cls.attrs:
            found = cls.attrs[attr]
            fallback: Value | None = None
            for e, s in found:
                v = self.eval(e, s, depth)
                if isinstance(v, Obj):
                    return v.step(f"attribute self.{attr} of {cls.name} set at {self.rel}:{e.lineno}")
                if isinstance(v, Factory):
                    return v
                if v is not None and fallback is None:
                    fallback = v
            if fallback is not None:
                return fallback
        ann = cls.annotations.get(attr)
        if ann is not None:
            t = self.annotation_type(ann, cls.scope)
            if t is not None:
                return t
        if attr in cls.scope.functions:
            fn = cls.scope.functions[attr]
            if any(dotted(d) in ("property", "cached_property", "functools.cached_property")
                   for d in getattr(fn.node, "decorator_list", ())):
                got = self.function_returns(fn, depth)
                return got if got is not None else self._first(list(fn.returns), fn.scope, depth)
            return BoundMethod(fn)
        if attr in cls.scope.bindings:
            return self._first(list(cls.scope.bindings[attr]), cls.scope, depth)
        for b in cls.bases:
            bv = self.eval(b, cls.scope.parent or cls.scope, depth)
            if isinstance(bv, ClassInfo):
                got = self._class_attr(bv, attr, depth, seen)
                if got is not None:
                    return got
            elif isinstance(bv, ExtClass):
                got2 = bv.get(attr)
                if got2 is not None:
                    return got2
        return None

    def call_result(self, callee: Value | None, call: ast.Call | None, scope: Scope, depth: int = 0) -> Value | None:
        """What calling `callee` returns, when that is a tracked object (or a project class instance)."""
        if isinstance(callee, QName) and callee.name in self.producers:
            typ, is_async = self.producers[callee.name]
            if call is not None and not is_async:
                for arg in [*call.args, *(k.value for k in call.keywords)]:
                    v = self.eval(arg, scope, depth)
                    if isinstance(v, Obj) and v.is_async:
                        is_async = True
            return Obj(typ, is_async, via=callee.via, origin=callee.origin)
        if isinstance(callee, QName) and call is not None and callee.name in PASSTHROUGH and call.args:
            # functools.partial(f, ...), asgiref's sync_to_async(f), asyncio.to_thread(f, ...)
            return self.eval(call.args[0], scope, depth)
        if isinstance(callee, Factory):
            return callee.obj
        if isinstance(callee, Obj) and callee.path and callee.path[-1] in PATH_CALL_MODIFIERS:
            return dataclasses.replace(callee, path=callee.path[:-1], modifiers=(*callee.modifiers, callee.path[-1]))
        if isinstance(callee, ClassInfo):
            base = self.producer_base(callee)
            if base is not None:  # a project subclass of an SDK or wrapper class: an object of that type
                return self.call_result(base, call, scope, depth)
        if isinstance(callee, ClassInfo | ExtClass):
            return Instance(callee)
        if isinstance(callee, FunctionInfo | BoundMethod):
            fn = callee if isinstance(callee, FunctionInfo) else callee.func
            v = self.function_returns(fn, depth)
            if isinstance(v, Obj):
                line = getattr(fn.node, "lineno", 0)
                return v.step(f"factory {fn.qualname}() in {self.rel}:{line}")
            return v
        return None

    def producer_base(self, cls: ClassInfo, seen: set[int] | None = None) -> QName | None:
        """The SDK or wrapper class a project class derives from (`class Wrapped(ChatOpenAI)`), as the QName
        of that class with a via step, or None."""
        seen = seen or set()
        if id(cls) in seen:
            return None
        seen.add(id(cls))
        for b in cls.bases:
            v = self.eval(b, cls.scope.parent or cls.scope)
            if isinstance(v, QName) and v.name in self.producers:
                return QName(v.name, (*v.via, f"subclass {cls.name} of {v.name} at {self.rel}:{cls.line}"), v.origin)
            if isinstance(v, ClassInfo):
                got = self.producer_base(v, seen)
                if got is not None:
                    return QName(got.name, (*got.via, f"subclass {cls.name} at {self.rel}:{cls.line}"), got.origin)
        return None

    def function_returns(self, fn: FunctionInfo, depth: int = 0) -> Value | None:
        returns = getattr(fn.node, "returns", None)
        if returns is not None:
            t = self.annotation_type(returns, fn.scope.parent or fn.scope)
            if t is not None:
                return t
        v = self._first(list(fn.returns), fn.scope, depth)
        return v if isinstance(v, Obj | Factory | Instance) else None

    def literal(self, expr: ast.expr, scope: Scope, depth: int = 0) -> Any:
        """The literal value of an expression, following names and project constants; `NOT_LITERAL` if unknown."""
        key = (id(expr), id(scope))
        if key in self._lit_memo:
            return self._lit_memo[key]
        if depth > 6:
            return NOT_LITERAL
        self._lit_memo[key] = NOT_LITERAL  # cycle guard while computing
        v = self._literal(expr, scope, depth)
        self._lit_memo[key] = v
        return v

    def _literal(self, expr: ast.expr, scope: Scope, depth: int) -> Any:
        if isinstance(expr, ast.Constant):
            return expr.value if not isinstance(expr.value, bytes) else NOT_LITERAL
        if isinstance(expr, ast.JoinedStr):
            return NOT_LITERAL
        if isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.USub):
            v = self.literal(expr.operand, scope, depth + 1)
            return -v if isinstance(v, int | float) else NOT_LITERAL
        if isinstance(expr, ast.Name):
            cands, owner = self.lookup(expr.id, scope)
            if owner.kind == "function" and expr.id in owner.params and depth < 4:
                # a parameter: what its call sites pass comes before its default (`tools=None`)
                got = [self.literal(a, cs, depth + 1) for _, a, cs in self.param_args(owner, expr.id)]
                if any(v is not None for v in got):
                    return next((v for v in got if v is not None and v is not NOT_LITERAL), NOT_LITERAL)
            for cand in cands:
                if isinstance(cand, ast.AST):
                    v = self.literal(cand, owner, depth + 1)  # type: ignore[arg-type]
                    if v is not NOT_LITERAL:
                        return v
                elif isinstance(v2 := self._qname_value(cand), Const):  # type: ignore[arg-type]
                    return v2.value
            return NOT_LITERAL
        if isinstance(expr, ast.Attribute):
            base = self.eval(expr.value, scope)
            v = self._attr(base, expr.attr, depth)
            if isinstance(v, Const):
                return v.value
            if isinstance(base, ClassInfo | Instance) and not isinstance(getattr(base, "cls", base), ExtClass):
                cls = base if isinstance(base, ClassInfo) else base.cls
                for e in cls.scope.bindings.get(expr.attr, ()):  # type: ignore[union-attr]
                    lv = self.literal(e, cls.scope, depth + 1)  # type: ignore[union-attr]
                    if lv is not NOT_LITERAL:
                        return lv
                for e, s in cls.attrs.get(expr.attr, ()):  # type: ignore[union-attr]
                    lv = self.literal(e, s, depth + 1)
                    if lv is not NOT_LITERAL:
                        return lv
            return NOT_LITERAL
        return NOT_LITERAL

    def follow(self, expr: ast.expr, scope: Scope, depth: int = 0, seen: set[int] | None = None):
        """Yield the expression and what its names are bound to (for looking inside message literals and
        keyword dicts): names, `x[...]` stores, helper functions' returns, attributes of `self`."""
        seen = set() if seen is None else seen
        if depth > 5 or id(expr) in seen:
            return
        seen.add(id(expr))
        if isinstance(expr, ast.Name):
            for nm in (expr.id, f"{expr.id}[]"):
                cands, owner = self.lookup(nm, scope)
                for cand in cands:
                    if isinstance(cand, ast.expr):
                        yield from self.follow(cand, owner, depth + 1, seen)
                    elif isinstance(cand, _Param) and depth < 4:
                        for _, a, cs in self.param_args(owner, cand.name):
                            yield from self.follow(a, cs, depth + 1, seen)
            return
        if isinstance(expr, ast.Attribute):
            base = self.eval(expr.value, scope)
            if isinstance(base, Instance) and isinstance(base.cls, ClassInfo):
                for e, s in base.cls.attrs.get(expr.attr, ()):
                    yield from self.follow(e, s, depth + 1, seen)
                for e in base.cls.scope.bindings.get(expr.attr, ()):
                    yield from self.follow(e, base.cls.scope, depth + 1, seen)
            yield expr, scope
            return
        if isinstance(expr, ast.Call):
            fn = self.eval(expr.func, scope)
            if isinstance(fn, FunctionInfo | BoundMethod):
                f = fn if isinstance(fn, FunctionInfo) else fn.func
                for r in f.returns:
                    yield from self.follow(r, f.scope, depth + 1, seen)
                if f.scope.bindings:  # a helper that builds and returns a local list
                    pass
            elif dotted(expr.func) == "dict":
                d = ast.Dict(keys=[ast.Constant(k.arg) if k.arg else None for k in expr.keywords],
                             values=[k.value for k in expr.keywords])
                self._keep.append(d)  # memo keys are node ids: keep the node alive
                yield d, scope
            for a in expr.args:
                yield from self.follow(a, scope, depth + 1, seen)
            return
        if isinstance(expr, ast.Await | ast.Starred):
            yield from self.follow(expr.value, scope, depth + 1, seen)
            return
        if isinstance(expr, ast.IfExp):
            yield from self.follow(expr.body, scope, depth + 1, seen)
            yield from self.follow(expr.orelse, scope, depth + 1, seen)
            return
        if isinstance(expr, ast.BoolOp):
            for v in expr.values:
                yield from self.follow(v, scope, depth + 1, seen)
            return
        yield expr, scope


PASSTHROUGH = frozenset({"functools.partial", "asgiref.sync.sync_to_async", "asyncio.to_thread",
                          "functools.lru_cache", "functools.cache"})


@dataclass(frozen=True)
class _Param:
    """An unannotated parameter: its value comes from the call sites."""

    name: str


class _NotLiteral:
    def __repr__(self) -> str:
        return "NOT_LITERAL"


NOT_LITERAL: Any = _NotLiteral()


def exports_of(collected: Collected, resolver: Resolver, module: str) -> dict[str, dict[str, Any]]:
    """Module-level names other project modules can import: tracked objects, factories, classes holding one.
    (Constants are read by `ProjectIndex.constants` without parsing.)"""
    out: dict[str, dict[str, Any]] = {}
    scope = collected.module
    rel = resolver.rel
    for name, fn in scope.functions.items():
        v = resolver.function_returns(fn)
        line = getattr(fn.node, "lineno", 0)
        if isinstance(v, Obj):
            out[f"{module}.{name}"] = {"kind": "factory", "obj": v.step(f"factory {name}() in {rel}:{line}").to_export()}
        elif isinstance(v, Factory):
            out[f"{module}.{name}"] = {"kind": "factory", "obj": v.obj.to_export()}
    for name, cls in scope.classes.items():
        base = resolver.producer_base(cls)
        if base is not None:  # a subclass of an SDK/wrapper class: importers construct (or annotate) that class
            out[f"{module}.{name}"] = {"kind": "qname", "name": base.name, "origin": base.origin}
            continue
        attrs: dict[str, Any] = {}
        methods: dict[str, Any] = {}
        for attr in [*cls.attrs, *cls.annotations]:
            if attr.endswith("[]"):
                continue
            v = resolver._attr(cls, attr, 0)
            if isinstance(v, Obj):
                attrs[attr] = v.to_export()
        for mname, fn in cls.scope.functions.items():
            if mname.startswith("__"):
                continue
            v = resolver.function_returns(fn)
            if isinstance(v, Obj):
                methods[mname] = v.step(f"factory {name}.{mname}() in {rel}:{getattr(fn.node, 'lineno', 0)}").to_export()
        if attrs or methods:
            out[f"{module}.{name}"] = {"kind": "class", "attrs": attrs, "methods": methods}
    names = set(scope.bindings) | set(scope.imports) | set(scope.annotations)
    for name in sorted(names):
        if name.endswith("[]"):
            continue
        node = ast.Name(id=name, ctx=ast.Load())
        resolver._keep.append(node)  # memo keys are node ids: keep the node alive
        v = resolver.eval(node, scope)
        if isinstance(v, Obj):
            out[f"{module}.{name}"] = v.to_export()
        elif isinstance(v, Factory):
            out[f"{module}.{name}"] = {"kind": "factory", "obj": v.obj.to_export()}
        elif isinstance(v, QName) and v.name.split(".")[0] in resolver.sdk_roots() \
                and v.name.split(".")[0] not in resolver.project.shadowed:
            # a re-export of an SDK name (`from openai import OpenAI` in a package __init__, or `import openai`
            # in the project's own `openai.py`)
            out[f"{module}.{name}"] = {"kind": "qname", "name": v.name}
    return out


def param_flows(collected: Collected, resolver: Resolver) -> dict[str, dict[str, dict[str, Any]]]:
    """Tracked objects this module passes to functions of other project modules:
    {"pkg.mod.func" or "pkg.mod.Class.__init__": {param name or position: object}} (the cross-module
    parameter edges of the graph)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    exports = resolver.project.exports
    for call, scope in collected.calls:
        if not call.args and not call.keywords:
            continue
        callee = resolver.eval(call.func, scope)
        if not isinstance(callee, QName) or callee.name in resolver.producers:
            continue
        target = callee.name
        if target.split(".")[0] in MODULE_RECEIVERS:
            continue
        known = exports.get(target)
        if known is not None and known.get("kind") == "class":
            target = f"{target}.__init__"
        entry: dict[str, dict[str, Any]] = {}
        for i, a in enumerate(call.args):
            if isinstance(a, ast.Starred):
                break
            v = resolver.eval(a, scope)
            if isinstance(v, Obj):
                entry[str(i)] = v.step(f"passed at {resolver.rel}:{call.lineno}").to_export()
        for k in call.keywords:
            if k.arg:
                v = resolver.eval(k.value, scope)
                if isinstance(v, Obj):
                    entry[k.arg] = v.step(f"passed at {resolver.rel}:{call.lineno}").to_export()
        if entry:
            out.setdefault(target, {}).update(entry)
    return out
