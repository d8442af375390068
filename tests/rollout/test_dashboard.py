"""The live dashboard on the proxy: token required, figures render, and a real headless Chromium shows them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest

from tests.rollout.traffic import running_proxy, shadow_config

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture
def cfg(recorded, tmp_path):
    # The proxy only reads the recorded store; its upstreams are never called in these tests.
    return shadow_config("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1", recorded["url"])


async def test_dashboard_needs_the_admin_token(cfg, recorded):
    async with running_proxy(cfg, admin_token=recorded["admin"]) as (_proxy, base):
        async with aiohttp.ClientSession() as s:
            r = await s.get(f"{base}/dashboard")
            assert r.status == 401
            r = await s.get(f"{base}/dashboard", headers={"authorization": "Bearer wrong"})
            assert r.status == 401
            r = await s.get(f"{base}/dashboard?token=wrong", allow_redirects=False)
            assert r.status == 401
            r = await s.get(f"{base}/dashboard/report.json")
            assert r.status == 401


async def test_dashboard_disabled_without_a_token(cfg):
    async with running_proxy(cfg, admin_token="") as (_proxy, base):
        async with aiohttp.ClientSession() as s:
            r = await s.get(f"{base}/dashboard", headers={"authorization": "Bearer "})
            assert r.status == 403


async def test_dashboard_serves_the_report_live(cfg, recorded):
    async with running_proxy(cfg, admin_token=recorded["admin"]) as (_proxy, base):
        async with aiohttp.ClientSession() as s:
            r = await s.get(f"{base}/dashboard", headers={"authorization": f"Bearer {recorded['admin']}"})
            page = await r.text()
            assert r.status == 200 and "http-equiv=refresh" in page
            assert "data-figure=agreement" in page and "rolled_back" in page
            r = await s.get(f"{base}/dashboard/report.json",
                            headers={"authorization": f"Bearer {recorded['admin']}"})
            data = await r.json()
            assert data["ramp"]["status"] == "rolled_back" and data["pairs"] > 0


async def test_token_in_the_url_becomes_a_cookie_and_is_dropped_from_the_url(cfg, recorded):
    async with running_proxy(cfg, admin_token=recorded["admin"]) as (_proxy, base):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:  # jar: IP hosts too
            r = await s.get(f"{base}/dashboard?token={recorded['admin']}", allow_redirects=False)
            assert r.status == 302 and r.headers["location"] == "/dashboard"
            cookie = r.cookies["offramp_dashboard"]
            assert recorded["admin"] not in cookie.value and cookie["httponly"]
            r = await s.get(f"{base}/dashboard")  # the session sends the cookie
            assert r.status == 200


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
async def test_headless_chromium_renders_the_figures(cfg, recorded, tmp_path):
    import asyncio

    exe = _chromium()
    if exe is None:
        from tests.rollout.conftest_services import need_browser

        need_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "rollout-dashboard.png"
    shot.unlink(missing_ok=True)  # a screenshot left by an earlier run must not pass for this one
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--window-size=1280,2400"]
    async with running_proxy(cfg, admin_token=recorded["admin"]) as (_proxy, base):
        url = f"{base}/dashboard?token={recorded['admin']}"

        def run(extra: list[str], profile: str) -> subprocess.CompletedProcess:
            return subprocess.run([exe, *flags, f"--user-data-dir={tmp_path / profile}", *extra, url],
                                  capture_output=True, text=True, timeout=60)

        dom = await asyncio.to_thread(run, ["--dump-dom", "--virtual-time-budget=3000"], "p1")
        shot_run = await asyncio.to_thread(run, [f"--screenshot={shot}", "--virtual-time-budget=3000"], "p2")
    html = dom.stdout
    assert "Offramp rollout dashboard" in html, dom.stderr[-2000:]
    # The figures a reviewer reads: share, gate verdict, pairs, agreement rows, history, a diverging pair.
    assert re.search(r'data-figure="ramp-share">Ramp<b>0%</b>', html)
    assert re.search(r'data-figure="pairs">Pairs<b>\d+', html)
    assert "structural" in html and "rollback" in html and 'data-figure="pair"' in html
    assert shot_run.returncode == 0 and shot.exists() and shot.stat().st_size > 10_000, shot_run.stderr[-2000:]
