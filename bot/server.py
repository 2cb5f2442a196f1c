"""The app factory: /webhook verifies, stores durably and acknowledges; /healthz; /metrics; workers process after the answer.

`POST /webhook` answers: 413 for a body over `max_body_bytes` (checked before any parsing, also
for chunked bodies); 415 for a content type other than `application/json` or GitHub's other
format, `application/x-www-form-urlencoded` with a `payload=` field (both are accepted; the
signature covers the raw form body, and the JSON inside is what gets stored); 401 for a missing or
wrong `X-Hub-Signature-256` (SHA-1 alone is not enough); 400 for a body that is not a JSON object,
JSON nested deeper than the parser's recursion limit, a missing `X-GitHub-Event` / `X-GitHub-Delivery`,
or a payload of a routed event and action that is not what GitHub sends (the answer's `field` names
the first wrong one, as `$.pull_request.head.sha`; bot/github/events.py); 200 for `ping`; 202 once the delivery is
stored (or was seen before); 503 when the store cannot take it, so GitHub records a failure that
the catch-up redelivers. Under abuse: 408 for a body that does not arrive whole within
`body_timeout_seconds`, and 503 at once when the bodies being read would hold more than
`max_buffered_bytes`; both close the connection. Metrics name only routed events (and ping);
/metrics answers only the bearer of `metrics_token` when it is set.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import orjson
from aiohttp import web
from gidgethub import routing
from gidgethub.sansio import Event

from bot.catchup import CatchUp
from bot.github import events
from bot.github.auth import GitHubApp
from bot.github.pacing import WritePacer
from bot.handlers import build_router, handled_events
from bot.handlers.context import Services
from bot.logs import RateLimitedWarning
from bot.metrics import CONTENT_TYPE_LATEST, Metrics
from bot.queue import Delivery, StoreUnavailable, WorkQueue
from bot.queue.backend import open_queue
from bot.repo_config import ConfigStore
from bot.roles import RoleResolver
from bot.settings import Settings
from bot.worker import Processor, installation_id, repo_key

log = logging.getLogger("release_train.server")

SETTINGS = web.AppKey("settings", Settings)
SERVICES = web.AppKey("services", Services)
QUEUE: web.AppKey[WorkQueue] = web.AppKey("queue")
METRICS = web.AppKey("metrics", Metrics)
CATCHUP = web.AppKey("catchup", CatchUp)  # set while the app runs
ROUTER = web.AppKey("router", routing.Router)
HEAD_READER: web.AppKey[PayloadHeadReader] = web.AppKey("head_reader")  # built from ROUTER
KNOWN_EVENTS: web.AppKey[frozenset[str]] = web.AppKey("known_events")  # metric label values
BODY_BUDGET: web.AppKey[BodyBudget] = web.AppKey("body_budget")
REFUSALS: web.AppKey[RateLimitedWarning] = web.AppKey("refusals")  # refused signatures, logged at most once a minute

REFUSAL_LOG_SECONDS = 60.0

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def signature_ok(secrets: tuple[str, ...], body: bytes, header: str | None) -> bool:
    """Constant-time check of X-Hub-Signature-256 against every accepted secret (pure)."""
    if not header or not header.startswith("sha256="):
        return False
    given = header[len("sha256=") :].strip().encode()
    ok = False
    for secret in secrets:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
        ok |= hmac.compare_digest(digest, given)
    return ok


def json_payload(content_type: str, body: bytes) -> bytes | None:
    """The JSON text of a delivery in either of GitHub's formats, or None when there is none (pure)."""
    if content_type == FORM_CONTENT_TYPE:
        try:
            fields = urllib.parse.parse_qs(body.decode("utf-8"), strict_parsing=False, max_num_fields=16)
        except (UnicodeDecodeError, ValueError):
            return None
        values = fields.get("payload")
        return values[0].encode() if values else None
    return body


