"""OpenAI's shutdown calendar as data (`rules/lifecycle/*.toml`): which model ids and APIs stop answering when.

Why data: shutdown dates are announced every few months and move (snapshots, aliases, fine-tunes), and a scan must
say "forced migration by DATE" for exactly the ids a project uses. A row names its source and the day it was
verified; a row without them fails loading with one line naming the file and the row.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from offramp.rules import RULES_DIR

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

LIFECYCLE_DIR = RULES_DIR / "lifecycle"


class LifecycleError(ValueError):
    """A lifecycle file is malformed; the message names the file and the row."""


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shutdown: dt.date | None = Field(None, description="the day it stops answering; none: no shutdown announced")
    replacement: str = Field("", description="what OpenAI names in its place (empty: no source names one)")
    note: str = ""
    source: str = Field(min_length=1)
    verified: dt.date
    provider: str = ""

    def days_left(self, today: dt.date) -> int | None:
        return None if self.shutdown is None else (self.shutdown - today).days


class ModelRow(_Row):
    ids: list[str] = Field(min_length=1, description="exact ids or fnmatch patterns")

    def matches(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, p) for p in self.ids)


class ApiRow(_Row):
    id: str
    apis: list[str] = Field(min_length=1, description="fnmatch patterns on the scan's API names")

    def matches(self, api: str) -> bool:
        return any(fnmatch.fnmatchcase(api, p) for p in self.apis)


class LifecycleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str
    model: list[ModelRow] = Field(default_factory=list)
    api: list[ApiRow] = Field(default_factory=list)


class Lifecycle(BaseModel):
    """Every lifecycle file merged; the first matching row (file order) wins."""

    models: list[ModelRow] = Field(default_factory=list)
    apis: list[ApiRow] = Field(default_factory=list)

    def model(self, model_id: str) -> ModelRow | None:
        """The row for a model id; an exact id beats a pattern (a snapshot's own date beats its family's)."""
        exact = next((r for r in self.models if model_id in r.ids), None)
        return exact or next((r for r in self.models if r.matches(model_id)), None)

    def api(self, api: str) -> ApiRow | None:
        return next((r for r in self.apis if r.matches(api)), None)


def _error(path: Path, data: dict, exc: ValidationError) -> LifecycleError:
    err = exc.errors()[0]
    loc = list(err["loc"])
    if len(loc) >= 2 and loc[0] in ("model", "api") and isinstance(loc[1], int):
        rows = data.get(loc[0]) or []
        row = rows[loc[1]] if loc[1] < len(rows) and isinstance(rows[loc[1]], dict) else {}
        label = row.get("id") or (row.get("ids") or ["?"])[0]
        field = ".".join(str(x) for x in loc[2:]) or "row"
        msg = f"missing {field!r}" if err["type"] == "missing" else f"{field}: {err['msg']}"
        return LifecycleError(f"{path}: {loc[0]}[{loc[1]}] ({label}): {msg}")
    return LifecycleError(f"{path}: {'.'.join(str(x) for x in loc)}: {err['msg']}")


def load_lifecycle_file(path: str | Path) -> LifecycleFile:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LifecycleError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise LifecycleError(f"{path}: invalid TOML ({exc})") from None
    try:
        f = LifecycleFile.model_validate(data)
    except ValidationError as exc:
        raise _error(path, data, exc) from None
    for row in (*f.model, *f.api):
        row.provider = f.provider
    return f


@functools.lru_cache(maxsize=4)
def load_lifecycle(directory: str | None = None) -> Lifecycle:
    """Every `*.toml` under `rules/lifecycle/` (or `directory`), in name order."""
    d = Path(directory) if directory else LIFECYCLE_DIR
    out = Lifecycle()
    for path in sorted(d.glob("*.toml")):
        f = load_lifecycle_file(path)
        out.models.extend(f.model)
        out.apis.extend(f.api)
    return out
