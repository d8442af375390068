"""Proxy overhead benchmark: direct vs a 50-line aiohttp pass-through (the Python floor) vs the shadow proxy with
mirroring off (also without the rollout extensions, full mode) and with 100% mirroring + comparison + recording (and LiteLLM's proxy with --litellm), against the
fake upstream at 0 ms, interleaved in one run so the ratios are fair on a shared machine.

    python bench/proxy/run.py            # concurrency 1/16/64, stream and not, + delayed-upstream p99 check
    python bench/proxy/run.py --quick    # well under a minute
    python bench/proxy/run.py --litellm  # also LiteLLM (installed into its own virtualenv on first use)
    python bench/proxy/run.py --quick --baseline /tmp/base --concurrency 16 --rounds 3   # before/after, one cell
    # (/tmp/base: `git archive main | tar -x -C /tmp/base`, with its own .venv: see _interpreter)

Per cell it also prints each server's CPU per request (from /proc, the target's turns and the drain of its own
mirror backlog after each turn, which is waited for before the next target's turn; "proc only": its own process,
without the mirror workers; and the workers' CPU per request they mirrored), the CPU budget per request of every
process taking part (load generator, both fake upstreams, proxy, workers), and the share of requests the
mirroring proxies actually mirrored, and mirrored by the end of the turn (sustained, the workers keep up only
when that is ~100%; `--seconds 6` outlasts the hand-off's buffer): on a shared machine, the steadier figures.

    python bench/proxy/run.py --quick --concurrency 16 --seconds 6 --worker-nice 0   # nice 10 (default) vs 0
    python bench/proxy/run.py --quick --concurrency 16 --profile-workers /tmp/prof   # cProfile of the workers

Every server runs in its own process; the load generator is an aiohttp client in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
LOGDIR = tempfile.mkdtemp(prefix="offramp-bench-")  # server logs and stores; removed after a clean run
KEY = "sk-bench-9f2c4e1a7b3d5f608e1c2a4b6d8f0e3c71a5"  # also LiteLLM's master key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    def __init__(self, name: str, cmd: list[str], health: str, env: dict | None = None,
                 cwd: Path = ROOT) -> None:
        self.name, self.cmd, self.health = name, cmd, health
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False, dir=LOGDIR)
        self.p = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                  cwd=cwd)

    async def ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                if self.p.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: see {self.log.name}")
                try:
                    async with s.get(self.health, headers={"authorization": f"Bearer {KEY}"}) as r:
                        body = await r.read()
                        # A shadow proxy is ready once its mirror workers are (their start-up CPU is not
                        # charged to the first cell).
                        if r.status < 500 and b'"mirror_ready": false' not in body:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready: see {self.log.name}")

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def fake(flavor: str, latency_ms: float = 0.0, nice: int = 0) -> tuple[Proc, str]:
    port = free_port()
    cmd = [sys.executable, "-m", "offramp.migrate", "fake-upstream", "--flavor", flavor, "--port", str(port),
           "--record-limit", "0", "--latency-ms", str(latency_ms)]
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    return Proc(f"fake-{flavor}", cmd, f"http://127.0.0.1:{port}/_fake/health"), f"http://127.0.0.1:{port}"


# The proxy without the rollout's extensions (shadow/ramp, shadow/dashboard), to attribute their cost.
_CORE = ("import sys, offramp.shadow.proxy as p; p._load_builtin_extensions = lambda: None; "
         "from offramp.shadow.cli import app; sys.argv[0] = 'migrate'; app()")


# The comparators every mirrored pair runs through. embedding_cosine (when installed) is opt-in here with
# --embedding: it costs ~30 ms of model CPU per pair in its worker process, which on this 2-core machine is
# CPU taken from the proxy and the load generator rather than proxy overhead.
COMPARATORS = ["structural", "text_exact", "token_similarity"]
MIRROR: dict[str, int] = {}  # [mirror] settings of every mirroring proxy (--mirror-processes, --mirror-concurrency)


def shadow(primary: str, candidate: str, sample: float, store: Path, core: bool = False,
           tree: Path | None = None, mirror: dict | None = None, name: str | None = None) -> tuple[Proc, str]:
    """The proxy from this checkout, or from `tree` (another source tree: `--baseline`, before/after); `mirror`:
    [mirror] settings of this proxy on top of MIRROR (e.g. worker_nice)."""
    port = free_port()
    launcher = ["-c", _CORE] if core else ["-m", "offramp.migrate", "shadow"]
    exe = _interpreter(tree or ROOT)
    cfg = store.with_suffix(".toml")
    settings = {**MIRROR, **(mirror or {})}
    cfg.write_text(f"[comparators]\nenabled = {json.dumps(COMPARATORS)}\n"
                   + ("[mirror]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()) if settings else ""))
    cmd = [exe, *launcher, "serve", "--config", str(cfg), "--primary", f"openai={primary}/v1",
           "--candidate", f"deepseek={candidate}/v1", "--port", str(port), "--store", str(store),
           "--sample", str(sample), "--noise-sample", "0", "--log-level", "warning"]
    name = name or f"shadow-{sample}" + ("-core" if core else "") + ("-base" if tree else "")
    env = {"DEEPSEEK_API_KEY": KEY, **({"PYTHONPATH": str(tree)} if tree else {})}
    proc = Proc(name, cmd, f"http://127.0.0.1:{port}/healthz", env=env, cwd=tree or ROOT)
    return proc, f"http://127.0.0.1:{port}"


@functools.cache
def _interpreter(tree: Path) -> str:
    """The Python that imports `offramp` from `tree`: its own virtualenv (`tree/.venv`, with `pip install -e
    tree --no-deps`) when it has one, else this one with PYTHONPATH — which an editable install of offramp in
    this interpreter overrides, so the answer is checked rather than assumed."""
    exe = tree / ".venv" / "bin" / "python"
    exe = str(exe) if exe.exists() else sys.executable
    got = subprocess.run([exe, "-c", "import offramp.shadow as m; print(m.__file__)"], capture_output=True,
                         text=True, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}).stdout.strip()
    if not Path(got).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree}: offramp imports from {got or '?'} there, not from the tree; make "
                         f"it a virtualenv: python -m venv --system-site-packages {tree}/.venv && "
                         f"{tree}/.venv/bin/pip install -e {tree} --no-deps")
    return exe


def passthrough(upstream: str) -> tuple[Proc, str]:
    port = free_port()
    cmd = [sys.executable, str(HERE / "passthrough.py"), "--upstream", upstream, "--port", str(port)]
    return Proc("passthrough", cmd, f"http://127.0.0.1:{port}/v1/models"), f"http://127.0.0.1:{port}"


def litellm(upstream: str) -> tuple[Proc, str]:
    venv = Path(os.environ.get("OFFRAMP_LITELLM_VENV", Path.home() / ".cache" / "offramp-bench" / "litellm-venv"))
    exe = venv / "bin" / "litellm"
    if not exe.exists():
        print(f"installing litellm[proxy] into {venv} (first run only)…", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True)
    cfg = Path(tempfile.mkstemp(prefix="litellm-", suffix=".yaml")[1])
    cfg.write_text(
        "model_list:\n  - model_name: gpt-4o-mini\n    litellm_params:\n      model: openai/gpt-4o-mini\n"
        f"      api_base: {upstream}/v1\n      api_key: {KEY}\n"
        "litellm_settings:\n  telemetry: false\n  drop_params: true\n"
        f"general_settings:\n  master_key: {KEY}\n"
    )
    port = free_port()
    cmd = [str(exe), "--config", str(cfg), "--port", str(port), "--num_workers", "1"]
    return Proc("litellm", cmd, f"http://127.0.0.1:{port}/health/liveliness"), f"http://127.0.0.1:{port}"


BODY = {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "You are terse."},
                                             {"role": "user", "content": "Name three prime numbers."}]}


async def load(base: str, concurrency: int, stream: bool, seconds: float, warmup: float = 0.3) -> dict:
    lat, errors, _ = await _load(base, concurrency, stream, seconds, warmup)
    return summarize(lat, errors, seconds)


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int, own: bool = False) -> float:
    """User + system CPU of `pid` and its live descendants (mirror workers under their fork server, the
    embedding worker), from /proc; with `own`, of `pid` alone."""
    total = 0.0
    for p in [pid] if own else [pid, *_descendants(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


async def mirrored(base: str) -> tuple[float, float] | None:
    """(candidate calls made, mirrors skipped as queue_full) so far by a shadow proxy (from its /metrics); None
    for other servers."""
    try:
        async with aiohttp.ClientSession() as s, s.get(f"{base}/metrics") as r:
            if r.status != 200:
                return None
            text = await r.text()
    except aiohttp.ClientError:
        return None
    lines = text.splitlines()
    return (sum(float(ln.rsplit(" ", 1)[1]) for ln in lines
                if ln.startswith("offramp_mirrors_total{") and 'target="candidate"' in ln),
            sum(float(ln.rsplit(" ", 1)[1]) for ln in lines
                if ln.startswith("offramp_mirror_skips_total{") and 'reason="queue_full"' in ln))


async def in_flight(base: str) -> float:
    """Mirror jobs a shadow proxy has handed off and not settled yet (its /metrics)."""
    try:
        async with aiohttp.ClientSession() as s, s.get(f"{base}/metrics") as r:
            text = await r.text()
    except aiohttp.ClientError:
        return 0.0
    return sum(float(ln.rsplit(" ", 1)[1]) for ln in text.splitlines() if ln.startswith("offramp_mirror_in_flight "))


async def _drained(bases: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any([await in_flight(b) for b in bases]):
            return
        await asyncio.sleep(0.2)


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def summarize(lat: list[float], errors: int, seconds: float) -> dict:
    lat = sorted(lat)
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else [float("nan")] * 99
    return {"rps": len(lat) / seconds, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "n": len(lat),
            "errors": errors}


async def _load(base: str, concurrency: int, stream: bool, seconds: float,
                warmup: float) -> tuple[list, int, int]:
    """(latencies measured after the warm-up, errors, every request answered, warm-up included)."""
    body = json.dumps({**BODY, "stream": stream}).encode()
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    url = f"{base}/v1/chat/completions"
    lat: list[float] = []
    errors = 0
    done = 0
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as s:
        t_start = time.perf_counter()
        t_measure = t_start + warmup
        t_end = t_measure + seconds

        async def worker() -> None:
            nonlocal errors, done
            while True:
                t0 = time.perf_counter()
                if t0 >= t_end:
                    return
                try:
                    async with s.post(url, data=body, headers=headers) as r:
                        await r.read()
                        ok = r.status == 200
                except aiohttp.ClientError:
                    ok = False
                t1 = time.perf_counter()
                done += 1
                if t0 >= t_measure:
                    if ok:
                        lat.append(t1 - t0)
                    else:
                        errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return lat, errors, done


async def main(args: argparse.Namespace) -> dict:
    procs: list[Proc] = []
    tmp = Path(LOGDIR)
    try:
        up, up_url = fake("openai")
        cand, cand_url = fake("deepseek", nice=args.candidate_nice)
        pt, pt_url = passthrough(up_url)
        off, off_url = shadow(up_url, cand_url, 0.0, tmp / "off.db")
        on, on_url = shadow(up_url, cand_url, 1.0, tmp / "on.db")
        procs += [up, cand, pt, off, on]
        targets = {"direct": up_url, "passthrough": pt_url, "proxy_mirror_off": off_url, "proxy_mirror_on": on_url}
        # CPU per request is measured on the server's own process ("direct" is the upstream every target uses).
        served_by = {"passthrough": pt, "proxy_mirror_off": off, "proxy_mirror_on": on}
        if args.baseline:
            boff, boff_url = shadow(up_url, cand_url, 0.0, tmp / "boff.db", tree=args.baseline)
            bon, bon_url = shadow(up_url, cand_url, 1.0, tmp / "bon.db", tree=args.baseline)
            procs += [boff, bon]
            targets["base_mirror_off"] = boff_url
            targets["base_mirror_on"] = bon_url
            served_by.update(base_mirror_off=boff, base_mirror_on=bon)
        for nice in args.worker_nice or []:
            pn, pn_url = shadow(up_url, cand_url, 1.0, tmp / f"nice{nice}.db", mirror={"worker_nice": nice},
                                name=f"shadow-1.0-nice{nice}")
            procs.append(pn)
            targets[f"proxy_on_nice{nice}"] = pn_url
            served_by[f"proxy_on_nice{nice}"] = pn
        if not args.quick:
            core, core_url = shadow(up_url, cand_url, 0.0, tmp / "core.db", core=True)
            procs.append(core)
            targets["proxy_off_no_ext"] = core_url
            served_by["proxy_off_no_ext"] = core
        if args.litellm:
            ll, ll_url = litellm(up_url)
            procs.append(ll)
            targets["litellm"] = ll_url
            served_by["litellm"] = ll
        for p in procs:
            await p.ready(180 if p.name == "litellm" else 60)
        for name, url in targets.items():
            await _warm(name, url)
        burners = _start_burners(args.busy) if args.busy else []
        concs = args.concurrency or ([1, 16] if args.quick else [1, 16, 64])
        seconds = args.seconds or (1.0 if args.quick else 1.5)
        if args.rounds is None:
            args.rounds = 1 if args.quick else 3
        cells = []
        for stream in (False, True):
            for c in concs:
                # Interleaved rounds, rotating the order, so a burst from another process on this shared
                # machine lands on every target rather than on one.
                acc = {name: ([], 0) for name in targets}
                served = dict.fromkeys(targets, 0)
                mirroring = [n for n in served_by if _mirroring(n)]
                # Per target, over its turns and the drain of its own mirror backlog after each (so no target's
                # backlog is worked off during another's turn): CPU of every process taking part (the load
                # generator, i.e. this process; both fake upstreams; the proxy; its mirror workers), mirrors made
                # by the end of the turn (what the workers kept up with) and after the drain.
                budget = {n: dict.fromkeys(("loadgen", "primary_upstream", "candidate_upstream", "proxy",
                                            "workers"), 0.0) for n in targets}
                kept = dict.fromkeys(mirroring, 0.0)
                total_mir = dict.fromkeys(mirroring, 0.0)
                qfull = dict.fromkeys(mirroring, 0.0)
                backlog_s = dict.fromkeys(mirroring, 0.0)
                names = list(targets)
                for r in range(args.rounds):
                    for name in names[r % len(names):] + names[: r % len(names)]:
                        srv = served_by.get(name)
                        c0 = _cpu_now(up, cand, srv)
                        m0 = await mirrored(targets[name]) if name in mirroring else None
                        lat, err, n = await _load(targets[name], c, stream, seconds, 0.2)
                        acc[name] = (acc[name][0] + lat, acc[name][1] + err)
                        served[name] += n
                        if m0 is not None:
                            m1 = await mirrored(targets[name])
                            kept[name] += m1[0] - m0[0]
                            t_d = time.monotonic()
                            await _drained([targets[name]], timeout=120)
                            backlog_s[name] += time.monotonic() - t_d
                            m2 = await mirrored(targets[name])
                            total_mir[name] += m2[0] - m0[0]
                            qfull[name] += m2[1] - m0[1]
                        c1 = _cpu_now(up, cand, srv)
                        b = budget[name]
                        b["loadgen"] += c1[0] - c0[0]
                        b["primary_upstream"] += c1[1] - c0[1]
                        b["candidate_upstream"] += c1[2] - c0[2]
                        b["proxy"] += c1[3] - c0[3]
                        b["workers"] += (c1[4] - c0[4]) - (c1[3] - c0[3])
                drain_s = sum(backlog_s.values())
                row = {"stream": stream, "concurrency": c, "drain_s": round(drain_s, 1)}
                for name in targets:
                    row[name] = summarize(acc[name][0], acc[name][1], seconds * args.rounds)
                    if served[name]:
                        row[name]["cpu_budget_us_per_req"] = {k: v / served[name] * 1e6
                                                              for k, v in budget[name].items()}
                    if name in served_by and served[name]:
                        b = budget[name]
                        row[name]["cpu_us_per_req"] = (b["proxy"] + b["workers"]) / served[name] * 1e6
                        row[name]["proc_cpu_us_per_req"] = b["proxy"] / served[name] * 1e6
                    if name in mirroring and served[name]:
                        # Share of the requests actually mirrored (the rest dropped as queue_full), and the share
                        # mirrored by the end of the turn: sustained, the workers keep up only if that is ~100%.
                        row[name]["mirrored"] = total_mir[name] / served[name]
                        row[name]["mirrored_in_turn"] = kept[name] / served[name]
                        row[name]["queue_full"] = qfull[name] / served[name]
                        row[name]["backlog_s"] = round(backlog_s[name] / args.rounds, 2)
                        if total_mir[name]:
                            # The mirror workers' CPU (all but the proxy's own process) per request they mirrored.
                            row[name]["worker_cpu_us_per_mirror"] = budget[name]["workers"] / total_mir[name] * 1e6
                cells.append(row)
                _print_cell(row)
        for b in burners:
            b.terminate()
        delay = None
        if not args.quick or args.delayed or args.delayed_seconds:
            delay = await _delayed(tmp, procs, args.delayed_seconds or (2.0 if not args.quick else 1.5),
                                   args.rounds, args.litellm, not args.no_saturate, args.worker_nice or [],
                                   args.candidate_nice)
        return {"cells": cells, "delayed_upstream": delay, "figures": _figures(cells, delay), "quick": args.quick,
                "seconds_per_round": seconds,
                "rounds": args.rounds}
    finally:
        for p in procs:
            p.stop()


def _mirroring(target: str) -> bool:
    """Targets that mirror: proxy_mirror_on, base_mirror_on (--baseline), proxy_on_nice<N> (--worker-nice)."""
    return target.endswith("_on") or target.startswith("proxy_on_")


def _cpu_now(up: Proc, cand: Proc, srv: Proc | None) -> tuple[float, ...]:
    """CPU seconds so far of: this process (the load generator), the primary's and the candidate's fakes, the
    proxy's own process, and the proxy with its mirror workers."""
    return (time.process_time(), cpu_seconds(up.p.pid), cpu_seconds(cand.p.pid),
            cpu_seconds(srv.p.pid, own=True) if srv else 0.0, cpu_seconds(srv.p.pid) if srv else 0.0)


