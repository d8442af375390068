"""Resolution layer: local names → qualified names, and which expressions hold tracked SDK objects.

One libcst traversal (`collect`) records, per scope, the imports, the name bindings, the parameter
annotations, the functions with their return expressions and the classes with their `self.x` attributes;
it also lists every call, attribute assignment and exception reference. Evaluation (`Resolver.eval`) is lazy
and flow-insensitive: a name has every value it is ever bound to in its scope. That is far cheaper than
libcst's QualifiedNameProvider (no whole-tree metadata) and, unlike it, follows objects: `client = OpenAI()`,
`self.client`, `client: OpenAI` parameters, factories (also imported from other modules of the project
through `ProjectContext`), `create = client.chat.completions.create` kept and called later.

`migrate rewrite` reuses this on the same CST: `collect(module)` then `Resolver(...).eval(node.func, scope)`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

# Attribute segments that do not change which API is called; they are dropped from the matched path.
PATH_BETA = "beta"
PATH_MODIFIERS = {"with_raw_response": "raw_response", "with_streaming_response": "raw_response"}
PATH_CALL_MODIFIERS = {"with_options", "copy"}
# Modules that act as a client object themselves (the v1 module-level client: `openai.chat.completions.create`).
MODULE_RECEIVERS = {"openai": "openai.client"}


# ---------------------------------------------------------------- values


@dataclass(frozen=True)
class Obj:
    """A tracked object (an SDK client, a wrapper) and the attribute path taken from it so far."""

    type: str
    is_async: bool = False
    path: tuple[str, ...] = ()
    modifiers: tuple[str, ...] = ()
    module_client: bool = False

    def extend(self, attr: str) -> Obj:
        if attr == PATH_BETA:
            return self
        if attr in PATH_MODIFIERS:
            return Obj(self.type, self.is_async, self.path, (*self.modifiers, attr), self.module_client)
        return Obj(self.type, self.is_async, (*self.path, attr), self.modifiers, self.module_client)

    def to_export(self) -> dict[str, Any]:
        return {"kind": "obj", "type": self.type, "is_async": self.is_async, "path": list(self.path),
                "module_client": self.module_client}


@dataclass(frozen=True)
class QName:
    """A qualified name reached through imports (`oa.ChatCompletion` → `openai.ChatCompletion`)."""

    name: str


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
    node: cst.FunctionDef
    scope: Scope
    cls: ClassInfo | None = None
    returns: list[cst.BaseExpression] = field(default_factory=list)


@dataclass(eq=False)
class ClassInfo:
    name: str
    scope: Scope
    attrs: dict[str, list[tuple[cst.BaseExpression, Scope]]] = field(default_factory=dict)
    annotations: dict[str, cst.BaseExpression] = field(default_factory=dict)


@dataclass(frozen=True)
class ExtClass:
    """A class exported by another project module: its tracked attributes and factory methods."""

    attrs: tuple[tuple[str, Obj], ...]

    def get(self, name: str) -> Obj | None:
        return dict(self.attrs).get(name)


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
    bindings: dict[str, list[cst.BaseExpression]] = field(default_factory=dict)
    annotations: dict[str, cst.BaseExpression] = field(default_factory=dict)
    functions: dict[str, FunctionInfo] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)
    params: set[str] = field(default_factory=set)

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
    calls: list[tuple[cst.Call, Scope]] = field(default_factory=list)
    awaited: set[int] = field(default_factory=set)
    assigns: list[tuple[cst.BaseExpression, Scope]] = field(default_factory=list)
    references: list[tuple[cst.BaseExpression, Scope]] = field(default_factory=list)
    # id(collected node) -> the innermost statement holding it: positions are then computed for those
    # statements alone, not the whole module (analyze.py)
    statement_of: dict[int, cst.CSTNode] = field(default_factory=dict)


def dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


_SKIP_FIELD = re.compile(
    r"^(whitespace|lpar|rpar|lbrace|rbrace|lbracket|rbracket|comma|semicolon|leading_lines|lines_after|header"
    r"|footer|trailing|colon|first_colon|second_colon|equal|dot|star$|newline|empty_lines|operator|relative"
    r"|asynchronous|comment|separator|posonly_ind)"
)
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(t: type) -> tuple[str, ...]:
    f = _FIELDS.get(t)
    if f is None:
        f = _FIELDS[t] = tuple(x.name for x in dataclasses.fields(t) if not _SKIP_FIELD.match(x.name))
    return f


class _Collector:
    """A visitor driven by `_walk`: libcst's own traversal rebuilds every node (visit-and-replace), which
    costs twice the parse; reading the dataclass fields directly, and skipping whitespace, does not."""

    def __init__(self, package: str) -> None:
        self.package = package  # dotted package of the file, for relative imports
        self.scope = Scope("module", None)
        self.out = Collected(self.scope)
        self._handlers: dict[type, tuple[Any, Any]] = {}
        self.unit: cst.CSTNode | None = None  # innermost statement being walked

    def walk(self, node: cst.CSTNode) -> None:
        t = type(node)
        h = self._handlers.get(t)
        if h is None:
            h = self._handlers[t] = (getattr(self, f"visit_{t.__name__}", None),
                                     getattr(self, f"leave_{t.__name__}", None),
                                     issubclass(t, cst.SimpleStatementLine | cst.BaseCompoundStatement))
        visit, leave, unit = h
        if unit:
            outer, self.unit = self.unit, node
        if visit is None or visit(node) is not False:
            for name in _fields(t):
                v = getattr(node, name)
                if isinstance(v, cst.CSTNode):
                    self.walk(v)
                elif type(v) is tuple or type(v) is list:
                    for x in v:
                        if isinstance(x, cst.CSTNode):
                            self.walk(x)
        if leave is not None:
            leave(node)
        if unit:
            self.unit = outer

    # imports -------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> bool:
        for alias in node.names:
            full = dotted(alias.name)
            if not full:
                continue
            if alias.asname and isinstance(alias.asname.name, cst.Name):
                self.scope.imports[alias.asname.name.value] = full
            else:
                top = full.split(".")[0]
                self.scope.imports.setdefault(top, top)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        mod = dotted(node.module) if node.module else ""
        if node.relative:
            parts = self.package.split(".") if self.package else []
            up = len(node.relative) - 1
            base = parts[: len(parts) - up] if up <= len(parts) else []
            mod = ".".join([*base, mod] if mod else base)
        if not mod or isinstance(node.names, cst.ImportStar):
            return False
        for alias in node.names:
            name = dotted(alias.name)
            if not name:
                continue
            local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            self.scope.imports[local] = f"{mod}.{name}"
        return False

    # scopes ----------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        scope = Scope("class", self.scope)
        info = ClassInfo(node.name.value, scope)
        scope.cls = info
        self.scope.classes[node.name.value] = info
        self.scope = scope

    def leave_ClassDef(self, node: cst.ClassDef) -> None:
        self.scope = self.scope.parent  # type: ignore[assignment]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        outer = self.scope
        scope = Scope("function", outer)
        info = FunctionInfo(node.name.value, node, scope)
        outer.functions[node.name.value] = info
        params = [*node.params.posonly_params, *node.params.params]
        if outer.kind == "class":
            info.cls = outer.cls
            scope.cls = outer.cls
            static = any(dotted(d.decorator) == "staticmethod" for d in node.decorators)
            if params and not static:
                scope.self_name = params[0].name.value
        for p in [*params, *node.params.kwonly_params]:
            scope.params.add(p.name.value)
            if p.annotation is not None:
                scope.annotations[p.name.value] = p.annotation.annotation
            if p.default is not None:
                scope.bindings.setdefault(p.name.value, []).append(p.default)
        self.scope = scope

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scope = self.scope.parent  # type: ignore[assignment]

    def visit_Return(self, node: cst.Return) -> None:
        fn = self._function()
        if fn is not None and node.value is not None:
            fn.returns.append(node.value)

    def _function(self) -> FunctionInfo | None:
        parent = self.scope.parent
        if self.scope.kind != "function" or parent is None:
            return None
        for f in parent.functions.values():
            if f.scope is self.scope:
                return f
        return None

    # bindings ----------------------------------------------------------
    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self.scope.bindings.setdefault(target.value, []).append(value)
        elif isinstance(target, cst.Attribute):
            self.out.assigns.append((target, self.scope))
            self.out.statement_of[id(target)] = self.unit  # type: ignore[assignment]
            base = target.value
            if isinstance(base, cst.Name) and self.scope.cls is not None and base.value in (
                self.scope.self_name, "cls"
            ):
                self.scope.cls.attrs.setdefault(target.attr.value, []).append((value, self.scope))

    def visit_Assign(self, node: cst.Assign) -> None:
        for t in node.targets:
            self._bind(t.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        t = node.target
        if isinstance(t, cst.Name):
            self.scope.annotations[t.value] = node.annotation.annotation
            if self.scope.kind == "class" and self.scope.cls is not None:
                self.scope.cls.annotations[t.value] = node.annotation.annotation
        elif (isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) and self.scope.cls is not None
              and t.value.value == self.scope.self_name):
            self.scope.cls.annotations.setdefault(t.attr.value, node.annotation.annotation)
        if node.value is not None:
            self._bind(t, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.target, cst.Name):
            self.scope.bindings.setdefault(node.target.value, []).append(node.value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind(node.asname.name, node.item)

    # uses --------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        self.out.calls.append((node, self.scope))
        self.out.statement_of[id(node)] = self.unit  # type: ignore[assignment]
        func = node.func
        if isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and node.args:
            if func.attr.value in ("append", "extend", "insert"):
                self.scope.bindings.setdefault(func.value.value, []).append(node.args[-1].value)
        if isinstance(func, cst.Name) and func.value in ("isinstance", "issubclass") and len(node.args) == 2:
            self._reference(node.args[1].value)

    def visit_Await(self, node: cst.Await) -> None:
        if isinstance(node.expression, cst.Call):
            self.out.awaited.add(id(node.expression))

    def _reference(self, expr: cst.BaseExpression | None) -> None:
        if isinstance(expr, cst.Tuple | cst.List):
            for el in expr.elements:
                self._reference(el.value)
        elif isinstance(expr, cst.Name | cst.Attribute):
            self.out.references.append((expr, self.scope))
            self.out.statement_of[id(expr)] = self.unit  # type: ignore[assignment]
        elif isinstance(expr, cst.Call):
            self._reference(expr.func)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self._reference(node.type)

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        self._reference(node.type)

    def visit_Raise(self, node: cst.Raise) -> None:
        self._reference(node.exc)


def collect(module: cst.Module, package: str = "") -> Collected:
    """One traversal of the module; `package` is the file's dotted package for relative imports."""
    c = _Collector(package)
    c.walk(module)
    return c.out


