"""n>1 fan-out sends its n calls concurrently (async: gathered; sync: a small thread pool), keeping choice order
and summing usage. Proven without timing: the inner transport lets no request through until all n are in flight."""

from __future__ import annotations

import asyncio
import threading

import pytest
from adapter_helpers import call, collect, config, make_client

from offramp.adapters.transport import httpx

SYNC_ASYNC = pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
N = 3


class BarrierTransport(httpx.BaseTransport):
    """Holds each request until N are waiting: sequential sends would break the barrier (after 10 s)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.barrier = threading.Barrier(N, timeout=10)

    def handle_request(self, request):
        self.barrier.wait()
        return self.inner.handle_request(request)


class AsyncBarrierTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.waiting = 0
        self.all_in = asyncio.Event()

    async def handle_async_request(self, request):
        self.waiting += 1
        if self.waiting >= N:
            self.all_in.set()
        await asyncio.wait_for(self.all_in.wait(), 10)
        return await self.inner.handle_async_request(request)


def barrier_client(fakes, is_async, **kw):
    if is_async:
        http = httpx.AsyncClient(transport=AsyncBarrierTransport())
    else:
        http = httpx.Client(transport=BarrierTransport())
    return make_client(fakes, config(fakes), is_async=is_async, http_client=http, **kw)


@SYNC_ASYNC
@STREAM
async def test_fan_out_calls_are_in_flight_together(fakes, ds, is_async, stream):
    records = []
    client = barrier_client(fakes, is_async, on_call=records.append)
    extra = {"stream_options": {"include_usage": True}} if stream else {}
    res = await call(client, "chat.completions.create", model="gpt-4o", n=N, stream=stream,
                     messages=[{"role": "user", "content": "hi there"}], **extra)
    if stream:
        chunks = await collect(res)
        assert sorted({c.choices[0].index for c in chunks if c.choices}) == [0, 1, 2]
        usage = chunks[-1].usage
    else:
        assert [c.index for c in res.choices] == [0, 1, 2]
        assert [c.message.content for c in res.choices] == ["Echo: hi there"] * N
        usage = res.usage
    single = ds.requests[0]  # every call carries the same prompt: usage is N times one call's
    assert len(ds.requests) == N and all(r.json == single.json for r in ds.requests)
    assert usage.prompt_tokens % N == 0 and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert records[0].attempts == N and records[0].usage["prompt_tokens"] == usage.prompt_tokens


@SYNC_ASYNC
async def test_a_failing_fan_out_call_fails_the_whole_call(fakes, ds, is_async):
    import openai

    client = make_client(fakes, config(fakes, retries="max = 0"), is_async=is_async)
    ds.script(status=400, message="bad things", times=1)
    with pytest.raises(openai.BadRequestError, match="bad things"):
        await call(client, "chat.completions.create", model="gpt-4o", n=N,
                   messages=[{"role": "user", "content": "hi"}])
    assert len(ds.requests) == N


def test_fan_out_merge_keeps_step_order():
    from offramp.adapters.translate import merge_fan_out

    bodies = [{"id": f"r{i}", "choices": [{"index": 0, "message": {"content": str(i)}}],
               "usage": {"prompt_tokens": 2, "completion_tokens": i, "total_tokens": 2 + i}} for i in range(3)]
    merged = merge_fan_out(bodies)
    assert [(c["index"], c["message"]["content"]) for c in merged["choices"]] == [(0, "0"), (1, "1"), (2, "2")]
    assert merged["usage"] == {"prompt_tokens": 6, "completion_tokens": 3, "total_tokens": 9}
