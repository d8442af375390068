"""The Python floor: a minimal aiohttp pass-through proxy (no mirroring, no metrics), same client and server
stack as the shadow proxy, so the benchmark shows what Offramp adds on top of the cheapest possible proxy."""

import argparse

import aiohttp
from aiohttp import web

HOP = {"connection", "keep-alive", "transfer-encoding", "host", "content-length", "upgrade", "te", "trailers"}


async def handle(request: web.Request) -> web.StreamResponse:
    session: aiohttp.ClientSession = request.app["session"]
    body = await request.read()
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
    url = request.app["upstream"] + request.path_qs
    async with session.request(request.method, url, headers=headers, data=body or None) as up:
        out = {k: v for k, v in up.headers.items() if k.lower() not in HOP}
        if "text/event-stream" in up.headers.get("content-type", ""):
            resp = web.StreamResponse(status=up.status, headers=out)
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp
        return web.Response(status=up.status, body=await up.read(), headers=out)


async def on_startup(app: web.Application) -> None:
    app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)


async def on_cleanup(app: web.Application) -> None:
    await app["session"].close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="origin of the upstream, e.g. http://127.0.0.1:9001")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    app = web.Application()
    app["upstream"] = args.upstream.rstrip("/")
    app.router.add_route("*", "/{tail:.*}", handle)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