async def _warm(name: str, base: str, n: int = 20) -> None:
    """A few requests per target before measuring; a target that fails is reported, not silently timed."""
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    async with aiohttp.ClientSession() as s:
        for i in range(n):
            body = json.dumps({**BODY, "stream": bool(i % 2)}).encode()
            async with s.post(f"{base}/v1/chat/completions", data=body, headers=headers) as r:
                text = await r.read()
                if r.status != 200 and i == n - 1:
                    print(f"warning: {name} answers {r.status}: {text[:200]!r}", file=sys.stderr)


# Burners in a session of their own (--burners-own-session): on Linux with autogroup scheduling (the default on
# most kernels; cgroups do the same) CPU is shared between sessions first and nice only orders processes within
# one, so this is a host whose other work runs as other services; in the bench's session (the default) the
# burners compete with the proxies' niced workers directly, the worst case for them.
BURNERS_OWN_SESSION = False


def _start_burners(n: int) -> list:
    """`n` busy processes (nice 0) until terminated: a host loaded by other work."""
    import multiprocessing

    stop_at = time.time() + 3600
    burners = [multiprocessing.Process(target=_burn, args=(stop_at, BURNERS_OWN_SESSION), daemon=True)
               for _ in range(n)]
    for b in burners:
        b.start()
    return burners


