"""Per-call cost from the dated price tables in `rules/prices/*.toml` (DeepSeek's time-of-day windows included).

Why dated rows: DeepSeek changed prices at least seven times in 2025-26 and bills by UTC time window, so a call
is priced at the table in force at its start time, never at today's price.
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


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    hours: list[str] = Field(description="UTC 'HH:MM-HH:MM' ranges; may wrap midnight")
    days: list[str] = Field(default_factory=lambda: list(_DAYS))
    skip_holidays: bool = False
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

    def applies(self, at: dt.datetime, holidays: set[dt.date]) -> bool:
        day = at.date()
        minute = at.hour * 60 + at.minute
        for r in self.hours:
            a, _, b = r.partition("-")
            start, end = (_minutes(a), _minutes(b))
            inside = start <= minute < end if start < end else (minute >= start or minute < end)
            if not inside:
                continue
            # a range wrapping midnight belongs to the day it started on
            anchor = day - dt.timedelta(days=1) if start >= end and minute < end else day
            if _DAYS[anchor.weekday()] in self.days and not (self.skip_holidays and anchor in holidays):
                return True
        return False


def _minutes(hhmm: str) -> int:
    t = dt.time.fromisoformat(hhmm.strip())
    return t.hour * 60 + t.minute


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: list[str]
    effective: dt.datetime
    cache_hit: float
    cache_miss: float
    output: float
    source: str = ""
    window: list[Window] = Field(default_factory=list)


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    provider: str
    currency: str = "USD"
    holidays: list[dt.date] = Field(default_factory=list)
    price: list[Price]


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


@functools.lru_cache(maxsize=16)
def load_prices(provider: str, directory: str | None = None) -> PriceTable:
    path = Path(directory) if directory else PRICES_DIR
    f = path / f"{provider}.toml"
    if not f.is_file():
        raise PriceNotFound(f"no price table for provider {provider!r} ({f})")
    try:
        data = tomllib.loads(f.read_text(encoding="utf-8"))
        return PriceTable.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise PriceError(f"{f}: invalid TOML ({exc})") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        raise PriceError(f"{f}: {'.'.join(str(x) for x in err['loc'])}: {err['msg']}") from None


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
    window = None
    holidays = set(table.holidays)
    for w in row.window:
        if w.applies(at, holidays):
            window = w.name
            if w.multiplier is not None:
                rates = {k: v * w.multiplier for k, v in rates.items()}
            for k in rates:
                if getattr(w, k) is not None:
                    rates[k] = getattr(w, k)
            break
    tokens = token_split(usage)
    breakdown = {k: tokens[k] * rates[k] / 1_000_000 for k in rates}
    return Cost(usd=sum(breakdown.values()), breakdown=breakdown, tokens=tokens, rates=rates, provider=provider,
                model=model, window=window, price_effective=row.effective)
