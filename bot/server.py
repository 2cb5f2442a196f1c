"""The app factory: /webhook verifies, stores and acknowledges; /healthz; workers process after the answer."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import orjson
from aiohttp import web

from bot.github.auth import GitHubApp
from bot.handlers import build_router
from bot.handlers.context import Services
from bot.queue import Delivery
from bot.queue.memory import MemoryQueue
from bot.repo_config import ConfigStore
from bot.roles import RoleResolver
from bot.settings import Settings
from bot.worker import Processor, installation_id, repo_key

log = logging.getLogger("release_train.server")

SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
QUEUE = web.AppKey("queue", MemoryQueue)


def signature_ok(secrets: tuple[str, ...], body: bytes, header: str | None) -> bool:
    """Constant-time check of X-Hub-Signature-256 against every accepted secret (pure)."""
    if not header or not header.startswith("sha256="):
        return False
    given = header[len("sha256="):].strip()
    ok = False
    for secret in secrets:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        ok |= hmac.compare_digest(digest, given)
    return ok


async def webhook(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        return web.json_response({"error": "payload too large"}, status=413)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/json", ""):
        return web.json_response({"error": f"unsupported content type {ctype!r}; use application/json"}, status=415)
    try:
        body = await request.content.read(settings.max_body_bytes + 1)
    except aiohttp.ClientPayloadError:
        return web.json_response({"error": "truncated body"}, status=400)
    if len(body) > settings.max_body_bytes:
        return web.json_response({"error": "payload too large"}, status=413)
    if not signature_ok(settings.webhook_secrets, body, request.headers.get("x-hub-signature-256")):
        return web.json_response({"error": "missing or invalid X-Hub-Signature-256"}, status=401)
    event = request.headers.get("x-github-event")
    delivery_id = request.headers.get("x-github-delivery")
    if not event or not delivery_id:
        return web.json_response({"error": "missing X-GitHub-Event or X-GitHub-Delivery"}, status=400)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return web.json_response({"error": "body is not JSON"}, status=400)
    if not isinstance(payload, dict):
        return web.json_response({"error": "body is not a JSON object"}, status=400)
    if event == "ping":
        return web.json_response({"ok": True, "zen": payload.get("zen")}, status=200)
    delivery = Delivery(
        id=delivery_id,
        event=event,
        body=body,
        repo_key=repo_key(payload),
        installation_id=installation_id(payload),
    )
    fresh = await request.app[QUEUE].put(delivery)
    return web.json_response({"ok": True, "queued": fresh}, status=202)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "queue_depth": request.app[QUEUE].depth()})


def create_app(settings: Settings) -> web.Application:
    app = web.Application(client_max_size=settings.max_body_bytes + 1)
    app[SETTINGS] = settings
    app[QUEUE] = MemoryQueue(settings.concurrency)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            github = GitHubApp(
                session, app_id=settings.app_id, private_key=settings.private_key, base_url=settings.github_api_url
            )
            services = Services(
                settings=settings,
                github=github,
                config_store=ConfigStore(),
                roles=RoleResolver(settings.membership_ttl_seconds),
            )
            app[SERVICES] = services
            await app[QUEUE].start(Processor(services, build_router()))
            yield
            await app[QUEUE].stop()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    return app


def serve(settings: Settings) -> None:
    started = time.monotonic()
    log.info("release train listening on %s:%s", settings.host, settings.port)
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
    log.info("stopped after %.0fs", time.monotonic() - started)
