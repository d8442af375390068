"""Per-call cost from the dated price tables in `rules/prices/*.toml` (DeepSeek's time-of-day windows included).

Why dated rows: DeepSeek changed prices at least seven times in 2025-26 and bills by UTC time window (weekdays
only, Chinese public holidays off-peak), so a call is priced at the table and window in force at its start time,
never at today's price. Holidays are data too: `rules/prices/calendars/<name>.toml`, one sourced row per year.

Every `[[price]]` row and every calendar year names its `source` and the date it was `verified`; a row without
them fails loading with one line naming the file and the row.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRICES_DIR = Path(__file__).resolve().parent.parent / "rules" / "prices"
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class PriceNotFound(LookupError):
    """No price table covers this provider/model at that time."""


class PriceError(ValueError):
    """A price file is malformed (message names the file and key)."""


class CalendarYear(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: int
    dates: list[dt.date]
    source: str = Field(min_length=1)
    verified: dt.date


class Calendar(BaseModel):
    """Public holidays by year; a year that is not listed is unknown (costs in it carry a warning)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    year: list[CalendarYear] = Field(default_factory=list)
    path: str = ""

    @functools.cached_property
    def _dates(self) -> frozenset[dt.date]:
        return frozenset(d for y in self.year for d in y.dates)

    def covers(self, day: dt.date) -> bool:
        return any(y.year == day.year for y in self.year)

    def is_holiday(self, day: dt.date) -> bool:
        return day in self._dates


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    hours: list[str] = Field(description="UTC 'HH:MM-HH:MM' ranges; may wrap midnight")
    days: list[str] = Field(default_factory=lambda: list(_DAYS))
    holidays: str | None = Field(None, description="calendar name: the window does not apply on its dates")
    multiplier: float | None = None
    cache_hit: float | None = None
    cache_miss: float | None = None
    output: float | None = None

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: list[str]) -> list[str]:
        for r in v:
            a, sep, b = r.partition("-")
            if not sep:
                raise ValueError(f"{r!r} is not HH:MM-HH:MM")
            for t in (a, b):
                dt.time.fromisoformat(t.strip())
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        bad = [d for d in v if d not in _DAYS]
        if bad:
            raise ValueError(f"{bad[0]!r} is not one of {', '.join(_DAYS)}")
        return v

    def anchor_day(self, at: dt.datetime) -> dt.date | None:
        """The UTC day whose window `at` falls in (a range wrapping midnight belongs to the day it started on);
        None when `at` is outside every range."""
        minute = at.hour * 60 + at.minute
        for r in self.hours:
            a, _, b = r.partition("-")
            start, end = _minutes(a), _minutes(b)
            inside = start <= minute < end if start < end else (minute >= start or minute < end)
            if inside:
                return at.date() - dt.timedelta(days=1) if start >= end and minute < end else at.date()
        return None

    def applies(self, at: dt.datetime, calendar: Calendar | None = None) -> bool:
        day = self.anchor_day(at)
        if day is None or _DAYS[day.weekday()] not in self.days:
            return False
        return not (calendar is not None and calendar.is_holiday(day))


def _minutes(hhmm: str) -> int:
    t = dt.time.fromisoformat(hhmm.strip())
    return t.hour * 60 + t.minute


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: list[str] = Field(min_length=1)
    effective: dt.datetime
    cache_hit: float
    cache_miss: float
    output: float
    source: str = Field(min_length=1, description="document title or URL the prices come from")
    verified: dt.date = Field(description="day the prices were last checked against the source")
    window: list[Window] = Field(default_factory=list)


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str
    currency: str = "USD"
    price: list[Price]
    calendars: dict[str, Calendar] = Field(default_factory=dict, exclude=True)


class Quote(BaseModel):
    """The rates in force for one model at one instant: the row, the window, and why."""

    provider: str
    model: str
    at: dt.datetime
    rates: dict[str, float]
    window: str | None = None
    price_effective: dt.datetime
    source: str
    verified: dt.date
    windows: list[str] = Field(default_factory=list, description="the row's windows, described")
    warnings: list[str] = Field(default_factory=list)


class Cost(BaseModel):
    """USD for one call; `breakdown` has cache_hit / cache_miss / output USD; rates are USD per 1M tokens."""

    usd: float
    breakdown: dict[str, float]
    tokens: dict[str, int]
    rates: dict[str, float]
    provider: str
    model: str
    window: str | None = None
    price_effective: dt.datetime
    source: str = ""
    warnings: list[str] = Field(default_factory=list)


def _row_error(f: Path, data: dict, exc: ValidationError) -> PriceError:
    err = exc.errors()[0]
    loc = list(err["loc"])
    where = ".".join(str(x) for x in loc)
    if len(loc) >= 2 and loc[0] == "price" and isinstance(loc[1], int):
        rows = data.get("price") or []
        row = rows[loc[1]] if loc[1] < len(rows) and isinstance(rows[loc[1]], dict) else {}
        models = row.get("models") or ["?"]
        field = ".".join(str(x) for x in loc[2:]) or "row"
        what = {"source": "missing 'source' (the document or URL the prices come from)",
                "verified": "missing 'verified' (the date they were last checked, e.g. verified = 2026-12-03)"}
        msg = what[field] if field in what and err["type"] == "missing" else f"{field}: {err['msg']}"
        return PriceError(f"{f}: price[{loc[1]}] ({models[0]}): {msg}")
    return PriceError(f"{f}: {where}: {err['msg']}")


