"""Sandbox-only endpoints under /_sandbox/: the request log, fault injection, and waiting for quiet."""

from __future__ import annotations

import random

from aiohttp import web

from bot.sandbox.common import HOOKS, SANDBOX, ApiError, read_json, respond


async def requests_log(request: web.Request) -> web.Response:
    from bot.sandbox.app import REQUEST_LOG

    since = int(request.query.get("since", "0"))
    entries = [e for e in request.app[REQUEST_LOG] if e["seq"] > since]
    return respond(entries)


async def idle(request: web.Request) -> web.Response:
    hooks = request.app[HOOKS]
    await hooks.wait_idle()
    return respond({"pending": hooks.pending()})


async def set_faults(request: web.Request) -> web.Response:
    """POST {"api": 0.1, "after": 0.5, "seed": 7, "delay": 0.2, "duplicate": 0.1, "reorder": 0.1}."""
    body = await read_json(request)
    config = request.app[SANDBOX]
    hooks = request.app[HOOKS]
    try:
        seed = int(body.get("seed", 0))
        config.api_faults.rate = float(body.get("api", 0.0))
        config.api_faults.after = float(body.get("after", 0.5))
        config.api_faults.rng = random.Random(seed)
        hooks.faults.delay = float(body.get("delay", 0.0))
        hooks.faults.duplicate = float(body.get("duplicate", 0.0))
        hooks.faults.reorder = float(body.get("reorder", 0.0))
        hooks.faults.rng = random.Random(seed + 1)
    except (TypeError, ValueError) as exc:
        raise ApiError(422, f"bad fault settings: {exc}") from None
    return respond({"api": config.api_faults.rate, "after": config.api_faults.after, "delay": hooks.faults.delay,
                    "duplicate": hooks.faults.duplicate, "reorder": hooks.faults.reorder, "seed": seed})


async def pause(request: web.Request) -> web.Response:
    """POST {"paused": true} holds webhook deliveries (the bot is "down"); false sends them again."""
    body = await read_json(request)
    request.app[HOOKS].paused = bool(body.get("paused", True))
    return respond({"paused": request.app[HOOKS].paused})


def setup(app: web.Application) -> None:
    app.router.add_get("/_sandbox/requests", requests_log)
    app.router.add_get("/_sandbox/idle", idle)
    app.router.add_post("/_sandbox/faults", set_faults)
    app.router.add_post("/_sandbox/pause", pause)


def apply_fault_spec(app: web.Application, spec: str) -> None:
    """The --faults flag: 'api=0.1,after=0.5,seed=7,delay=0.2,duplicate=0.1,reorder=0.1'."""
    values = {}
    for part in spec.split(","):
        if part.strip():
            key, _, value = part.partition("=")
            values[key.strip()] = float(value)
    config = app[SANDBOX]
    hooks = app[HOOKS]
    seed = int(values.get("seed", 0))
    config.api_faults.rate = values.get("api", 0.0)
    config.api_faults.after = values.get("after", 0.5)
    config.api_faults.rng = random.Random(seed)
    hooks.faults.delay = values.get("delay", 0.0)
    hooks.faults.duplicate = values.get("duplicate", 0.0)
    hooks.faults.reorder = values.get("reorder", 0.0)
    hooks.faults.rng = random.Random(seed + 1)
