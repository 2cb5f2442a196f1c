"""Sandbox-only endpoints under /_sandbox/: the request log, fault injection and outages, holding deliveries, expiring tokens, spending rate limits, waiting for quiet."""

from __future__ import annotations

import random
from typing import Any

from aiohttp import web

from bot.sandbox.common import HOOKS, SANDBOX, STORE, ApiError, read_json, respond

FAULT_KEYS = {"api", "after", "seed", "delay", "duplicate", "reorder", "retry_after", "max_delay"}
FAULTS_HELP = "api=0.1,after=0.5,seed=7,delay=0.2,duplicate=0.1,reorder=0.1 (fractions 0..1; seed an integer)"


def parse_fault_spec(spec: str) -> dict[str, float]:
    """The --faults flag's text, e.g. 'api=0.1,after=0.5,seed=7,delay=0.2,duplicate=0.1,reorder=0.1'."""
    values: dict[str, float] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in FAULT_KEYS:
            raise ValueError(f"unknown fault setting {part.strip()!r}; expected {FAULTS_HELP}")
        try:
            values[key] = float(value)
        except ValueError:
            raise ValueError(f"fault setting {key} needs a number, not {value.strip()!r}") from None
    return values


def apply_faults(app: web.Application, values: dict[str, Any]) -> dict[str, Any]:
    """Set every fault at once (unnamed ones go back to none); the same seed replays the same faults."""
    unknown = set(values) - FAULT_KEYS
    if unknown:
        raise ValueError(f"unknown fault setting(s) {', '.join(sorted(unknown))}; expected {FAULTS_HELP}")
    numbers = {key: float(value) for key, value in values.items()}
    for key in ("api", "after", "delay", "duplicate", "reorder"):
        if not 0.0 <= numbers.get(key, 0.0) <= 1.0:
            raise ValueError(f"fault setting {key} must be a fraction between 0 and 1")
    seed = int(numbers.get("seed", 0))
    config = app[SANDBOX]
    hooks = app[HOOKS]
    config.api_faults.rate = numbers.get("api", 0.0)
    config.api_faults.after = numbers.get("after", 0.5)
    config.api_faults.retry_after = int(numbers.get("retry_after", 1))
    config.api_faults.rng = random.Random(seed)
    hooks.faults.delay = numbers.get("delay", 0.0)
    hooks.faults.duplicate = numbers.get("duplicate", 0.0)
    hooks.faults.reorder = numbers.get("reorder", 0.0)
    hooks.faults.max_delay_seconds = numbers.get("max_delay", 0.3)
    hooks.faults.rng = random.Random(seed + 1)
    return {
        "api": config.api_faults.rate,
        "after": config.api_faults.after,
        "retry_after": config.api_faults.retry_after,
        "delay": hooks.faults.delay,
        "duplicate": hooks.faults.duplicate,
        "reorder": hooks.faults.reorder,
        "max_delay": hooks.faults.max_delay_seconds,
        "seed": seed,
    }


def apply_fault_spec(app: web.Application, spec: str) -> dict[str, Any]:
    """The --faults flag."""
    return apply_faults(app, parse_fault_spec(spec))


async def requests_log(request: web.Request) -> web.Response:
    from bot.sandbox.app import REQUEST_LOG

    since = int(request.query.get("since", "0"))
    entries = [e for e in request.app[REQUEST_LOG] if e["seq"] > since]
    return respond(entries)


async def idle(request: web.Request) -> web.Response:
    hooks = request.app[HOOKS]
    await hooks.wait_idle()
    return respond({"pending": hooks.pending(), "held": hooks.held()})


async def set_faults(request: web.Request) -> web.Response:
    """POST {"api": 0.1, "after": 0.5, "seed": 7, "delay": 0.2, "duplicate": 0.1, "reorder": 0.1}; {} turns faults off."""
    body = await read_json(request)
    try:
        return respond(apply_faults(request.app, body))
    except (TypeError, ValueError) as exc:
        raise ApiError(422, f"bad fault settings: {exc}") from None


async def set_outages(request: web.Request) -> web.Response:
    """POST {"routes": ["POST /repos/acme/app/releases"]}: the app's calls to those answer 502 until {"routes": []}."""
    body = await read_json(request)
    routes = body.get("routes")
    if not isinstance(routes, list) or not all(isinstance(r, str) and " /" in r for r in routes):
        raise ApiError(422, 'bad outages: expected {"routes": ["METHOD /path", ...]}')
    config = request.app[SANDBOX]
    config.api_faults.outages = frozenset((m, p) for m, _, p in (r.partition(" ") for r in routes))
    return respond({"routes": sorted(f"{m} {p}" for m, p in config.api_faults.outages)})


async def pause(request: web.Request) -> web.Response:
    """POST {"paused": true} holds deliveries until {"paused": false};
    {"down": true} makes the app's URL unreachable: each delivery is attempted and recorded as failed."""
    body = await read_json(request)
    hooks = request.app[HOOKS]
    if "down" in body:
        hooks.down = bool(body["down"])
    if "paused" in body or "down" not in body:
        hooks.set_paused(bool(body.get("paused", True)))
    return respond({"paused": hooks.paused, "down": hooks.down, "held": hooks.held()})


async def expire_tokens(request: web.Request) -> web.Response:
    """POST {"token": "ghs_..."} (or {} for every token) makes installation tokens expire now."""
    body = await read_json(request)
    st = request.app[STORE]
    wanted = body.get("token")
    expired = 0
    for token, record in st.data["tokens"].items():
        if wanted is None or token == wanted:
            record["expires_at"] = 0
            expired += 1
    st.touch()
    return respond({"expired": expired})


async def set_rate_limit(request: web.Request) -> web.Response:
    """POST {"installation_id": N | "login": "alice" | "app": true, "remaining": R}: spend a caller's budget
    so that its next calls meet GitHub's primary rate limit (403 with X-RateLimit-Remaining: 0)."""
    from bot.sandbox.app import RATE_LIMIT, RATE_WINDOWS, bot_login
    from bot.sandbox.state import unix_now

    body = await read_json(request)
    if "installation_id" in body:
        key = f"installation:{body['installation_id']}"
    elif "login" in body:
        key = f"user:{str(body['login']).lower()}"
    elif body.get("app"):
        key = f"app:{bot_login(request.app[STORE]).lower()}"
    else:
        raise ApiError(422, "name the caller: installation_id, login or app")
    try:
        remaining = max(0, min(RATE_LIMIT, int(body.get("remaining", 0))))
    except (TypeError, ValueError):
        raise ApiError(422, "remaining must be a number") from None
    window = request.app[RATE_WINDOWS].setdefault(key, [unix_now() + 3600, 0])
    window[1] = RATE_LIMIT - remaining
    return respond({"key": key, "remaining": remaining, "reset": window[0]})


def setup(app: web.Application) -> None:
    app.router.add_get("/_sandbox/requests", requests_log)
    app.router.add_get("/_sandbox/idle", idle)
    app.router.add_post("/_sandbox/faults", set_faults)
    app.router.add_post("/_sandbox/pause", pause)
    app.router.add_post("/_sandbox/outages", set_outages)
    app.router.add_post("/_sandbox/tokens/expire", expire_tokens)
    app.router.add_post("/_sandbox/rate-limit", set_rate_limit)