@functools.lru_cache(maxsize=16)
def load_calendar(name: str, directory: str | None = None) -> Calendar:
    path = (Path(directory) if directory else PRICES_DIR) / "calendars" / f"{name}.toml"
    if not path.is_file():
        raise PriceError(f"{path}: no holiday calendar {name!r}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        cal = Calendar.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise PriceError(f"{path}: invalid TOML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "year" and isinstance(loc[1], int):
            rows = data.get("year") or []
            label = rows[loc[1]].get("year", "?") if loc[1] < len(rows) and isinstance(rows[loc[1]], dict) else "?"
            field = ".".join(str(x) for x in loc[2:])
            msg = f"missing {field!r}" if err["type"] == "missing" else f"{field}: {err['msg']}"
            raise PriceError(f"{path}: year[{loc[1]}] ({label}): {msg}") from None
        raise PriceError(f"{path}: {'.'.join(str(x) for x in loc)}: {err['msg']}") from None
    if cal.name != name:
        raise PriceError(f"{path}: name: {cal.name!r} does not match the file name {name!r}")
    try:  # shown in warnings: the repository path when it is the shipped calendar
        shown = f"rules/prices/{path.relative_to(PRICES_DIR).as_posix()}"
    except ValueError:
        shown = str(path)
    return cal.model_copy(update={"path": shown})


@functools.lru_cache(maxsize=16)
def load_prices(provider: str, directory: str | None = None) -> PriceTable:
    path = Path(directory) if directory else PRICES_DIR
    f = path / f"{provider}.toml"
    if not f.is_file():
        raise PriceNotFound(f"no price table for provider {provider!r} ({f})")
    try:
        data = tomllib.loads(f.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PriceError(f"{f}: invalid TOML ({exc})") from None
    try:
        table = PriceTable.model_validate(data)
    except ValidationError as exc:
        raise _row_error(f, data, exc) from None
    calendars = {}
    for i, row in enumerate(table.price):
        for w in row.window:
            if w.holidays and w.holidays not in calendars:
                try:
                    calendars[w.holidays] = load_calendar(w.holidays, directory)
                except PriceError as exc:
                    raise PriceError(f"{f}: price[{i}] ({row.models[0]}): window {w.name!r}: {exc}") from None
    table.calendars = calendars
    return table


def _describe(w: Window) -> str:
    days = "every day" if len(w.days) == 7 else ("Mon–Fri" if w.days == _DAYS[:5] else ",".join(w.days))
    rule = f"×{w.multiplier:g}" if w.multiplier is not None else "fixed prices"
    return f"{w.name} {' and '.join(w.hours)} UTC {days}" + (f" except {w.holidays} holidays" if w.holidays
                                                               else "") + f" ({rule})"


def price_at(provider: str, model: str, at: dt.datetime, *, directory: str | None = None) -> Quote:
    """The rates in force for `model` at `at` (naive datetimes are UTC). Raises PriceNotFound."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    at = at.astimezone(dt.timezone.utc)
    table = load_prices(provider, directory)
    rows = [p for p in table.price
            if p.effective <= at and any(fnmatch.fnmatchcase(model, m) for m in p.models)]
    if not rows:
        raise PriceNotFound(f"no {provider} price for model {model!r} at {at.isoformat()}")
    row = max(rows, key=lambda p: p.effective)
    rates = {"cache_hit": row.cache_hit, "cache_miss": row.cache_miss, "output": row.output}
    window, warnings = None, []
    for w in row.window:
        cal = table.calendars.get(w.holidays) if w.holidays else None
        day = w.anchor_day(at)
        if cal is not None and day is not None and not cal.covers(day):
            warnings.append(f"holiday calendar {cal.name!r} has no {day.year} dates ({cal.path}): window "
                            f"{w.name!r} applied as on a working day")
        if w.applies(at, cal):
            window = w.name
            if w.multiplier is not None:
                rates = {k: v * w.multiplier for k, v in rates.items()}
            for k in rates:
                if getattr(w, k) is not None:
                    rates[k] = getattr(w, k)
            break
    return Quote(provider=provider, model=model, at=at, rates=rates, window=window, price_effective=row.effective,
                 source=row.source, verified=row.verified, windows=[_describe(w) for w in row.window],
                 warnings=warnings)


def token_split(usage: dict) -> dict[str, int]:
    """cache_hit / cache_miss / output tokens from OpenAI- or DeepSeek-shaped usage."""
    prompt = int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
    if "prompt_cache_hit_tokens" in usage:
        hit = int(usage.get("prompt_cache_hit_tokens") or 0)
        miss = int(usage.get("prompt_cache_miss_tokens", prompt - hit) or 0)
    else:
        details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
        hit = int(details.get("cached_tokens") or 0)
        miss = max(0, prompt - hit)
    out = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
    return {"cache_hit": hit, "cache_miss": miss, "output": out}


def cost_of(provider: str, model: str, usage: dict, at: dt.datetime, *, directory: str | None = None) -> Cost:
    """Cost of one call started at `at` (naive datetimes are taken as UTC). Raises PriceNotFound."""
    q = price_at(provider, model, at, directory=directory)
    tokens = token_split(usage)
    breakdown = {k: tokens[k] * q.rates[k] / 1_000_000 for k in q.rates}
    return Cost(usd=sum(breakdown.values()), breakdown=breakdown, tokens=tokens, rates=q.rates, provider=provider,
                model=model, window=q.window, price_effective=q.price_effective, source=q.source,
                warnings=q.warnings)
