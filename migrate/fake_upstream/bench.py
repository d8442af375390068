"""Throughput of the fake upstream against a trivial aiohttp handler, side by side (ratios, not timings).

    python -m migrate.fake_upstream.bench [--quick] [--flavor openai]

Both servers run in their own process, one at a time, alternating rounds; the load generator is an aiohttp
client with fixed concurrency. The ratio fake/baseline is what to watch: the fake is the upstream of the proxy
benchmarks, so it must stay close to "as fast as aiohttp can answer".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import time

BODIES = {
    "chat": {"model": "gpt-4o", "messages": [{"role": "user", "content": "What is the capital of France?"}]},
    "stream": {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    },
    "tools": {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "weather in Paris"}],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                },
            }
        ],
    },
}
MODELS = {"openai": "gpt-4o", "deepseek": "deepseek-flash", "vllm": "deepseek-ai/DeepSeek-V4-Flash"}
# deepseek-chat (fixed non-thinking) was retired on 2026-07-24: the current id with thinking explicitly off
EXTRA = {"deepseek": {"thinking": {"type": "disabled"}}}


def serve_baseline(port: int) -> None:
    """A trivial handler: fixed bytes, no parsing beyond reading the body."""
    from aiohttp import web

    answer = json.dumps(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Echo: hi"},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
        }
    ).encode()

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        print(f"baseline on http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1", flush=True)  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def _start(cmd: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    match = re.search(r"http://127\.0\.0\.1:\d+/v1", line)
    if not match:
        proc.kill()
        raise SystemExit(f"bench: server did not start: {line!r}")
    return proc, match.group(0)


async def _load(url: str, body: dict, total: int, concurrency: int) -> float:
    import aiohttp

    payload = json.dumps(body).encode()
    headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
    done = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while done < total:
            done += 1
            async with session.post(f"{url}/chat/completions", data=payload, headers=headers) as resp:
                await resp.read()
                if resp.status != 200:
                    raise SystemExit(f"bench: HTTP {resp.status}")

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        start = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return total / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds: fewer requests and rounds")
    parser.add_argument("--flavor", default="openai", choices=sorted(MODELS))
    parser.add_argument("--serve-baseline", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_baseline is not None:
        serve_baseline(args.serve_baseline)
        return
    total, rounds, concurrency = (300, 2, 8) if args.quick else (2000, 5, 16)
    fake_cmd = [sys.executable, "-m", "offramp.migrate", "fake-upstream", "--flavor", args.flavor, "--port", "0"]
    base_cmd = [sys.executable, "-m", "offramp.migrate.fake_upstream.bench", "--serve-baseline", "0"]
    fake, fake_url = _start(fake_cmd)
    base, base_url = _start(base_cmd)
    try:
        base_rates = []
        fake_rates: dict[str, list[float]] = {k: [] for k in BODIES}
        for _ in range(rounds):
            base_rates.append(asyncio.run(_load(base_url, BODIES["chat"], total, concurrency)))
            for kind, body in BODIES.items():
                body = {**body, **EXTRA.get(args.flavor, {}), "model": MODELS[args.flavor]}
                fake_rates[kind].append(asyncio.run(_load(fake_url, body, total, concurrency)))
    finally:
        for proc in (fake, base):
            proc.terminate()
            proc.wait(10)
    baseline = statistics.median(base_rates)
    print(f"flavor={args.flavor} requests/round={total} rounds={rounds} concurrency={concurrency}")
    print(f"{'request':<8} {'fake/baseline':>14}")
    for kind, rates in fake_rates.items():
        print(f"{kind:<8} {statistics.median(rates) / baseline:>14.2f}")


if __name__ == "__main__":
    main()
