"""Where the lock-in sits and what to do first: a per-directory heat map and the steps ordered by effort saved.

The effort per site comes from `rules/effort.toml` (data, editable): automatic strategies are hand edits
`migrate rewrite` saves, the others stay as hand work. Steps the tool does come first, largest saving first; the
hand steps follow, quickest first, so the list reads as an order of work.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from offramp.migrate.report_model import Finding, ScanReport
from offramp.rules import RULES_DIR

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class StrategyEffort(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = ""
    automatic: bool
    hours: float = Field(ge=0)
    does: str


class EffortTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    default: StrategyEffort
    strategy: list[StrategyEffort] = Field(default_factory=list)

    def of(self, name: str) -> StrategyEffort:
        return next((s for s in self.strategy if s.name == name), self.default)


class EffortError(ValueError):
    """One line naming the file and the field."""


@lru_cache(maxsize=4)
def load_effort(path: Path = RULES_DIR / "effort.toml") -> EffortTable:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return EffortTable.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise EffortError(f"{path}: invalid TOML: {exc}") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise EffortError(f"{path}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None


class Step(BaseModel):
    strategy: str
    category: str
    automatic: bool
    sites: int
    files: int
    dirs: list[str]
    level: int
    hours_saved: float  # by `migrate rewrite` (automatic steps)
    hours_by_hand: float  # left to do by hand (the others)
    does: str
    command: str | None = None


def directory_of(path: str) -> str:
    parent = str(PurePosixPath(path).parent)
    return "." if parent in ("", ".") else parent


def first_steps(report: ScanReport, table: EffortTable | None = None) -> list[Step]:
    table = table or load_effort()
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in report.findings:
        eff = table.of(f.rewrite)
        # Automatic steps group by strategy (one command does them all); hand steps by what they are about.
        key = (f.rewrite or "unnamed", "" if eff.automatic else f.category)
        groups.setdefault(key, []).append(f)
    out = []
    for (strategy, category), fs in groups.items():
        eff = table.of(strategy)
        hours = round(eff.hours * len(fs), 1)
        dirs = sorted({directory_of(f.path) for f in fs}, key=lambda d: (-sum(directory_of(f.path) == d for f in fs), d))
        out.append(Step(strategy=strategy, category=category or ", ".join(sorted({f.category for f in fs})),
                        automatic=eff.automatic, sites=len(fs), files=len({f.path for f in fs}), dirs=dirs,
                        level=max(f.level for f in fs), hours_saved=hours if eff.automatic else 0.0,
                        hours_by_hand=0.0 if eff.automatic else hours, does=eff.does,
                        command=f"migrate rewrite --dry-run {_root_arg(report)}" if eff.automatic else None))
    out.sort(key=lambda s: (not s.automatic, -s.hours_saved, s.hours_by_hand, s.level, s.strategy, s.category))
    return out


def _root_arg(report: ScanReport) -> str:
    return "." if not report.root else report.root


class DirRow(BaseModel):
    dir: str
    files: int
    findings: int
    level: int
    by_level: dict[int, int]


def directory_heat(report: ScanReport) -> list[DirRow]:
    """Findings per directory and level, the most locked-in directory first."""
    acc: dict[str, list[Finding]] = {}
    for f in report.findings:
        acc.setdefault(directory_of(f.path), []).append(f)
    rows = [DirRow(dir=d, files=len({f.path for f in fs}), findings=len(fs), level=max(f.level for f in fs),
                   by_level={lv: sum(f.level == lv for f in fs) for lv in range(6)})
            for d, fs in acc.items()]
    rows.sort(key=lambda r: (-r.level, -r.findings, r.dir))
    return rows
