"""The check every rewritten file passes before it is written: it parses, and it has no undefined name and no
unused import that the original did not already have (pyflakes, compared before/after by message, so that
pre-existing warnings of the user's code never block a rewrite)."""

from __future__ import annotations

import ast
import sys
from collections import Counter

from pyflakes import checker, messages

_BLOCKING = (messages.UndefinedName, messages.UnusedImport, messages.ImportShadowedByLoopVar,
             messages.RedefinedWhileUnused, messages.UndefinedLocal)


def _problems(source: str, filename: str) -> list[tuple[int, str]]:
    tree = ast.parse(source, filename=filename)
    found = checker.Checker(tree, filename=filename).messages
    return [(m.lineno, m.message % m.message_args) for m in found if isinstance(m, _BLOCKING)]


PARSER = f"Python {sys.version_info.major}.{sys.version_info.minor}"
UNSUPPORTED = "syntax not supported by the parser"


def unsupported_syntax(source: str, filename: str) -> tuple[int, str] | None:
    """(line, one-line reason) when this interpreter's `ast` cannot read the source: the check cannot run on it
    (newer syntax than this Python, e.g. PEP 701 f-strings before 3.12, or a syntax error), so it is skipped."""
    try:
        ast.parse(source, filename=filename)
    except SyntaxError as e:
        return e.lineno or 1, f"{UNSUPPORTED} ({PARSER}: {e.msg}); the rewrite cannot check it, so it is skipped — " \
                              "run `migrate rewrite` under a Python that parses it"
    return None


def check(original: str, rewritten: str, filename: str) -> str:
    """'' when the rewrite is safe to write, else a one-line reason naming the line(s) of the rewritten file."""
    unsupported = unsupported_syntax(original, filename)
    if unsupported:
        return f"line {unsupported[0]}: {unsupported[1]}"
    try:
        after = _problems(rewritten, filename)
    except SyntaxError as e:
        return f"rewritten code does not parse (line {e.lineno}: {e.msg})"
    before = Counter(msg for _, msg in _problems(original, filename))
    new = []
    for line, msg in sorted(after):
        old = msg.replace("'offramp.adapters", "'adapters")  # Offramp's pre-0.2 imports, upgraded: same name
        if before[msg] or before[old]:
            before[msg if before[msg] else old] -= 1  # the original had this one already (lines move in a rewrite: compare by message)
        else:
            new.append(f"line {line}: {msg}")
    if new:
        return "rewritten code fails the check: " + "; ".join(new)
    return ""
