"""Skip-or-fail for the browser, by the rule of tests/conftest.py for services: CI must have it."""

from __future__ import annotations

import os

import pytest


def need_browser() -> None:
    reason = "chromium is not installed: apt-get install -y chromium"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI=true: services must be present)")
    pytest.skip(reason)
