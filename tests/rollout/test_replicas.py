"""Two real proxy processes on one real PostgreSQL: they follow one ramp state, exactly one decides, and when
the deciding process is killed mid-ramp the other takes over and the ramp goes on."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import offramp.migrate.commands  # noqa: F401  (registers every command, as the console script does)
from offramp.migrate.cli_app import app
from offramp.migrate.fake_upstream.testing import FakeUpstream
from offramp.shadow.ramp.store import Leadership, RampStore, Status
from offramp.shadow.store import schema
from tests.rollout.traffic import APP_KEY, CAND_KEY, CAND_KEY_ENV, request_body

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
cli = CliRunner()

PLAN = """
[ramp]
min_step_seconds = 0.5
min_step_samples = 5
evaluate_every_seconds = 0.25
shadow_candidate_served = 1.0
hold_record_seconds = 0
[ramp.gates.disagreement]
min_samples = 5
min_baseline_samples = 5
pass_margin = 0.6
[ramp.gates.error_rate]
min_samples = 5
min_baseline_samples = 5
pass_margin = 0.6
[ramp.gates.json_validity]
min_samples = 5
min_baseline_samples = 5
pass_margin = 0.6
[ramp.gates.latency]
min_samples = 5
max_ratio = 20
[ramp.gates.ttft]
min_samples = 5
max_ratio = 20
[ramp.gates.cost]
min_samples = 5
max_ratio = 20
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(cfg: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "OFFRAMP_ADMIN_TOKEN": "adm-replicas", CAND_KEY_ENV: CAND_KEY}
    env.pop("OFFRAMP_RAMP_CONFIG", None)
    return subprocess.Popen([sys.executable, "-m", "offramp.migrate", "shadow", "serve", "--config", str(cfg), "--port",
                             str(port), "--log-level", "info"], cwd=ROOT, env=env,
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)


async def _wait_up(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90  # a deadline, not a wait: a loaded 2-core CI box imports slowly
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"proxy exited: {log.read_text()[-2000:]}")
            try:
                async with s.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"proxy on {port} did not come up: {log.read_text()[-2000:]}")


async def _send(port: int, start: int, n: int) -> list[str]:
    served = []
    async with aiohttp.ClientSession() as s:
        for i in range(start, start + n):
            body = request_body(i)
            body["user"] = f"user-{i}"
            async with s.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body,
                              headers={"authorization": f"Bearer {APP_KEY}"}) as r:
                await r.read()
                assert r.status == 200
                served.append(r.headers.get("x-offramp-served-by", "primary"))
    return served


def _ramp(url: str, *args: str) -> str:
    r = cli.invoke(app, ["shadow", "ramp", *args, "--store", url])
    assert r.exit_code == 0, r.output
    return r.output


async def _until(cond, timeout: float, what: str, tick=None) -> None:
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        if tick is not None:
            await tick(n)
            n += 1
        if cond():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_two_replicas_one_controller_survives_a_kill(pg_schema_url, tmp_path):
    url = pg_schema_url
    procs: dict[int, subprocess.Popen] = {}
    with FakeUpstream("openai", noise=0.02) as prim, FakeUpstream("deepseek", noise=0.02) as cand:
        cfg = tmp_path / "shadow.toml"
        cfg.write_text(f"""
[primary]
name = "openai"
base_url = "{prim.base_url}"
kind = "openai"
[candidate]
name = "deepseek"
base_url = "{cand.base_url}"
kind = "deepseek"
api_key_env = "{CAND_KEY_ENV}"
models = {{ "*" = "deepseek-flash" }}
[mirror]
sample = 1.0
noise_sample = 0.6
[store]
url = "{url}"
flush_interval_s = 0.1
[comparators]
enabled = ["structural", "token_similarity"]
""" + PLAN)  # one file: the proxy's config and the ramp plan
        ports = [_free_port(), _free_port()]
        try:
            for i, port in enumerate(ports):
                procs[port] = _start(cfg, port, tmp_path / f"proxy{i}.log")
            for i, port in enumerate(ports):
                await _wait_up(port, procs[port], tmp_path / f"proxy{i}.log")
            from offramp.shadow.store import open_engine

            eng = open_engine(url)
            store, lead = RampStore(eng), Leadership(eng, holder="observer")

            # 1. Every replica follows the one state row within seconds.
            _ramp(url, "set", "100")
            for port in ports:
                async def probe(_n, port=port):
                    probe.last = await _send(port, 10_000 + _n, 1)
                probe.last = []
                await _until(lambda probe=probe: probe.last == ["candidate"], 30, f"replica {port} to follow",
                             tick=probe)
            _ramp(url, "rollback", "--reason", "test reset")
            for port in ports:
                async def probe2(_n, port=port):
                    probe2.last = await _send(port, 20_000 + _n, 1)
                probe2.last = []
                await _until(lambda probe2=probe2: probe2.last == ["primary"], 30, f"replica {port} to roll back",
                             tick=probe2)

            # 2. Start the ramp; traffic on both replicas; exactly one of them decides.
            _ramp(url, "start")
            counter = {"i": 0}

            async def traffic(_n, targets=tuple(ports)):
                for port in targets:
                    await _send(port, counter["i"], 6)
                    counter["i"] += 6

            await _until(lambda: store.load().share >= 5, 240, "the ramp to reach 5%", tick=traffic)
            holder = lead.holder_now()
            assert holder is not None
            leader_pid = int(holder.rsplit("-", 1)[1])
            assert leader_pid in {p.pid for p in procs.values()}
            before = store.decisions()
            assert {d.actor for d in before if d.action == "advance"} == {f"controller:{holder}"}

            # 3. Kill the deciding process mid-ramp; the survivor takes over and the ramp goes on.
            dead_port = next(port for port, p in procs.items() if p.pid == leader_pid)
            survivor_port = next(port for port in ports if port != dead_port)
            procs[dead_port].send_signal(signal.SIGKILL)
            procs[dead_port].wait(10)
            share_at_kill = store.load().share

            async def survivor_traffic(_n):
                await traffic(_n, targets=(survivor_port,))

            await _until(lambda: store.load().share > share_at_kill
                         or store.load().status is Status.awaiting_approval, 240,
                         "the survivor to advance the ramp", tick=survivor_traffic)
            new_holder = lead.holder_now()
            assert new_holder is not None and new_holder != holder
            assert int(new_holder.rsplit("-", 1)[1]) == procs[survivor_port].pid
            # The killed leader may have been at 50%: the survivor's next decision is then the approval gate.
            after = [d for d in store.decisions() if d.at > before[-1].at
                     and d.action in ("advance", "await_approval")]
            assert after and all(d.actor == f"controller:{new_holder}" for d in after)

            # 4. Samples from both replicas were aggregated in the one store.
            with eng.connect() as conn:
                replicas = conn.execute(select(func.count(func.distinct(schema.pairs.c.replica)))).scalar()
            assert replicas == 2
            eng.dispose()
        finally:
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            for log in sorted(tmp_path.glob("proxy*.log")):  # shown by pytest only when the test fails
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
