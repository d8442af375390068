"""The cheap project index: module names of the scanned files, local modules that shadow an SDK, and what
project modules export (clients, factories, classes holding clients, constants) for the files importing them."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from offramp.migrate.scan.prefilter import import_text, imported_modules
from offramp.migrate.scan.resolve import ProjectContext

_CONST = re.compile(
    r"""^([A-Z_][A-Z0-9_]*)[ \t]*(?::[^=\n]+)?=[ \t]*((?:[rRbBuU]?(?:"[^"\\\n]*"|'[^'\\\n]*'))"""
    r"""|-?\d+(?:\.\d+)?|True|False)[ \t]*(?:#.*)?$""",
    re.MULTILINE,
)


def _const(literal: str) -> Any:
    try:
        return ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return None


def module_name(relpath: str) -> tuple[str, bool]:
    """(dotted module name, is a package) for a path relative to the scanned root."""
    p = relpath
    for suffix in (".py", ".ipynb"):
        if p.endswith(suffix):
            p = p[: -len(suffix)]
    parts = [x for x in p.split("/") if x]
    is_pkg = bool(parts) and parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join(parts), is_pkg


class ProjectIndex:
    """Built from the walked file list; `exports` (full module → {qualified name: descriptor}) fills in as
    files are analysed."""

    def __init__(self, texts: Mapping[str, str], sdk_roots: Iterable[str]) -> None:
        self.texts = texts
        self.files = set(texts)
        self.sdk_roots = frozenset(sdk_roots)
        self.packages = {r.rsplit("/", 1)[0] if "/" in r else "" for r in self.files if r.endswith("/__init__.py")
                         or r == "__init__.py"}
        self.exports: dict[str, dict[str, dict[str, Any]]] = {}
        self._files_by_suffix: dict[str, list[str]] = defaultdict(list)
        self._rel_of: dict[str, str] = {}
        for rel in self.files:
            full = module_name(rel)[0]
            self._rel_of[full] = rel
            parts = full.split(".")
            for i in range(len(parts)):
                self._files_by_suffix[".".join(parts[i:])].append(full)
        self._consts: dict[str, dict[str, Any]] = {}
        self._imports: dict[str, list[tuple[str, str]]] = {}
        self._export_words: tuple[str, ...] = ()
        self._word_files: dict[str, frozenset[str]] = {}
        self._import_texts: dict[str, str] = {}
        self._best_memo: dict[tuple[str, str], str | None] = {}
        self._params_in: dict[str, dict[str, dict[str, Any]]] = {}  # full module -> {qualname: {param: obj}}
        self._stars: dict[str, list[str]] = {}
        # the project's own `adapters` package hides Offramp's pre-0.2 top-level `adapters` (as in the rewrite)
        self.own_adapters = any(r == "adapters.py" or r.endswith(("/adapters.py", "/adapters/__init__.py"))
                                or r == "adapters/__init__.py" for r in self.files)
        self._sdk_import = {name: re.compile(rf"^[ \t]*(?:import[ \t]+{re.escape(name)}\b|from[ \t]+{re.escape(name)}"
                                             rf"[ \t.])", re.MULTILINE) for name in self.sdk_roots}

    def constants(self, full: str) -> dict[str, Any]:
        """Module-level `NAME = literal` constants of a project module, read without parsing it, and those it
        re-exports from another project module (`from .config import MODEL` in app/models.py)."""
        if full not in self._consts:
            rel = self._rel_of.get(full, "")
            text = self.texts.get(rel, "")
            found = {name: _const(lit) for name, lit in _CONST.findall(text)} if text else {}
            own = self._consts[full] = {k: v for k, v in found.items() if isinstance(v, str | int | float | bool)}
            lines = self.import_text(rel, text) if text else ""
            for _, src in self.imported(rel, text) if "import" in lines else ():
                for name, value in self.constants(src).items():  # a cycle reads the partial dict: no loop
                    if name not in own and re.search(rf"^[ \t]*from[ \t][^\n]*\bimport\b[^\n]*\b{name}\b(?![ \t]+as\b)",
                                                     lines, re.M):
                        own[name] = value
        return self._consts[full]

    def set_exports(self, exports: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.exports = {m: e for m, e in exports.items() if e}
        # an importer must spell the exporting module's last name (`from app.clients import`, `from app import
        # clients`, `from . import clients`): a substring test rules out almost every other file
        self._export_words = tuple(sorted({m.rpartition(".")[2] for m in self.exports}))

    def _shadowed(self, relpath: str) -> frozenset[str]:
        """SDK names a project module hides for this file: one next to it on its sys.path entry, i.e. in the
        nearest enclosing directory that is not a package (where a script runs, or a src/ root)."""
        d = relpath.rsplit("/", 1)[0] if "/" in relpath else ""
        while d and d in self.packages:
            d = d.rsplit("/", 1)[0] if "/" in d else ""
        pre = f"{d}/" if d else ""
        out = set()
        for name in self.sdk_roots:
            for cand in (f"{pre}{name}.py", f"{pre}{name}/__init__.py"):
                # a module never shadows the SDK for itself, and the project's own `openai.py` that imports the
                # SDK by absolute import means the SDK (its author runs it as a package module)
                if cand in self.files and cand != relpath and not relpath.startswith(f"{pre}{name}/") \
                        and not self._sdk_import[name].search(self.texts[cand]):
                    out.add(name)
        if self.own_adapters:
            out.add("adapters")
        return frozenset(out)

    def set_params(self, by_rel: Mapping[str, dict[str, dict[str, Any]]]) -> bool:
        """Cross-module parameter edges: what each file passes to functions of other project modules, keyed
        by the callee's full module. True when they changed."""
        params: dict[str, dict[str, dict[str, Any]]] = {}
        for rel, flows in by_rel.items():
            spelled = sorted(self.imported(rel, self.texts[rel]), key=lambda t: -len(t[0]))
            for target, entry in flows.items():
                for cand, src in spelled:
                    if target.startswith(cand + "."):
                        full = src + target[len(cand):]
                        params.setdefault(src, {}).setdefault(full, {}).update(entry)
                        break
        changed = params != self._params_in
        self._params_in = params
        return changed

    def set_stars(self, stars: Mapping[str, list[str]]) -> bool:
        self._stars = dict(stars)
        return False

    def param_receivers(self) -> set[str]:
        return {self._rel_of[m] for m in self._params_in if m in self._rel_of}

    def _best(self, suffix: str, importer: str) -> str | None:
        """The project module a dotted import names: all suffixes of module paths count (apps are often
        scanned from a parent folder); ties go to the module nearest the importer."""
        cands = self._files_by_suffix.get(suffix)
        if not cands:
            return None
        if len(cands) == 1:
            return cands[0]
        key = (suffix, importer.rpartition(".")[0])
        if key in self._best_memo:
            return self._best_memo[key]

        def shared(full: str) -> int:
            a, b = full.split("."), importer.split(".")
            n = 0
            while n < min(len(a), len(b)) and a[n] == b[n]:
                n += 1
            return n

        best = self._best_memo[key] = max(cands, key=lambda f: (shared(f), -len(f)))
        return best

    def context_for(self, relpath: str, text: str | None = None) -> ProjectContext:
        module, is_pkg = module_name(relpath)
        package = module if is_pkg else module.rpartition(".")[0]
        exports: dict[str, dict[str, Any]] = {}
        stars: dict[str, list[str]] = {}
        if text is not None:
            for cand, src in self.imported(relpath, text):
                for name, value in self.constants(src).items():
                    exports[f"{cand}.{name}"] = {"kind": "const", "value": value}
                for q, desc in self.exports.get(src, {}).items():
                    exports[cand + q[len(src):]] = desc
                if src in self._stars:
                    stars[cand] = self._stars[src]
        return ProjectContext(module=module, package=package, shadowed=self._shadowed(relpath), exports=exports,
                              relpath=relpath, params=self._params_in.get(module, {}), stars=stars)

    def rel_of(self, full: str) -> str:
        return self._rel_of.get(full, "")

    def imported(self, relpath: str, text: str) -> list[tuple[str, str]]:
        """(name as imported, full project module) for each project module the file imports (memoised)."""
        got = self._imports.get(relpath)
        if got is None:
            module, is_pkg = module_name(relpath)
            got = self._imported(self.import_text(relpath, text), module if is_pkg else module.rpartition(".")[0], module)
            shadowed = self._shadowed(relpath)
            # `import openai` names the SDK unless a project module shadows it for this file
            got = self._imports[relpath] = [(c, s) for c, s in got
                                            if c.split(".")[0] not in self.sdk_roots or c.split(".")[0] in shadowed]
        return got

    def import_text(self, relpath: str, text: str) -> str:
        """The file's import lines (prefilter.import_text), memoised: read once per scan, not per word or round."""
        got = self._import_texts.get(relpath)
        if got is None:
            got = self._import_texts[relpath] = import_text(text)
        return got

    def _imported(self, text: str, package: str, module: str) -> list[tuple[str, str]]:
        """(name as imported, full project module) for each project module the source imports."""
        out = []
        for imp in imported_modules(text, package):
            for cand in (imp, imp.rpartition(".")[0]):
                src = self._best(cand, module) if cand else None
                if src is not None and src != module:
                    out.append((cand, src))
        return out

    def imports_exporting(self, relpath: str, text: str) -> bool:
        """Does this file import a project module that exports a tracked object (so it must be analysed)?"""
        if not self._export_words or not any(w in text for w in self._export_words):
            return False
        return any(src in self.exports for _, src in self.imported(relpath, text))

    def exporting_importers(self) -> set[str]:
        """Every file importing a project module that exports a tracked object. Same answer as
        `imports_exporting` over all files, but the substring test runs once per export word, not once per
        file and round, and over the files' import lines only (it was the largest serial cost of a scan over
        a big tree)."""
        rels: set[str] = set()
        for w in self._export_words:
            got = self._word_files.get(w)
            if got is None:
                got = self._word_files[w] = frozenset(
                    rel for rel, t in self.texts.items() if w in self.import_text(rel, t))
            rels |= got
        return {rel for rel in rels if any(src in self.exports for _, src in self.imported(rel, self.texts[rel]))}