class PayloadHeadReader:
    """Reads what the door needs from a payload without building the rest: the top-level keys the router
    dispatches on (such as `action`), `repository` and `installation`; None for a body that is not a JSON object.

    The whole body is still checked to be JSON (syntax and UTF-8), so a body that passes here is one the
    job can parse (the job parses with msgspec too, which accepts what this accepts).
    """

    def __init__(self, router: routing.Router) -> None:
        keys = {key for details in router._deep_routes.values() for key in details} - {"repository", "installation"}
        self._keys = tuple(sorted(keys))
        null = msgspec.Raw(b"null")
        fields: list[tuple[str, Any, Any]] = [(key, Any, None) for key in self._keys]
        fields += [("repository", msgspec.Raw, null), ("installation", msgspec.Raw, null)]
        self._decoder = msgspec.json.Decoder(msgspec.defstruct("PayloadHead", fields))

    def read(self, body: bytes) -> dict[str, Any] | None:
        try:
            head = self._decoder.decode(body)
        except msgspec.DecodeError:  # also a valid JSON value that is not an object
            return None
        if not body.isascii():
            # Skipped strings are not checked for UTF-8 by the decoder; JSON text must be UTF-8.
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                return None
        found: dict[str, Any] = {}
        for key in self._keys:
            value = getattr(head, key)
            # The router looks values up in a dict: only scalars can match a registration.
            if isinstance(value, (str, int, float, bool)):
                found[key] = value
        for key in ("repository", "installation"):
            # The job's order key comes from here: msgspec decodes its own Raw, which orjson refuses as not bytes.
            try:
                found[key] = msgspec.json.decode(getattr(head, key))
            except msgspec.DecodeError:
                found[key] = None
        return found


class _TooLarge(Exception):
    pass


class _OverBudget(Exception):
    pass


class BodyBudget:
    """The bytes of request bodies held in memory at once, summed over every request still being read or
    verified: a body is unauthenticated until its signature is checked, so anyone can make the server hold it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> bool:
        if self.held + size > self.limit:
            return False
        self.held += size
        return True

    def give_back(self, size: int) -> None:
        self.held -= size


class _Held:
    """What one request holds of the budget; given back when its answer is made."""

    def __init__(self, budget: BodyBudget) -> None:
        self.budget = budget
        self.size = 0

    def take(self, size: int) -> None:
        if not self.budget.take(size):
            raise _OverBudget()
        self.size += size

    def give_back(self) -> None:
        self.budget.give_back(self.size)
        self.size = 0


async def _read_bounded(request: web.Request, limit: int, held: _Held) -> bytes:
    """The whole body, refusing as soon as it grows past limit (chunked bodies have no length up front) or
    past what the budget has left."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(min(1 << 20, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise _TooLarge()
        # The join at the end holds the body twice for a moment: count it twice.
        held.take(2 * len(chunk))
        chunks.append(chunk)


def metric_event(request: web.Request, event: str) -> str:
    """The event's label in metrics: an event some handler is routed for, or ping; any other name, which
    anyone can write in the header of an unsigned request, is "other" (so label values stay few)."""
    return event if event in request.app[KNOWN_EVENTS] else "other"


def _answer(
    request: web.Request,
    status: int,
    body: dict[str, Any],
    event: str,
    outcome: str,
    started: float,
    close: bool = False,
) -> web.Response:
    metrics = request.app[METRICS]
    metrics.deliveries.labels(metric_event(request, event), outcome).inc()
    metrics.ack_seconds.observe(time.monotonic() - started)
    response = web.json_response(body, status=status, dumps=lambda o: orjson.dumps(o).decode())
    if close:
        response.force_close()
    return response


async def _closing(request: web.Request, response: web.Response) -> web.Response:
    """Send a refusal made before the body was read, then close the connection at once, rather than go on
    reading (and discarding) the rest of the body for aiohttp's lingering time."""
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


async def webhook(request: web.Request) -> web.Response:
    response = await _webhook(request)
    return await _closing(request, response) if response.keep_alive is False else response


