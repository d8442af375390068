"""Per-call overhead of Offramp's unified client against the bare openai client, on the fake upstream.

Variants, interleaved round by round so machine noise hits all of them alike:
  bare          openai.OpenAI -> fake DeepSeek, request already in DeepSeek's shape (the baseline)
  unconfigured  adapters.OpenAI with no config -> same fake (should be ~1.00x: it is the openai client)
  routed        adapters.OpenAI routing gpt-4o -> deepseek-v4-flash, translating an OpenAI-shaped request
for sync, async and streaming calls. Prints median per-call time and ratios against `bare`.

    python bench/adapter/run.py [--quick] [--calls N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import openai  # noqa: E402

from offramp import adapters  # noqa: E402
from offramp.adapters.config import parse_config  # noqa: E402

OPENAI_SHAPED = {"model": "gpt-4o", "max_completion_tokens": 64, "seed": 1, "user": "bench-user",
                 "messages": [{"role": "developer", "content": "Be brief."},
                              {"role": "user", "content": "Say hello to the benchmark"}]}
DEEPSEEK_SHAPED = {"model": "deepseek-v4-flash", "max_tokens": 64, "extra_body": {"thinking": {"type": "disabled"},
                                                                                   "user_id": "bench-user"},
                   "messages": [{"role": "system", "content": "Be brief."},
                                {"role": "user", "content": "Say hello to the benchmark"}]}


def clients(base_url: str, is_async: bool):
    cfg = parse_config(f"""
[backends.deepseek]
kind = "deepseek"
base_url = "{base_url}"
api_key_env = "BENCH_DS_KEY"
[routes.models]
"gpt-4o" = "deepseek/deepseek-v4-flash"
""", "bench.toml")
    os.environ["BENCH_DS_KEY"] = "sk-bench"
    if is_async:
        return {"bare": (openai.AsyncOpenAI(api_key="sk-bench", base_url=base_url), DEEPSEEK_SHAPED),
                "unconfigured": (adapters.AsyncOpenAI(api_key="sk-bench", base_url=base_url, offramp_config=False),
                                 DEEPSEEK_SHAPED),
                "routed": (adapters.AsyncOpenAI(api_key="sk-bench", offramp_config=cfg), OPENAI_SHAPED)}
    return {"bare": (openai.OpenAI(api_key="sk-bench", base_url=base_url), DEEPSEEK_SHAPED),
            "unconfigured": (adapters.OpenAI(api_key="sk-bench", base_url=base_url, offramp_config=False),
                             DEEPSEEK_SHAPED),
            "routed": (adapters.OpenAI(api_key="sk-bench", offramp_config=cfg), OPENAI_SHAPED)}


def sync_call(client, body, stream):
    if stream:
        for _ in client.chat.completions.create(stream=True, **body):
            pass
    else:
        client.chat.completions.create(**body)


async def async_call(client, body, stream):
    if stream:
        async for _ in await client.chat.completions.create(stream=True, **body):
            pass
    else:
        await client.chat.completions.create(**body)


def measure(mode: str, base_url: str, calls: int, rounds: int) -> dict[str, float]:
    is_async, stream = mode == "async", mode == "stream"
    times: dict[str, list[float]] = {}
    if is_async:
        async def go():
            cs = clients(base_url, True)
            for c, body in cs.values():  # warm-up
                await async_call(c, body, False)
            for _ in range(rounds):
                for name, (c, body) in cs.items():
                    t0 = time.perf_counter()
                    for _ in range(calls):
                        await async_call(c, body, stream)
                    times.setdefault(name, []).append((time.perf_counter() - t0) / calls)
        asyncio.run(go())
    else:
        cs = clients(base_url, False)
        for c, body in cs.values():
            sync_call(c, body, False)
        for _ in range(rounds):
            for name, (c, body) in cs.items():
                t0 = time.perf_counter()
                for _ in range(calls):
                    sync_call(c, body, stream)
                times.setdefault(name, []).append((time.perf_counter() - t0) / calls)
    return {name: statistics.median(v) for name, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few calls: finishes in seconds")
    ap.add_argument("--calls", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    calls = args.calls or (10 if args.quick else 50)
    rounds = args.rounds or (3 if args.quick else 7)

    from offramp.migrate.fake_upstream.testing import FakeUpstream

    print(f"adapter overhead vs bare openai client ({calls} calls x {rounds} interleaved rounds, median per call)")
    print(f"{'mode':<8} {'bare ms':>9} {'unconf ms':>10} {'routed ms':>10} {'unconf/bare':>12} {'routed/bare':>12}")
    with FakeUpstream("deepseek") as fake:
        for mode in ("sync", "async", "stream"):
            m = measure(mode, fake.base_url, calls, rounds)
            print(f"{mode:<8} {m['bare'] * 1e3:>9.2f} {m['unconfigured'] * 1e3:>10.2f} {m['routed'] * 1e3:>10.2f} "
                  f"{m['unconfigured'] / m['bare']:>11.2f}x {m['routed'] / m['bare']:>11.2f}x")


if __name__ == "__main__":
    main()
