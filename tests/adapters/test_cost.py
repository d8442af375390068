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