async def _webhook(request: web.Request) -> web.Response:
    started = time.monotonic()
    settings = request.app[SETTINGS]
    event = request.headers.get("x-github-event", "")
    delivery_id = request.headers.get("x-github-delivery", "")
    if request.content_length is not None and request.content_length > settings.max_body_bytes:
        return _answer(request, 413, {"error": "payload too large"}, event, "too_large", started, close=True)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("application/json", FORM_CONTENT_TYPE, ""):
        return _answer(
            request,
            415,
            {"error": f"unsupported content type {content_type!r}; use application/json"},
            event,
            "bad_content_type",
            started,
            close=True,
        )
    held = _Held(request.app[BODY_BUDGET])
    try:
        return await _receive(request, settings, content_type, event, delivery_id, held, started)
    finally:
        held.give_back()


async def _receive(
    request: web.Request,
    settings: Settings,
    content_type: str,
    event: str,
    delivery_id: str,
    held: _Held,
    started: float,
) -> web.Response:
    try:
        async with asyncio.timeout(settings.body_timeout_seconds):
            raw = await _read_bounded(request, settings.max_body_bytes, held)
    except _TooLarge:
        return _answer(request, 413, {"error": "payload too large"}, event, "too_large", started, close=True)
    except _OverBudget:
        return _answer(
            request,
            503,
            {"error": "too many request bodies arriving at once; redeliver later"},
            event,
            "over_budget",
            started,
            close=True,
        )
    except TimeoutError:
        return _answer(
            request,
            408,
            {"error": f"the body did not arrive within {settings.body_timeout_seconds:g}s"},
            event,
            "body_timeout",
            started,
            close=True,
        )
    except (aiohttp.ClientPayloadError, ConnectionError):
        return _answer(request, 400, {"error": "truncated body"}, event, "truncated", started)
    if not signature_ok(settings.webhook_secrets, raw, request.headers.get("x-hub-signature-256")):
        request.app[REFUSALS].refused(
            "refused a delivery with a missing or invalid X-Hub-Signature-256 (event %r, from %s)",
            metric_event(request, event),
            request.remote,
        )
        return _answer(
            request, 401, {"error": "missing or invalid X-Hub-Signature-256"}, event, "bad_signature", started
        )
    if not event or not delivery_id:
        return _answer(
            request, 400, {"error": "missing X-GitHub-Event or X-GitHub-Delivery"}, event, "bad_headers", started
        )
    body = json_payload(content_type, raw)
    try:
        head = request.app[HEAD_READER].read(body) if body is not None else None
        if head is None or body is None:
            return _answer(request, 400, {"error": "body is not a JSON object"}, event, "bad_json", started)
        if event == "ping":
            zen = msgspec.json.decode(body).get("zen")
            return _answer(request, 200, {"ok": True, "zen": zen}, event, "ping", started)
        # An event no handler is registered for is remembered by id only (dedupe), with no body and no job;
        # a routed one must be what GitHub sends, read as its record, field by field.
        ignored = not request.app[ROUTER].fetch(Event(head, event=event, delivery_id=delivery_id))
        if not ignored:
            events.decode(event, head.get("action"), body)
    except RecursionError:
        return _answer(request, 400, {"error": "the JSON is nested too deeply"}, event, "too_deep", started)
    except events.PayloadError as exc:
        action = head.get("action") if head else None
        name = f"{event} {action}" if isinstance(action, str) else event
        return _answer(
            request,
            400,
            {"error": f"not a {name} payload as GitHub sends it: {exc}", "field": exc.field},
            event,
            "bad_payload",
            started,
        )
    delivery = Delivery(
        id=delivery_id, event=event, body=body, repo_key=repo_key(head), installation_id=installation_id(head)
    )
    try:
        fresh = await request.app[QUEUE].put(delivery, ignored=ignored)
    except StoreUnavailable as exc:
        log.error("delivery %s (%s) not stored: %s", delivery_id, event, exc)
        return _answer(
            request, 503, {"error": "the queue is unavailable; redeliver later"}, event, "unavailable", started
        )
    except Exception:
        log.exception("delivery %s (%s) not stored", delivery_id, event)
        return _answer(
            request, 503, {"error": "the queue is unavailable; redeliver later"}, event, "unavailable", started
        )
    if fresh and ignored:
        # Its job's outcome is known at the door; counted as jobs that ran and were ignored always were.
        request.app[METRICS].jobs.labels("ignored").inc()
    return _answer(request, 202, {"ok": True, "queued": fresh}, event, "queued" if fresh else "duplicate", started)


