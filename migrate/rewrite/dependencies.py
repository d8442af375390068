"""Declare Offramp in the app's dependency file: the rewritten code imports `offramp.adapters`, so an app installed
from its own dependency list would otherwise fail with ModuleNotFoundError.

One file is edited, the first found of: pyproject.toml ([project].dependencies or [tool.poetry.dependencies]),
requirements.txt (else another requirements*.txt that is not for dev/test/docs), setup.cfg
([options] install_requires), Pipfile ([packages]). The edit is textual (comments and layout stay) and is re-parsed
before it is offered; a pin of openai below 1.0 becomes `openai>=1.40`, because the rewritten code uses the 1.x
API and Offramp itself needs it. Idempotent: a file that already names offramp is left alone."""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

from offramp.migrate import __version__

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

OPENAI_FLOOR = "openai>=1.40"  # offramp's own requirement (pyproject.toml)


def requirement() -> str:
    major, minor = __version__.split(".")[:2]
    return f"offramp>={major}.{minor}"


def _names_offramp(req: str) -> bool:
    return re.match(r"^\s*offramp\s*($|[\[<>=!~;@ ])", req, re.I) is not None


_OLD_PIN = re.compile(r"^openai(\[[^\]]*\])?\s*(==\s*0|~=\s*0|<=?\s*(0|1(\.0)*)\b)", re.I)


def _unpin(req: str) -> str:
    """`openai==0.28.1` (or `<1`) → `openai>=1.40`; anything else unchanged."""
    m = _OLD_PIN.match(req.strip())
    return f"openai{m.group(1) or ''}>=1.40" if m else req