def _burn(stop_at: float, own_session: bool = False) -> None:
    if own_session:
        os.setsid()
    x = 0
    while time.time() < stop_at:
        x += 1


async def _delayed(tmp: Path, procs: list[Proc], seconds: float, rounds: int, litellm_too: bool,
                   saturate: bool, nices: list[int] = (), candidate_nice: int = 0) -> dict:
    """A realistic upstream (primary 110 ms, candidate 160 ms, as in issue 10): the primary's p99 with mirroring
    100% vs off (and LiteLLM's proxy), concurrency 16 each, all loaded at once; with `saturate`, one busy process per
    core runs meanwhile, so the proxies compete for CPU as on a loaded host and the mirror's work cannot hide in
    idle cores."""

    up, up_url = fake("openai", latency_ms=110)
    cand, cand_url = fake("deepseek", latency_ms=160, nice=candidate_nice)
    off, off_url = shadow(up_url, cand_url, 0.0, tmp / "doff.db")
    on, on_url = shadow(up_url, cand_url, 1.0, tmp / "don.db")
    procs += [up, cand, off, on]
    targets = {"proxy_mirror_off": off_url, "proxy_mirror_on": on_url}
    for nice in nices:  # --worker-nice: the same mirroring proxy with its workers at that nice
        pn, targets[f"proxy_on_nice{nice}"] = shadow(up_url, cand_url, 1.0, tmp / f"dnice{nice}.db",
                                                     mirror={"worker_nice": nice}, name=f"shadow-1.0-dnice{nice}")
        procs.append(pn)
    if litellm_too:
        ll, ll_url = litellm(up_url)
        procs.append(ll)
        targets["litellm"] = ll_url
    for p in procs[-len(targets) - 2:]:
        await p.ready(180)
    for name, url in targets.items():
        await _warm(name, url)
    burners = _start_burners(os.cpu_count() or 2) if saturate else []
    res = {}
    try:
        for stream in (False, True):
            acc = {name: ([], 0) for name in targets}
            names = list(targets)
            mirroring = [n for n in names if _mirroring(n)]
            mir0 = {n: await mirrored(targets[n]) for n in mirroring}
            served = dict.fromkeys(mirroring, 0)
            for _ in range(rounds):
                # Every target under load at the same time: a burst from elsewhere on the host lands on all.
                got = await asyncio.gather(*(_load(targets[n], 16, stream, seconds, 0.3) for n in names))
                for name, (lat, err, n_) in zip(names, got, strict=True):
                    acc[name] = (acc[name][0] + lat, acc[name][1] + err)
                    if name in served:
                        served[name] += n_
            row = {name: summarize(a[0], a[1], seconds * rounds) for name, a in acc.items()}
            # Mirrors settled (or dropped) by the end of the load, and still in flight then: at these latencies
            # the candidate calls in flight (`mirror.concurrency`) bound how fast the mirror keeps up.
            for n in mirroring:
                mir1, backlog = await mirrored(targets[n]), await in_flight(targets[n])
                row[n].update(mirrored=(mir1[0] - mir0[n][0]) / served[n],
                              queue_full=(mir1[1] - mir0[n][1]) / served[n], in_flight=backlog)
            base = row["proxy_mirror_off"]["p99_ms"]
            row["p99_on_over_off"] = row["proxy_mirror_on"]["p99_ms"] / base
            if "litellm" in row:
                row["p99_litellm_over_off"] = row["litellm"]["p99_ms"] / base
            res["stream" if stream else "json"] = row
            print(f"\nupstream 110 ms (candidate 160 ms), c=16, stream={stream}, cores saturated={saturate}", flush=True)
            for name in targets:
                r_ = row[name]
                print(f"  {name:18} p50 {r_['p50_ms']:7.1f} ms  p99 {r_['p99_ms']:7.1f} ms  p99/off "
                      f"{r_['p99_ms'] / base:5.2f}  req/s {r_['rps']:6.0f}" + (f"  errors={r_['errors']}"
                                                                             if r_["errors"] else "")
                      + (f"  mirrored {r_['mirrored']:.0%} by the end, queue_full {r_['queue_full']:.0%}, "
                         f"{r_['in_flight']:.0f} in flight" if "mirrored" in r_ else ""), flush=True)
    finally:
        for b in burners:
            b.terminate()
    return res


