"""The cheap text pre-filter: only files whose import statements can reach an SDK or wrapper get parsed.

A substring test for "openai" keeps every file that merely mentions it; matching import statements of the
rules' top-level modules is as cheap and much sharper (see bench/scan).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable


def import_regex(roots: Iterable[str]) -> re.Pattern[str]:
    alt = "|".join(sorted(re.escape(r) for r in roots))
    return re.compile(
        rf"^[ \t]*(?:from[ \t]+(?:{alt})(?:[ \t.]|$)|import[ \t]+(?:[^\n#;]*[, \t])?(?:{alt})(?:[ \t.,;#]|$))",
        re.MULTILINE,
    )


# An import starts a line, or follows `:`/`;` on it (`if x: import y`); backslash continuations are read.
_LEAD = r"^(?:[^\n#'\"]*[:;][ \t]*|[ \t]*)"
_WS = r"(?:[ \t]|\\\r?\n)"
_FROM = re.compile(rf"{_LEAD}from{_WS}+(\.*)([\w.]*){_WS}+import{_WS}*(\([^)]*\)|(?:[^\n#;\\]|\\\r?\n)*)",
                   re.MULTILINE)
_IMPORT = re.compile(rf"{_LEAD}import{_WS}+((?:[^\n#;\\]|\\\r?\n)+)", re.MULTILINE)
# The plain forms, 4x cheaper: used unless the source has a continuation or an import after `:`/`;`.
_FROM_PLAIN = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]*(\([^)]*\)|[^\n#;]*)", re.MULTILINE)
_IMPORT_PLAIN = re.compile(r"^[ \t]*import[ \t]+([^\n#;]+)", re.MULTILINE)
_ODD = re.compile(r"\\\r?\n|[:;][ \t]*(?:from|import)[ \t]")


def imported_modules(text: str, package: str) -> set[str]:
    """Dotted modules a source imports (relative ones resolved against `package`), including `pkg.name`
    for `from pkg import name`, since `name` may be a submodule."""
    out: set[str] = set()
    if "import" not in text:
        return out
    from_rx, import_rx = (_FROM, _IMPORT) if _ODD.search(text) else (_FROM_PLAIN, _IMPORT_PLAIN)
    for dots, mod, names in from_rx.findall(text):
        if dots:
            parts = package.split(".") if package else []
            up = len(dots) - 1
            base = parts[: len(parts) - up] if up <= len(parts) else []
            mod = ".".join([*base, mod] if mod else base)
        if not mod:
            continue
        out.add(mod)
        for n in re.findall(r"[A-Za-z_]\w*", re.sub(r"\bas\s+\w+", " ", names)):
            out.add(f"{mod}.{n}")
    for names in import_rx.findall(text):
        for part in names.replace("\\\n", " ").split(","):
            name = part.strip().split(" ")[0]
            if name:
                out.add(name)
    return out


def _continued(text: str, nl: int) -> bool:
    """Does the line ending at the newline `nl` end with a backslash (LF or CRLF)?"""
    j = nl - 1 if nl > 0 and text[nl - 1] == "\r" else nl
    return j > 0 and text[j - 1] == "\\"


def import_text(text: str) -> str:
    """The lines of `text` that can belong to an import statement, joined: each line holding `import`, the
    backslash-continued lines before and after it and a parenthesised list opened on it up to its `)` (as
    `imported_modules` reads it). Every import statement is in it whole, on lines of its own; it is a few
    percent of a module, so reading imports and looking for words in them costs that much less."""
    out: list[str] = []
    n, end = len(text), 0
    i = text.find("import")
    while i >= 0:
        start = text.rfind("\n", 0, i) + 1
        while start >= 2 and _continued(text, start - 1):
            start = text.rfind("\n", 0, start - 1) + 1
        start = max(start, end)
        stop = text.find("\n", i)
        stop = n if stop < 0 else stop
        while stop < n:
            p = text.rfind("(", start, stop)
            if p >= 0 and text.find(")", p, stop) < 0:
                close = text.find(")", stop)
                stop = n if close < 0 else (text.find("\n", close) if text.find("\n", close) >= 0 else n)
            elif _continued(text, stop):
                stop = text.find("\n", stop + 1)
                stop = n if stop < 0 else stop
            else:
                break
        out.append(text[start:stop])
        end = stop
        i = text.find("import", end)
    return "\n".join(out)


def reach_filter(roots: Iterable[str], names: Iterable[str]) -> Callable[[str], bool]:
    """A sharper second test for files `import_regex` keeps: can one of its SDK imports lead to a finding?

    `import openai` can (any attribute may be used); `from openai.types.chat import ChatCompletion` cannot,
    since no rule names anything under `openai.types` - most files of an SDK-using library import only
    such types (measured in bench/scan: half of the kept files). `names` are the qualified names the rules
    match, plus `openai.<attr>` for the module-level client. Anything this regex cannot read keeps the file.
    """
    alt = "|".join(sorted(re.escape(r) for r in roots))
    plain = re.compile(rf"^[ \t]*import[ \t]+(?:[^\n#;]*[, \t])?(?:{alt})(?:[ \t.,;#]|$)", re.MULTILINE)
    from_ = re.compile(rf"^[ \t]*from[ \t]+((?:{alt})[\w.]*)[ \t]+import[ \t]*(\([^)]*\)|[^\n#;]*)", re.MULTILINE)
    wanted = frozenset(names)
    prefixes = frozenset(n.rsplit(".", i)[0] for n in wanted for i in range(n.count(".") + 1))

    def relevant(q: str) -> bool:
        if q in prefixes:  # a rule name or a module/class on the way to one
            return True
        parts = q.split(".")
        return any(".".join(parts[:i]) in wanted for i in range(1, len(parts)))  # below a rule name

    def may_reach(text: str) -> bool:
        if plain.search(text):
            return True
        for m in from_.finditer(text):
            mod, clause = m.group(1), m.group(2).strip().strip("()")
            if mod.split(".")[0] not in roots or "\\" in clause or not clause.strip():
                return True
            for part in clause.split(","):
                name = part.split()[0] if part.split() else ""
                if name == "*" or (name and relevant(f"{mod}.{name}")):
                    return True
        return False

    return may_reach