def _section(lines: list[str], header: str) -> tuple[int, int] | None:
    """Line range [start, end) of a TOML/INI section's body."""
    start = next((i + 1 for i, ln in enumerate(lines) if ln.strip() == header), None)
    if start is None:
        return None
    end = next((i for i in range(start, len(lines)) if re.match(r"^\s*\[", lines[i])), len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    return start, end


# A pydantic requirement that excludes 2.x (`pydantic = "^1.10"`, `pydantic==1.10.7`, `pydantic<2`): offramp needs
# pydantic>=2.6 (pyproject.toml), so the two cannot be installed together. Reported, never rewritten: the app's
# pydantic-1 code (BaseSettings, parse_obj, validator) has to be ported first.
PYDANTIC_FLOOR = "pydantic>=2.6"
_PYDANTIC_1 = re.compile(
    r"""^\s*["']?pydantic(\[[^\]]*\])?["']?\s*(=\s*["']|=\s*\{\s*version\s*=\s*["'])?\s*"""
    r"""(?:(?:\^|~=?|==|<=)\s*1(\.[\d*]+)*|<\s*2(\.0)*)\b""", re.I | re.M)


def pydantic_1_pin(text: str) -> str | None:
    """The line pinning pydantic below 2, if any (stripped)."""
    m = _PYDANTIC_1.search(text)
    return text[m.start():].splitlines()[0].strip() if m else None


def _unpin_quoted(text: str) -> str:
    return re.sub(r"([\"'])(openai[^\"']*)\1", lambda m: m.group(1) + _unpin(m.group(2)) + m.group(1), text)


def _pyproject(text: str) -> str | None:
    data = tomllib.loads(text)
    lines = text.splitlines(keepends=True)
    req = requirement()
    project = data.get("project")
    poetry = data.get("tool", {}).get("poetry", {}).get("dependencies")
    if isinstance(project, dict) and ("dependencies" in project or poetry is None):
        deps = project.get("dependencies", [])
        if any(_names_offramp(d) for d in deps):
            return None
        sec = _section(lines, "[project]")
        if sec is None:
            return None
        start, end = sec
        at = next((i for i in range(start, end) if re.match(r"^dependencies\s*=\s*\[", lines[i])), None)
        if at is None:
            lines.insert(end, f'dependencies = ["{req}"]\n')
            return "".join(lines)
        close = next(i for i in range(at, len(lines)) if re.search(r"\]\s*,?\s*(#.*)?$", lines[i]))
        if close == at:  # dependencies = ["openai>=1.40"] on one line
            lines[at] = re.sub(r"\s*\](\s*(#.*)?)$", lambda m: (", " if deps else "") + f'"{req}"]' + m.group(1),
                               lines[at].rstrip("\n"), count=1) + "\n"
        else:
            items = [i for i in range(at + 1, close) if lines[i].strip() and not lines[i].strip().startswith("#")]
            indent = re.match(r"^\s*", lines[items[-1]]).group(0) if items else "    "
            if items and not re.search(r",\s*(#.*)?$", lines[items[-1]]):
                code, hash_, comment = lines[items[-1]].rstrip("\n").partition("#")
                lines[items[-1]] = code.rstrip() + "," + (f"  #{comment}" if hash_ else "") + "\n"
            lines.insert(close, f'{indent}"{req}",\n')
            close += 1
        for i in range(at, close + 1):
            lines[i] = _unpin_quoted(lines[i])
        return "".join(lines)
    if isinstance(poetry, dict):
        if any(_names_offramp(k) for k in poetry):
            return None
        sec = _section(lines, "[tool.poetry.dependencies]")
        if sec is None:
            return None
        start, end = sec
        for i in range(start, end):
            m = re.match(r'^(openai\s*=\s*)(["\'])([^"\']*)\2', lines[i])
            if m and _OLD_PIN.match("openai" + (m.group(3) if m.group(3)[:1] in "=<~" else "==" + m.group(3)
                                                 .lstrip("^"))):
                lines[i] = f'{m.group(1)}">=1.40"' + lines[i][m.end():]
        lines.insert(end, f'offramp = "{req[len("offramp"):]}"\n')
        return "".join(lines)
    return None


def _requirements(text: str) -> str | None:
    reqs = [ln.split("#")[0].strip() for ln in text.splitlines()]
    if any(_names_offramp(r) for r in reqs if r):
        return None
    out = [(_unpin(ln.rstrip("\n")) + ("\n" if ln.endswith("\n") else "")) if ln.strip() and not
           ln.lstrip().startswith(("#", "-")) else ln for ln in text.splitlines(keepends=True)]
    body = "".join(out)
    return body + ("" if not body or body.endswith("\n") else "\n") + requirement() + "\n"


def _setup_cfg(text: str) -> str | None:
    cp = configparser.ConfigParser()
    cp.read_string(text)
    if not cp.has_option("options", "install_requires"):
        return None
    value = cp.get("options", "install_requires")
    if any(_names_offramp(r) for r in value.splitlines() if r.strip()):
        return None
    lines = text.splitlines(keepends=True)
    sec = _section(lines, "[options]")
    if sec is None:
        return None
    start, end = sec
    at = next(i for i in range(start, end) if re.match(r"^install_requires\s*[=:]", lines[i]))
    last = at
    while last + 1 < end and (lines[last + 1].startswith((" ", "\t")) or not lines[last + 1].strip()):
        last += 1
    while last > at and not lines[last].strip():
        last -= 1
    for i in range(at + 1, last + 1):
        if lines[i].strip():
            lines[i] = re.sub(r"^(\s*)(.*?)(\s*)$", lambda m: m.group(1) + _unpin(m.group(2)) + m.group(3), lines[i])
    indent = re.match(r"^\s*", lines[last]).group(0) if last > at else "    "
    if last == at and lines[at].split("=", 1)[1].strip():  # install_requires = a; b on one line
        lines.insert(at + 1, f"{indent}{requirement()}\n")
        lines[at] = re.sub(r"([=:])\s*(.+)$", lambda m: f"{m.group(1)}\n{indent}{_unpin(m.group(2).strip())}",
                           lines[at].rstrip("\n"), count=1) + "\n"
    else:
        lines.insert(last + 1, f"{indent}{requirement()}\n")
    return "".join(lines)


def _pipfile(text: str) -> str | None:
    data = tomllib.loads(text)
    if any(_names_offramp(k) for k in data.get("packages", {})):
        return None
    lines = text.splitlines(keepends=True)
    sec = _section(lines, "[packages]")
    if sec is None:
        lines += ["\n" if lines and not lines[-1].endswith("\n") else "", "\n[packages]\n"]
        sec = (len(lines), len(lines))
    start, end = sec
    for i in range(start, end):
        m = re.match(r'^(openai\s*=\s*)(["\'])([^"\']*)\2', lines[i])
        if m and _OLD_PIN.match("openai" + m.group(3)):
            lines[i] = f'{m.group(1)}">=1.40"' + lines[i][m.end():]
    lines.insert(end, f'offramp = "{requirement()[len("offramp"):]}"\n')
    return "".join(lines)


def _candidates(base: Path) -> list[tuple[Path, object]]:
    """Dependency files in the order they are tried. A pyproject.toml whose [project] lists no dependencies
    comes last (its dependencies are often in requirements.txt); one that declares them dynamic never does."""
    out: list[tuple[Path, object]] = []
    last: list[tuple[Path, object]] = []
    py = base / "pyproject.toml"
    if py.is_file():
        try:
            data = tomllib.loads(py.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            data = {"project": {"dependencies": []}}  # plan() reports the parse error on this file
        project = data.get("project")
        if "dependencies" in data.get("tool", {}).get("poetry", {}) or (
                isinstance(project, dict) and "dependencies" in project):
            out.append((py, _pyproject))
        elif isinstance(project, dict) and "dependencies" not in project.get("dynamic", []):
            last.append((py, _pyproject))
    reqs = sorted(base.glob("requirements*.txt"), key=lambda p: (p.name != "requirements.txt", p.name))
    reqs = [p for p in reqs if p.name == "requirements.txt" or not re.search(r"dev|test|doc|lint|ci", p.name)]
    out += [(p, _requirements) for p in reqs[:1]]
    if (base / "setup.cfg").is_file() and not _setup_cfg_lacks_key((base / "setup.cfg").read_text(encoding="utf-8")):
        out.append((base / "setup.cfg", _setup_cfg))
    if (base / "Pipfile").is_file():
        out.append((base / "Pipfile", _pipfile))
    return out + last


def plan(base: Path) -> tuple[object | None, str]:
    """The FileResult adding offramp to the app's dependency file (None: nothing to change), and the summary line."""
    from offramp.migrate.rewrite.model import FileResult

    for path, edit in _candidates(base):
        rel = path.relative_to(base).as_posix()
        try:
            text = path.read_text(encoding="utf-8")
            new = edit(text)
        except (OSError, UnicodeDecodeError, ValueError, configparser.Error, StopIteration) as exc:
            return None, f"{rel}: cannot read its dependencies ({exc}); add {requirement()} by hand"
        if new is None:
            return None, f"{rel}: already depends on offramp"
        if not _declares(path.name, new):  # the edit must parse and name offramp, or nothing is offered
            return None, f"{rel}: cannot add {requirement()} safely; add it by hand"
        unpinned = " (and openai>=1.40 in place of its 0.x pin)" if "openai>=1.40" in new and \
            "openai>=1.40" not in text else ""
        pin = pydantic_1_pin(text)
        conflict = (f"; it pins pydantic below 2 ({pin}), which cannot be installed with offramp "
                    f"({PYDANTIC_FLOOR}): port the app to pydantic 2 first") if pin else ""
        return (FileResult(path=rel, original=text, rewritten=new),
                f"{rel}: adds {requirement()} to the app's dependencies{unpinned}{conflict}")
    return None, f"no dependency file found (pyproject.toml, requirements*.txt, setup.cfg, Pipfile): add " \
                 f"{requirement()} to the app's dependencies"


def _setup_cfg_lacks_key(text: str) -> bool:
    cp = configparser.ConfigParser()
    try:
        cp.read_string(text)
    except configparser.Error:
        return False  # plan() reports the parse error on this file
    return not cp.has_option("options", "install_requires")


def _declares(name: str, text: str) -> bool:
    try:
        if name == "pyproject.toml":
            data = tomllib.loads(text)
            deps = [*data.get("project", {}).get("dependencies", []),
                    *data.get("tool", {}).get("poetry", {}).get("dependencies", {})]
            return any(_names_offramp(d) for d in deps)
        if name == "Pipfile":
            return any(_names_offramp(k) for k in tomllib.loads(text).get("packages", {}))
        if name == "setup.cfg":
            cp = configparser.ConfigParser()
            cp.read_string(text)
            return any(_names_offramp(r) for r in cp.get("options", "install_requires").splitlines() if r.strip())
        return any(_names_offramp(ln.split("#")[0]) for ln in text.splitlines())
    except (ValueError, configparser.Error):
        return False