def _figures(cells: list[dict], delay: dict | None) -> dict:
    """Issue 10's figures, as ratios: req/s against the aiohttp pass-through at concurrency 16 (0 ms upstream),
    and the primary's p99 with mirroring on over off (realistic upstream, cores saturated)."""
    out: dict = {}
    for row in cells:
        if row["concurrency"] != 16:
            continue
        key = "stream" if row["stream"] else "json"
        pt = row["passthrough"]["rps"]
        out[f"rps_over_passthrough_{key}"] = {n: round(r["rps"] / pt, 3) for n, r in row.items()
                                              if isinstance(r, dict) and n != "direct"}
    for key, row in (delay or {}).items():
        out[f"p99_over_mirror_off_{key}"] = {n: round(r["p99_ms"] / row["proxy_mirror_off"]["p99_ms"], 3)
                                             for n, r in row.items() if isinstance(r, dict)}
    print("\nissue 10 figures (ratios):", flush=True)
    for k, v in out.items():
        print(f"  {k}: " + ", ".join(f"{n} {x:.2f}" for n, x in v.items()), flush=True)
    return out


def _print_cell(row: dict) -> None:
    d, pt = row["direct"], row["passthrough"]
    print(f"\nstream={row['stream']} concurrency={row['concurrency']} (mirror backlogs drained in "
          f"{row['drain_s']} s in all, each after its own turn)", flush=True)
    print(f"  {'target':18} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'+p50 ms':>8} {'+p99 ms':>8} "
          f"{'rps/pass':>8} {'rps/direct':>10} {'cpu us/req':>10} {'pass/cpu':>8} {'proc only':>9}")
    pt_cpu = pt.get("cpu_us_per_req")
    for name, r in row.items():
        if not isinstance(r, dict):
            continue
        print(f"  {name:18} {r['rps']:8.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
              f"{r['p50_ms'] - d['p50_ms']:8.2f} {r['p99_ms'] - d['p99_ms']:8.2f} "
              f"{r['rps'] / pt['rps']:8.2f} {r['rps'] / d['rps']:10.2f}"
              + (f" {r['cpu_us_per_req']:10.0f} {pt_cpu / r['cpu_us_per_req']:8.2f}"
                 if pt_cpu and r.get("cpu_us_per_req") else f" {'':10} {'':8}")
              + (f" {r['proc_cpu_us_per_req']:9.0f}" if r.get("proc_cpu_us_per_req") else f" {'':9}")
              + (f"  mirrored {r['mirrored']:.0%} (by turn end {r['mirrored_in_turn']:.0%}, queue_full "
                 f"{r['queue_full']:.0%}, backlog {r['backlog_s']:.1f} s)" if "mirrored" in r else "")
              + (f", worker {r['worker_cpu_us_per_mirror']:.0f} us/mirror" if "worker_cpu_us_per_mirror" in r
                 else "")
              + (f"  errors={r['errors']}" if r["errors"] else ""),
              flush=True)
    print("  CPU us per request served (turns + own mirror backlog): loadgen / primary upstream / candidate "
          "upstream / proxy / workers = total")
    for name, r in row.items():
        if isinstance(r, dict) and "cpu_budget_us_per_req" in r:
            b = r["cpu_budget_us_per_req"]
            print(f"    {name:18} " + " / ".join(f"{v:4.0f}" for v in b.values()) + f" = {sum(b.values()):5.0f}",
                  flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="concurrency 1 and 16, 1 s per cell")
    ap.add_argument("--litellm", action="store_true", help="also benchmark LiteLLM's proxy (own virtualenv)")
    ap.add_argument("--seconds", type=float, default=None, help="measured seconds per target per round (default "
                    "1.5; 1 with --quick): longer turns outlast the mirror hand-off's buffer, so the share "
                    "mirrored shows the sustained rate")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds per cell (default 3; 1 with --quick)")
    ap.add_argument("--concurrency", type=int, action="append", help="only this concurrency (repeatable)")
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--delayed", action="store_true", help="with --quick: also the realistic-upstream p99 cells")
    ap.add_argument("--delayed-seconds", type=float, help="measured seconds per target per round there")
    ap.add_argument("--no-saturate", action="store_true", help="realistic-upstream cells without the CPU burners")
    ap.add_argument("--busy", type=int, default=0, help="busy processes running during the 0 ms cells (a host "
                    "loaded by other work: the mirror workers, at nice 10, fall behind and work the backlog off)")
    ap.add_argument("--burners-own-session", action="store_true", help="the busy processes (--busy and the "
                    "realistic-upstream cells') each in a session of their own: with autogroup scheduling, other "
                    "work on the host as separate services rather than in the proxies' session")
    ap.add_argument("--mirror-processes", type=int, default=0, help="mirror worker processes per mirroring proxy "
                    "(every tree measured)")
    ap.add_argument("--mirror-concurrency", type=int, default=0, help="mirror calls in flight per worker "
                    "(every tree measured)")
    ap.add_argument("--worker-nice", type=int, action="append", help="also a mirroring proxy whose workers run "
                    "at this nice value (repeatable), as proxy_on_nice<N>, beside proxy_mirror_on (the default)")
    ap.add_argument("--candidate-nice", type=int, default=0,
                    help="run the candidate's fake upstream at this nice (e.g. 10, the workers'): it stands for a "
                         "remote server, which takes none of the proxy host's CPU; at nice 0 it competes with the "
                         "primary's path like any local process")
    ap.add_argument("--embedding", action="store_true", help="also run the embedding_cosine comparator")
    ap.add_argument("--baseline", type=Path, help="another source tree of offramp (e.g. `git archive HEAD`): its "
                    "proxy is measured in the same run, as base_mirror_off/on")
    ap.add_argument("--profile-workers", type=Path, help="cProfile every mirror worker (CPU time) into this "
                    "directory, worker-<pid>.prof per worker (OFFRAMP_WORKER_PROFILE; slows the workers 4-6x: 3.9 vs 0.9 ms per "
                    "mirror JSON, 5.4 vs 0.9 streamed)")
    a = ap.parse_args()
    if a.profile_workers:
        a.profile_workers.mkdir(parents=True, exist_ok=True)
        os.environ["OFFRAMP_WORKER_PROFILE"] = str(a.profile_workers.resolve())
    if a.embedding:
        COMPARATORS.append("embedding_cosine")
    BURNERS_OWN_SESSION = a.burners_own_session
    MIRROR.update({k: v for k, v in (("processes", a.mirror_processes), ("concurrency", a.mirror_concurrency)) if v})
    out = asyncio.run(main(a))
    import shutil

    shutil.rmtree(LOGDIR, ignore_errors=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=2))
