"""The cheap text pre-filter: only files whose import statements can reach an SDK or wrapper get parsed.

A substring test for "openai" keeps every file that merely mentions it; matching import statements of the
rules' top-level modules is as cheap and much sharper (see bench/scan).
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def import_regex(roots: Iterable[str]) -> re.Pattern[str]:
    alt = "|".join(sorted(re.escape(r) for r in roots))
    return re.compile(
        rf"^[ \t]*(?:from[ \t]+(?:{alt})(?:[ \t.]|$)|import[ \t]+(?:[^\n#;]*[, \t])?(?:{alt})(?:[ \t.,;#]|$))",
        re.MULTILINE,
    )


_FROM = re.compile(r"^[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)", re.MULTILINE)
_IMPORT = re.compile(r"^[ \t]*import[ \t]+([^\n#;]+)", re.MULTILINE)


def imported_modules(text: str, package: str) -> set[str]:
    """Dotted modules a source imports (relative ones resolved against `package`), including `pkg.name`
    for `from pkg import name`, since `name` may be a submodule."""
    out: set[str] = set()
    if "import" not in text:
        return out
    for dots, mod, names in _FROM.findall(text):
        if dots:
            parts = package.split(".") if package else []
            up = len(dots) - 1
            base = parts[: len(parts) - up] if up <= len(parts) else []
            mod = ".".join([*base, mod] if mod else base)
        if not mod:
            continue
        out.add(mod)
        for n in re.findall(r"[A-Za-z_]\w*", names.replace(" as ", " ")):
            out.add(f"{mod}.{n}")
    for names in _IMPORT.findall(text):
        for part in names.split(","):
            name = part.strip().split(" ")[0]
            if name:
                out.add(name)
    return out
