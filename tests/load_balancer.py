"""A round-robin webhook load balancer in front of served replicas, for the tests that kill one of them."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

import aiohttp
from aiohttp import web


@contextlib.asynccontextmanager
async def round_robin(ports: Sequence[int]) -> AsyncIterator[str]:
    """Serve a load balancer over the replicas on `ports`; yields its webhook URL.

    It skips replicas that refuse the connection, as a load balancer with health checks does, and
    answers 502 when none accepts.
    """
    turn = 0
    session = aiohttp.ClientSession()

    async def balance(request: web.Request) -> web.Response:
        nonlocal turn
        body = await request.read()
        headers = {
            k: v for k, v in request.headers.items() if k.lower().startswith("x-") or k.lower() == "content-type"
        }
        for _ in range(len(ports)):
            port = ports[turn % len(ports)]
            turn += 1
            try:
                async with session.post(f"http://127.0.0.1:{port}/webhook", data=body, headers=headers) as resp:
                    return web.Response(status=resp.status, body=await resp.read())
            except aiohttp.ClientConnectionError:
                continue
        return web.Response(status=502)

    proxy = web.Application()
    proxy.router.add_post("/webhook", balance)
    runner = web.AppRunner(proxy, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/webhook"
    finally:
        await runner.cleanup()
        await session.close()
