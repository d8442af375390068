"""Dated price tables: the price in force at the call's start, DeepSeek's peak/off-peak and older windows."""

from __future__ import annotations

import datetime as dt

import pytest

from offramp.adapters.cost import PriceNotFound, cost_of, token_split

M = 1_000_000
DS_USAGE = {"prompt_tokens": 2 * M, "prompt_cache_hit_tokens": M, "prompt_cache_miss_tokens": M,
            "completion_tokens": M}


def at(text):
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


def test_usage_shapes_split_the_same():
    oa = {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 4}}
    ds = {"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 4, "prompt_cache_miss_tokens": 6}
    assert token_split(oa) == token_split(ds) == {"cache_hit": 4, "cache_miss": 6, "output": 2}


@pytest.mark.parametrize("when,window,usd", [
    ("2026-11-23T02:00", "peak", 2 * (0.003 + 0.15 + 0.60)),  # Monday 02:00 UTC: peak
    ("2026-11-23T05:00", None, 0.003 + 0.15 + 0.60),  # between the two peak windows
    ("2026-11-23T09:59", "peak", 2 * (0.003 + 0.15 + 0.60)),
    ("2026-11-22T02:00", None, 0.003 + 0.15 + 0.60),  # Sunday: no peak
    ("2026-10-01T02:00", None, 0.003 + 0.15 + 0.60),  # national holiday: no peak
])
def test_deepseek_flash_peak_off_peak(when, window, usd):
    c = cost_of("deepseek", "deepseek-flash", DS_USAGE, at(when))
    assert c.window == window and c.usd == pytest.approx(usd)
    assert set(c.breakdown) == {"cache_hit", "cache_miss", "output"}


def test_v4_pro_before_and_after_peak_billing():
    before = cost_of("deepseek", "deepseek-v4-pro", DS_USAGE, at("2026-08-14T02:00"))  # a Friday, pre-windows
    assert before.window is None and before.usd == pytest.approx(0.003625 + 0.435 + 0.87)
    after = cost_of("deepseek", "deepseek-v4-pro", DS_USAGE, at("2026-08-17T02:00"))  # Monday peak
    assert after.window == "peak" and after.usd == pytest.approx(2 * (0.022 + 0.66 + 1.98))


def test_old_off_peak_window_wraps_midnight():
    night = cost_of("deepseek", "deepseek-reasoner", DS_USAGE, at("2025-03-01T23:00"))
    early = cost_of("deepseek", "deepseek-reasoner", DS_USAGE, at("2025-03-02T00:15"))
    day = cost_of("deepseek", "deepseek-reasoner", DS_USAGE, at("2025-03-01T12:00"))
    assert night.window == early.window == "off-peak" and night.usd == pytest.approx(0.035 + 0.135 + 0.55)
    assert day.window is None and day.usd == pytest.approx(0.14 + 0.55 + 2.19)


def test_promotion_and_price_change_dates():
    assert cost_of("deepseek", "deepseek-chat", DS_USAGE, at("2025-01-10T12:00")).usd == pytest.approx(0.434)
    assert cost_of("deepseek", "deepseek-chat", DS_USAGE, at("2025-02-20T12:00")).usd == pytest.approx(1.44)


def test_openai_prices_and_unknown_models():
    c = cost_of("openai", "gpt-4o", {"prompt_tokens": M, "completion_tokens": M,
                                     "prompt_tokens_details": {"cached_tokens": M // 2}}, at("2026-01-01T00:00"))
    assert c.usd == pytest.approx(0.625 + 1.25 + 10.0)
    assert cost_of("openai", "text-embedding-3-small", {"prompt_tokens": M}, at("2026-01-01T00:00")).usd == \
        pytest.approx(0.02)
    with pytest.raises(PriceNotFound):
        cost_of("openai", "no-such-model", DS_USAGE, at("2026-01-01T00:00"))
    with pytest.raises(PriceNotFound):
        cost_of("vllm", "x", DS_USAGE, at("2026-01-01T00:00"))
    with pytest.raises(PriceNotFound):
        cost_of("deepseek", "deepseek-flash", DS_USAGE, at("2025-01-01T00:00"))  # before it existed


# --- the price in force at the request's time (fact-check-2026-12 §1d) -------------------------------------------

FLASH_OFF = 0.003 + 0.15 + 0.60  # deepseek-flash off-peak, 1M hit + 1M miss + 1M output


@pytest.mark.parametrize("when,window,usd", [
    ("2026-12-02T02:00", "peak", 2 * FLASH_OFF),  # a Wednesday, 02:00 UTC = 10:00 Beijing: peak (×2)
    ("2026-12-02T05:00", None, FLASH_OFF),  # 05:00 UTC = 13:00 Beijing: between the two peak windows
    ("2026-12-05T02:00", None, FLASH_OFF),  # a Saturday: off-peak all day
])
def test_deepseek_price_pinned_at_weekday_0200_weekday_0500_and_saturday(when, window, usd):
    for model in ("deepseek-flash", "deepseek-v4-flash"):  # the legacy id is billed at the Flash price
        c = cost_of("deepseek", model, DS_USAGE, at(when))
        assert c.window == window and c.usd == pytest.approx(usd), model
        assert c.rates["output"] == pytest.approx(1.20 if window else 0.60)


def test_v4_flash_from_2026_08_16_is_billed_at_the_0731_prices():
    """Under-billed before the fix: off-peak 0.007/0.22/0.66, peak 0.014/0.44/1.32 (was 0.0028/0.14/0.28)."""
    off = cost_of("deepseek", "deepseek-v4-flash", DS_USAGE, at("2026-08-31T05:00"))  # Monday, between windows
    peak = cost_of("deepseek", "deepseek-v4-flash", DS_USAGE, at("2026-08-31T07:00"))
    assert off.window is None and off.usd == pytest.approx(0.007 + 0.22 + 0.66)
    assert peak.window == "peak" and peak.usd == pytest.approx(0.014 + 0.44 + 1.32)


def test_the_first_week_of_peak_billing_had_no_weekend_rule():
    sat_first_week = cost_of("deepseek", "deepseek-v4-pro", DS_USAGE, at("2026-08-22T02:00"))
    sun_after = cost_of("deepseek", "deepseek-v4-pro", DS_USAGE, at("2026-08-23T02:00"))
    assert sat_first_week.window == "peak" and sun_after.window is None


def test_legacy_flash_ids_move_to_the_v41_price_on_2026_09_09_1600_utc():
    before = cost_of("deepseek", "deepseek-v4-flash-vision-exp", DS_USAGE, at("2026-09-09T15:59"))
    after = cost_of("deepseek", "deepseek-v4-flash-vision-exp", DS_USAGE, at("2026-09-09T16:00"))
    assert before.usd == pytest.approx(0.007 + 0.22 + 0.66)
    assert after.usd == pytest.approx(FLASH_OFF) and after.price_effective == at("2026-09-09T16:00")
    with pytest.raises(PriceNotFound):
        cost_of("deepseek", "deepseek-flash", DS_USAGE, at("2026-09-10T03:59"))  # launched 04:00 UTC
    assert cost_of("deepseek", "deepseek-flash", DS_USAGE, at("2026-09-10T04:00")).source.startswith("DS-PRICE-1017")


def test_v32_price_cut_dates_from_2025_09_29():
    assert cost_of("deepseek", "deepseek-chat", DS_USAGE, at("2025-10-15T12:00")).usd == \
        pytest.approx(0.028 + 0.28 + 0.42)


def test_a_year_missing_from_the_holiday_calendar_is_flagged():
    c = cost_of("deepseek", "deepseek-flash", DS_USAGE, at("2027-01-01T02:00"))  # not yet in calendars/cn.toml
    assert c.window == "peak" and any("no 2027 dates" in w and "calendars/cn.toml" in w for w in c.warnings)
    assert cost_of("deepseek", "deepseek-flash", DS_USAGE, at("2026-12-02T02:00")).warnings == []


def test_current_openai_models_are_priced():
    usage = {"prompt_tokens": 2 * M, "completion_tokens": M, "prompt_tokens_details": {"cached_tokens": M}}
    for model, usd in (("gpt-5", 0.125 + 1.25 + 10), ("gpt-5-mini", 0.025 + 0.25 + 2), ("gpt-5-nano", 0.455),
                       ("gpt-5.4", 0.25 + 2.5 + 15), ("gpt-5.4-mini", 0.075 + 0.75 + 4.5), ("gpt-5.5", 35.5),
                       ("gpt-4.1-mini", 0.1 + 0.4 + 1.6), ("o3", 0.5 + 2 + 8), ("o4-mini", 0.275 + 1.1 + 4.4),
                       ("gpt-6-luna", 0.61)):
        assert cost_of("openai", model, usage, at("2026-11-01T00:00")).usd == pytest.approx(usd), model


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path.parent)


def test_a_price_row_without_provenance_fails_in_one_line(tmp_path):
    from offramp.adapters.cost import PriceError, load_prices

    row = ('provider = "acme"\n[[price]]\nmodels = ["m1"]\neffective = 2026-01-01T00:00:00Z\n'
           'cache_hit = 1\ncache_miss = 1\noutput = 1\n')
    d = _write(tmp_path / "acme.toml", row + 'source = "price sheet"\n')
    with pytest.raises(PriceError, match=r"acme.toml: price\[0\] \(m1\): missing 'verified'") as exc:
        load_prices("acme", d)
    assert "\n" not in str(exc.value)
    _write(tmp_path / "acme2.toml", row.replace("acme", "acme2") + "verified = 2026-12-03\n")
    with pytest.raises(PriceError, match=r"acme2.toml: price\[0\] \(m1\): missing 'source'"):
        load_prices("acme2", d)
    _write(tmp_path / "acme3.toml", row.replace("acme", "acme3") + 'source = "s"\nverified = 2026-12-03\n'
           '[[price.window]]\nname = "peak"\nhours = ["01:00-02:00"]\nholidays = "xx"\nmultiplier = 2.0\n')
    with pytest.raises(PriceError, match=r"acme3.toml: price\[0\] \(m1\): window 'peak': .*no holiday calendar 'xx'"):
        load_prices("acme3", d)


def test_a_calendar_year_without_provenance_fails_in_one_line(tmp_path):
    from offramp.adapters.cost import PriceError, load_calendar

    (tmp_path / "calendars").mkdir()
    _write(tmp_path / "calendars" / "zz.toml", 'name = "zz"\n[[year]]\nyear = 2026\ndates = [2026-01-01]\n'
           'source = "gazette"\n')
    with pytest.raises(PriceError, match=r"zz.toml: year\[0\] \(2026\): missing 'verified'"):
        load_calendar("zz", str(tmp_path))