# ---------------------------------------------------------------- evaluation


class ProjectContext:
    """What one file may know about the rest of the scanned project.

    ``shadowed``: top-level module names that resolve to a project module for this file (a local `openai.py`).
    ``exports``: qualified name → exported value descriptor (from `exports_of`) of project modules.
    """

    def __init__(self, module: str = "", package: str | None = None, shadowed: frozenset[str] = frozenset(),
                 exports: dict[str, dict[str, Any]] | None = None) -> None:
        self.module = module
        self.package = module.rpartition(".")[0] if package is None else package
        self.shadowed = shadowed
        self.exports = exports or {}

    def signature(self) -> str:
        import json

        return json.dumps([self.module, sorted(self.shadowed), self.exports], sort_keys=True)


def value_from_export(desc: dict[str, Any]) -> Value | None:
    kind = desc.get("kind")
    if kind == "obj":
        return Obj(desc["type"], desc["is_async"], tuple(desc["path"]), (), desc.get("module_client", False))
    if kind == "factory":
        o = value_from_export(desc["obj"])
        return Factory(o) if isinstance(o, Obj) else None
    if kind == "const":
        return Const(desc["value"])
    if kind == "class":
        return ExtClass(tuple((k, v) for k, d in desc["attrs"].items() if isinstance(v := value_from_export(d), Obj)))
    return None


