"""A scripted ramp through every state, on a real proxy in front of fake upstreams, for the dashboard tests.

0% (waiting for the step's samples) → hold (latency has too few samples) → 5% → awaiting approval → approve →
complete at 100% → the candidate starts picking the wrong tool → rolled back. At each state the store is copied
(`snapshots[state]`) together with what the controller did, and — when Chromium is installed — the live
dashboard is loaded in headless Chromium while the proxy runs: its DOM and a screenshot under artifacts/.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from offramp.shadow.ramp.controller import Assessment, RampController
from offramp.shadow.ramp.evidence import StoreEvidence
from offramp.shadow.ramp.gates import GateConfig, ProportionGateConfig, RatioGateConfig
from offramp.shadow.ramp.plan import RampPlan
from offramp.shadow.ramp.store import Decision, RampState, RampStore
from offramp.shadow.store import open_engine

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
ADMIN = "admin-token-scripted"
STATES = ("running", "hold", "awaiting_approval", "complete", "rolled_back")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def scripted_plan() -> RampPlan:
    lenient = ProportionGateConfig(min_samples=20, min_baseline_samples=10, pass_margin=0.5)
    return RampPlan(
        steps=[0, 5, 100], min_step_seconds=0, min_step_samples=30, evaluate_every_seconds=3600,
        shadow_candidate_served=1.0, hold_record_seconds=0,
        gates=GateConfig(disagreement=lenient, json_validity=lenient, error_rate=lenient,
                         latency=RatioGateConfig(min_samples=60, max_ratio=50, quantile=0.5),
                         ttft=RatioGateConfig(min_samples=5, max_ratio=50, quantile=0.5),
                         cost=RatioGateConfig(min_samples=10, max_ratio=50)))


@dataclass
class Snapshot:
    state: str
    url: str  # a copy of the store at this state
    ramp: RampState
    decision: Decision | None  # what the controller's tick (or the operator) wrote
    assessment: Assessment | None  # the controller's assessment at that tick
    dom: str | None = None  # the live dashboard, as headless Chromium rendered it
    screenshot: Path | None = None
    dark_screenshot: Path | None = None
    pairs_dom: str | None = None  # the pair viewer of the rollback's gate (rolled_back only)


@dataclass
class Scripted:
    plan: RampPlan
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    chromium: str | None = None


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _copy(src_url: str, dst: Path) -> str:
    src = sqlite3.connect(src_url.removeprefix("sqlite:///"))
    out = sqlite3.connect(dst)
    with out:
        src.backup(out)
    src.close()
    out.close()
    return f"sqlite:///{dst}"


def _browse(exe: str, url: str, profile: Path, shot: Path | None, dark: bool = False) -> str:
    extra = ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"] if dark else []
    dom = subprocess.run([exe, *FLAGS, *extra, f"--user-data-dir={profile}-d", "--window-size=1280,2600",
                          "--dump-dom", "--virtual-time-budget=3000", url],
                         capture_output=True, text=True, timeout=90)
    if shot is not None:
        shot.unlink(missing_ok=True)  # a screenshot of an earlier run must not pass for this one
        subprocess.run([exe, *FLAGS, *extra, f"--user-data-dir={profile}-s", "--window-size=1280,2600",
                        f"--screenshot={shot}", "--virtual-time-budget=3000", url],
                       capture_output=True, text=True, timeout=90)
    return dom.stdout


def run_scripted(tmp: Path) -> Scripted:
    from offramp.migrate.fake_upstream.testing import FakeUpstream
    from tests.rollout.traffic import CAND_KEY, CAND_KEY_ENV, running_proxy, send, settle, shadow_config

    os.environ[CAND_KEY_ENV] = CAND_KEY
    plan = scripted_plan()
    url = f"sqlite:///{tmp / 'shadow.db'}"
    out = Scripted(plan=plan, chromium=chromium())
    if out.chromium:
        ARTIFACTS.mkdir(exist_ok=True)
    families = {}  # filled once the first pairs name their families
    sent = 0

    async def phase(candidate_degrade: str | None, steps) -> None:
        nonlocal sent
        with FakeUpstream("openai", noise=0.05) as p, FakeUpstream(
                "deepseek", noise=0.05, **({"degrade": candidate_degrade} if candidate_degrade else {})) as c:
            cfg = shadow_config(p.base_url, c.base_url, url, ramp=plan.model_dump(), families=families)
            async with running_proxy(cfg, admin_token=ADMIN) as (proxy, base):
                eng = open_engine(url)
                ctl = RampController(plan, RampStore(eng), StoreEvidence(eng))
                try:
                    for kind, arg in steps:
                        if kind == "send":
                            await send(base + "/v1", arg, start=sent)
                            sent += arg
                            await settle(proxy)
                        elif kind == "command":
                            ctl.command(arg, actor="cli:tester@test")
                            await asyncio.sleep(1.3)  # every replica follows the row within ~1 s
                        elif kind == "tick":
                            d = await asyncio.to_thread(ctl.tick)
                            assert (d.action if d else None) == arg, (arg, d and d.action, d and d.reason,
                                                                      ctl.last_assessment)
                            await asyncio.sleep(1.3 if d else 0)
                            out.snapshots["_last"] = Snapshot(state="", url="", ramp=ctl.store.load(), decision=d,
                                                              assessment=ctl.last_assessment)
                        elif kind == "label":
                            from sqlalchemy import select

                            from offramp.shadow.store import schema

                            with eng.connect() as conn:
                                fid = conn.execute(select(schema.pairs.c.family).limit(1)).scalar()
                            families[fid] = arg
                            proxy.cfg.families[fid] = arg
                        elif kind == "snapshot":
                            last = out.snapshots.pop("_last")
                            snap = Snapshot(state=arg, url=_copy(url, tmp / f"{arg}.db"), ramp=ctl.store.load(),
                                            decision=last.decision, assessment=last.assessment)
                            if out.chromium:
                                shot = ARTIFACTS / f"rollout-{arg}.png"
                                snap.dom = await asyncio.to_thread(
                                    _browse, out.chromium, f"{base}/dashboard?token={ADMIN}", tmp / arg, shot)
                                snap.screenshot = shot
                                if arg == "rolled_back":
                                    dark = ARTIFACTS / "rollout-rolled_back-dark.png"
                                    await asyncio.to_thread(_browse, out.chromium, f"{base}/dashboard?token={ADMIN}",
                                                            tmp / "dark", dark, True)
                                    snap.dark_screenshot = dark
                                    gate = snap.ramp.reason.split(":")[1].strip() if ":" in snap.ramp.reason else ""
                                    snap.pairs_dom = await asyncio.to_thread(
                                        _browse, out.chromium,
                                        f"{base}/dashboard/pairs?gate={gate}&token={ADMIN}", tmp / "pairs",
                                        ARTIFACTS / "rollout-pair-viewer.png")
                            out.snapshots[arg] = snap
                finally:
                    eng.dispose()

    good = [("command", "start"), ("send", 10), ("label", "weather agent"), ("tick", None),
            ("snapshot", "running"),
            ("send", 30), ("tick", "hold"), ("snapshot", "hold"),
            ("send", 40), ("tick", "advance"),
            ("send", 70), ("tick", "await_approval"), ("snapshot", "awaiting_approval"),
            ("command", "approve"), ("send", 70), ("tick", None), ("snapshot", "complete")]
    bad = [("send", 160), ("tick", "rollback"), ("snapshot", "rolled_back")]
    asyncio.run(phase(None, good))
    asyncio.run(phase("wrong_tool=1.0", bad))
    return out