async def _depth(queue: WorkQueue) -> int:
    # The Redis queue's depth is shared by every replica and lives in Redis.
    pending = getattr(queue, "pending", None)
    try:
        return int(await pending()) if pending is not None else int(queue.depth())
    except Exception:
        return int(queue.depth())


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "queue_depth": await _depth(request.app[QUEUE])})


def bearer_ok(token: str, header: str | None) -> bool:
    """Constant-time check of `Authorization: Bearer <token>` (pure)."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics_endpoint(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].metrics_token
    if token and not bearer_ok(token, request.headers.get("authorization")):
        return web.json_response(
            {"error": "/metrics needs Authorization: Bearer <METRICS_TOKEN>"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    metrics = request.app[METRICS]
    metrics.queue_depth.set(await _depth(request.app[QUEUE]))
    return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_app(settings: Settings) -> web.Application:
    # The body is read by hand, bounded, so aiohttp's own limit only needs to stay out of the way.
    app = web.Application(client_max_size=settings.max_body_bytes + 1)
    metrics = Metrics()
    app[SETTINGS] = settings
    app[METRICS] = metrics
    queue = open_queue(settings, metrics)
    app[QUEUE] = queue
    router = build_router()
    app[ROUTER] = router
    app[HEAD_READER] = PayloadHeadReader(router)
    app[KNOWN_EVENTS] = frozenset(handled_events(router) | {"ping"})
    app[BODY_BUDGET] = BodyBudget(settings.max_buffered_bytes)
    app[REFUSALS] = RateLimitedWarning(log, REFUSAL_LOG_SECONDS)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=60, sock_connect=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            shared_pacer = getattr(queue, "write_pacer", None)
            pacer = (
                shared_pacer()
                if callable(shared_pacer)
                else WritePacer(settings.writes_per_minute, settings.writes_per_hour)
            )
            github = GitHubApp(
                session,
                app_id=settings.app_id,
                private_key=settings.private_key,
                base_url=settings.github_api_url,
                pacer=pacer,
                observer=metrics.github_call,
                rate_observer=metrics.rate_limit,
                retry_observer=metrics.retry,
            )
            services = Services(
                settings=settings,
                github=github,
                config_store=ConfigStore(settings.config_ttl_seconds),
                roles=RoleResolver(settings.membership_ttl_seconds),
                metrics=metrics,
            )
            app[SERVICES] = services
            processor = Processor(services, router, queue)
            await queue.start(processor, processor.report_failure)
            catchup = CatchUp(services, queue, metrics)
            app[CATCHUP] = catchup
            await catchup.start()
            try:
                yield
            finally:
                await catchup.stop()
                await queue.stop()

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_endpoint)
    return app


def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT: then stop accepting, finish or release the jobs in flight, and exit."""
    started = time.monotonic()
    app = create_app(settings)

    async def freeze_startup_objects(app: web.Application) -> None:
        # Everything built at start-up lives as long as the process: keeping it out of the collector's
        # view makes each full collection short, so it does not stall acknowledgements.
        gc.freeze()

    app.on_startup.append(freeze_startup_objects)
    try:
        # Said once the queue is open and the socket bound (run_app prints after its sites start).
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            print=lambda _: log.info("release train listening on %s:%s", settings.host, settings.port),
            access_log=None,
        )
    except StoreUnavailable as exc:
        log.error("cannot start: %s", exc)
        raise SystemExit(2) from None
    log.info("stopped after %.0fs", time.monotonic() - started)