class Resolver:
    """Evaluates expressions of one collected module to values (qualified names, tracked objects, constants).

    ``producers`` maps a qualified callable name (a constructor or a call rule with `produces`) to the object
    type it returns and whether that object is async; ``module_roots`` lists the first attribute names of the
    module-level client (`openai.chat` is the client's `chat`, `openai.ChatCompletion` is a 0.x name).
    """

    MAX_DEPTH = 12

    def __init__(self, collected: Collected, producers: dict[str, tuple[str, bool]],
                 module_roots: frozenset[str], project: ProjectContext | None = None) -> None:
        self.c = collected
        self.producers = producers
        self.module_roots = module_roots
        self.project = project or ProjectContext()
        self._active: set[tuple[int, int]] = set()
        # Memoised per (node, scope): a name bound many times to expressions using itself would otherwise
        # be explored exponentially.
        self._memo: dict[tuple[int, int], Value | None] = {}
        self._lit_memo: dict[tuple[int, int], Any] = {}
        self._keep: list[cst.CSTNode] = []

    # names --------------------------------------------------------------
    def lookup(self, name: str, scope: Scope) -> tuple[list[Value | cst.BaseExpression], Scope]:
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
            found: list[Value | cst.BaseExpression] = list(s.bindings.get(name, ()))
            ann = s.annotations.get(name)
            if ann is not None:
                t = self.annotation_type(ann, s)
                if t is not None:
                    found.insert(0, t)
            if found:
                return found, s
            if name in s.params:  # an unannotated parameter hides outer names: its value is unknown
                return [], s
        return [], scope

    def annotation_type(self, ann: cst.BaseExpression, scope: Scope) -> Obj | None:
        """`OpenAI`, `"OpenAI"`, `Optional[AsyncOpenAI]`, `OpenAI | None` → the tracked object type."""
        if isinstance(ann, cst.SimpleString):
            try:
                ann = cst.parse_expression(ann.evaluated_value)  # type: ignore[arg-type]
            except Exception:
                return None
            self._keep.append(ann)  # memo keys are node ids: keep the node alive
        if isinstance(ann, cst.BinaryOperation):
            return self.annotation_type(ann.left, scope) or self.annotation_type(ann.right, scope)
        if isinstance(ann, cst.Subscript):
            for el in ann.slice:
                if isinstance(el.slice, cst.Index):
                    t = self.annotation_type(el.slice.value, scope)
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
    def eval(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> Value | None:
        key = (id(expr), id(scope))
        if key in self._memo:
            return self._memo[key]
        if depth > self.MAX_DEPTH or key in self._active:
            return None
        self._active.add(key)
        try:
            v = self._eval(expr, scope, depth + 1)
        finally:
            self._active.discard(key)
        self._memo[key] = v  # within a cycle this may miss a value; bounded work matters more
        return v

    def _first(self, cands: list[Any], scope: Scope, depth: int) -> Value | None:
        fallback: Value | None = None
        for cand in cands:
            v = self.eval(cand, scope, depth) if isinstance(cand, cst.BaseExpression) else cand
            if isinstance(v, Obj | Factory):
                return v
            if v is not None and fallback is None:
                fallback = v
        return fallback

    def _eval(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> Value | None:
        if isinstance(expr, cst.Name):
            cands, owner = self.lookup(expr.value, scope)
            return self._qname_value(self._first(cands, owner, depth))
        if isinstance(expr, cst.Attribute):
            base = self.eval(expr.value, scope, depth)
            return self._attr(base, expr.attr.value, depth)
        if isinstance(expr, cst.Call):
            return self.call_result(self.eval(expr.func, scope, depth), expr, scope, depth)
        if isinstance(expr, cst.Await):
            return self.eval(expr.expression, scope, depth)
        if isinstance(expr, cst.BooleanOperation):
            return self._first([expr.left, expr.right], scope, depth)
        if isinstance(expr, cst.IfExp):
            return self._first([expr.body, expr.orelse], scope, depth)
        if isinstance(expr, cst.SimpleString | cst.ConcatenatedString):
            return Const(expr.evaluated_value)
        if isinstance(expr, cst.Integer | cst.Float):
            return Const(expr.evaluated_value)
        return None

    def _qname_value(self, v: Value | None) -> Value | None:
        if isinstance(v, QName):
            exp = self.project.exports.get(v.name)
            if exp is not None:
                return value_from_export(exp) or v
            root, _, rest = v.name.partition(".")
            if root in MODULE_RECEIVERS and rest and rest.split(".")[0] in self.module_roots:
                obj: Obj = Obj(MODULE_RECEIVERS[root], module_client=True)
                for part in rest.split("."):
                    obj = obj.extend(part)
                return obj
        return v

    def _attr(self, base: Value | None, attr: str, depth: int) -> Value | None:
        if isinstance(base, QName):
            return self._qname_value(QName(f"{base.name}.{attr}"))
        if isinstance(base, Obj):
            return base.extend(attr)
        if isinstance(base, Instance | ClassInfo):
            cls = base.cls if isinstance(base, Instance) else base
            if isinstance(cls, ExtClass):
                return cls.get(attr)
            if attr in cls.attrs:
                found = [(e, s) for e, s in cls.attrs[attr]]
                for e, s in found:
                    v = self.eval(e, s, depth)
                    if isinstance(v, Obj | Factory):
                        return v
                for e, s in found:
                    v = self.eval(e, s, depth)
                    if v is not None:
                        return v
            ann = cls.annotations.get(attr)
            if ann is not None:
                t = self.annotation_type(ann, cls.scope)
                if t is not None:
                    return t
            if attr in cls.scope.functions:
                return BoundMethod(cls.scope.functions[attr])
            if attr in cls.scope.bindings:
                return self._first(list(cls.scope.bindings[attr]), cls.scope, depth)
        if isinstance(base, ExtClass):
            return base.get(attr)
        return None

    def call_result(self, callee: Value | None, call: cst.Call | None, scope: Scope, depth: int = 0) -> Value | None:
        """What calling `callee` returns, when that is a tracked object (or a project class instance)."""
        if isinstance(callee, QName) and callee.name in self.producers:
            typ, is_async = self.producers[callee.name]
            if call is not None and not is_async:
                for arg in call.args:
                    v = self.eval(arg.value, scope, depth)
                    if isinstance(v, Obj) and v.is_async:
                        is_async = True
            return Obj(typ, is_async)
        if isinstance(callee, Factory):
            return callee.obj
        if isinstance(callee, Obj) and callee.path and callee.path[-1] in PATH_CALL_MODIFIERS:
            return Obj(callee.type, callee.is_async, callee.path[:-1], (*callee.modifiers, callee.path[-1]),
                       callee.module_client)
        if isinstance(callee, ClassInfo | ExtClass):
            return Instance(callee)
        if isinstance(callee, FunctionInfo | BoundMethod):
            fn = callee if isinstance(callee, FunctionInfo) else callee.func
            return self.function_returns(fn, depth)
        return None

    def function_returns(self, fn: FunctionInfo, depth: int = 0) -> Value | None:
        if fn.node.returns is not None:
            t = self.annotation_type(fn.node.returns.annotation, fn.scope.parent or fn.scope)
            if t is not None:
                return t
        v = self._first(list(fn.returns), fn.scope, depth)
        return v if isinstance(v, Obj | Factory | Instance) else None

    def literal(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0) -> Any:
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

    def _literal(self, expr: cst.BaseExpression, scope: Scope, depth: int) -> Any:
        if isinstance(expr, cst.SimpleString | cst.ConcatenatedString):
            v = expr.evaluated_value
            return v if v is not None else NOT_LITERAL
        if isinstance(expr, cst.Integer | cst.Float):
            return expr.evaluated_value
        if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
            v = self.literal(expr.expression, scope, depth + 1)
            return -v if isinstance(v, int | float) else NOT_LITERAL
        if isinstance(expr, cst.Name):
            if expr.value in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[expr.value]
            cands, owner = self.lookup(expr.value, scope)
            for cand in cands:
                if isinstance(cand, cst.BaseExpression):
                    v = self.literal(cand, owner, depth + 1)
                    if v is not NOT_LITERAL:
                        return v
                elif isinstance(v2 := self._qname_value(cand), Const):
                    return v2.value
            return NOT_LITERAL
        if isinstance(expr, cst.Attribute):
            base = self.eval(expr.value, scope)
            v = self._attr(base, expr.attr.value, depth)
            if isinstance(v, Const):
                return v.value
            if isinstance(base, ClassInfo | Instance) and not isinstance(getattr(base, "cls", base), ExtClass):
                cls = base if isinstance(base, ClassInfo) else base.cls
                for e in cls.scope.bindings.get(expr.attr.value, ()):  # type: ignore[union-attr]
                    lv = self.literal(e, cls.scope, depth + 1)  # type: ignore[union-attr]
                    if lv is not NOT_LITERAL:
                        return lv
            return NOT_LITERAL
        return NOT_LITERAL

    def follow(self, expr: cst.BaseExpression, scope: Scope, depth: int = 0, seen: set[int] | None = None):
        """Yield the expression and what its names are bound to (for looking inside message literals)."""
        seen = set() if seen is None else seen
        if depth > 4 or id(expr) in seen:
            return
        seen.add(id(expr))
        if isinstance(expr, cst.Name):
            cands, owner = self.lookup(expr.value, scope)
            for cand in cands:
                if isinstance(cand, cst.BaseExpression):
                    yield from self.follow(cand, owner, depth + 1, seen)
            return
        if isinstance(expr, cst.Call):
            fn = self.eval(expr.func, scope)
            if isinstance(fn, FunctionInfo | BoundMethod):
                f = fn if isinstance(fn, FunctionInfo) else fn.func
                for r in f.returns:
                    yield from self.follow(r, f.scope, depth + 1, seen)
            for a in expr.args:
                yield from self.follow(a.value, scope, depth + 1, seen)
            return
        yield expr, scope


class _NotLiteral:
    def __repr__(self) -> str:
        return "NOT_LITERAL"


NOT_LITERAL: Any = _NotLiteral()


def exports_of(collected: Collected, resolver: Resolver, module: str) -> dict[str, dict[str, Any]]:
    """Module-level names other project modules can import: tracked objects, factories, classes holding one.
    (Constants are read by `ProjectIndex.constants` without parsing.)"""
    out: dict[str, dict[str, Any]] = {}
    scope = collected.module
    for name, fn in scope.functions.items():
        v = resolver.function_returns(fn)
        if isinstance(v, Obj):
            out[f"{module}.{name}"] = {"kind": "factory", "obj": v.to_export()}
        elif isinstance(v, Factory):
            out[f"{module}.{name}"] = {"kind": "factory", "obj": v.obj.to_export()}
    for name, cls in scope.classes.items():
        attrs: dict[str, Any] = {}
        for attr in [*cls.attrs, *cls.annotations]:
            v = resolver._attr(cls, attr, 0)
            if isinstance(v, Obj):
                attrs[attr] = v.to_export()
        if attrs:
            out[f"{module}.{name}"] = {"kind": "class", "attrs": attrs}
    names = set(scope.bindings) | set(scope.imports) | set(scope.annotations)
    for name in sorted(names):
        node = cst.Name(name)
        resolver._keep.append(node)  # memo keys are node ids: keep the node alive
        v = resolver.eval(node, scope)
        if isinstance(v, Obj):
            out[f"{module}.{name}"] = v.to_export()
        elif isinstance(v, Factory):
            out[f"{module}.{name}"] = {"kind": "factory", "obj": v.obj.to_export()}
    return out
