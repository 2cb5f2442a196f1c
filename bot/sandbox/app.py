"""The sandbox's app factory: authentication, GitHub's headers (rate limit, ETag), faults, and the routes."""

from __future__ import annotations

import hashlib
import importlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
import jwt
import yaml
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.manifest import MANIFEST_FILE
from bot.sandbox import render
from bot.sandbox.common import ACTOR, GIT, HOOKS, SANDBOX, STORE, Actor, ApiError, respond
from bot.sandbox.state import Store, unix_now
from bot.sandbox.webhooks import Hooks

log = logging.getLogger("release_train.sandbox")

DEFAULT_MANIFEST = MANIFEST_FILE
APP_SLUG = "release-train"
RATE_LIMIT = 5000
TOKEN_LIFETIME = 3600

# Route modules, each with setup(app). Add a module here when it exists.
ROUTE_MODULES = (
    "bot.sandbox.routes.admin",
    "bot.sandbox.routes.apps",
    "bot.sandbox.routes.repos",
    "bot.sandbox.routes.protection",
    "bot.sandbox.routes.rulesets",
    "bot.sandbox.routes.environments",
    "bot.sandbox.routes.git_data",
    "bot.sandbox.routes.pulls",
    "bot.sandbox.routes.issues",
    "bot.sandbox.routes.checks",
    "bot.sandbox.routes.people",
    "bot.sandbox.routes.releases",
    "bot.sandbox.routes.graphql",
    "bot.sandbox.routes.manifests",
    "bot.sandbox.routes.pages",
)

REQUEST_LOG = web.AppKey("sandbox_request_log", list)
RATE_WINDOWS = web.AppKey("sandbox_rate_windows", dict)  # rate key -> [reset (unix), used]
# Awaited before each API request is handled, as `await hook(request)`: tests use it to hold one request
# until another has arrived, for an interleaving they choose rather than one that timing gives.
REQUEST_HOOKS = web.AppKey("sandbox_request_hooks", list)


@dataclass
class ApiFaults:
    """Fault injection for the app's own API calls (never the test driver's)."""

    rate: float = 0.0  # fraction of app-side answers that fail
    after: float = 0.5  # of those, the fraction that fail after the change was applied
    kinds: tuple[str, ...] = ("502", "secondary")  # 502 Bad Gateway, 403 secondary rate limit
    retry_after: int = 1
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    outages: frozenset[tuple[str, str]] = frozenset()  # (method, path) the app's calls to which get 502, until lifted


@dataclass
class SandboxConfig:
    state_dir: Path
    webhook_url: str | None
    webhook_secret: str
    manifest_path: Path | Traversable = DEFAULT_MANIFEST
    base_url: str = "http://127.0.0.1"  # set once the port is known
    app_id: int = 1
    private_key_path: Path | None = None
    public_key: bytes = b""
    permissions: dict[str, str] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)
    api_faults: ApiFaults = field(default_factory=ApiFaults)


def load_manifest(path: Path | Traversable) -> tuple[dict[str, str], set[str], str]:
    manifest = yaml.safe_load(path.read_text()) or {}
    permissions = {str(k): str(v) for k, v in (manifest.get("default_permissions") or {}).items()}
    events = {str(e) for e in (manifest.get("default_events") or [])}
    return permissions, events, str(manifest.get("name") or "Release Train")


_PROCESS_KEY: list[bytes] = []


def ensure_app_key(state_dir: Path) -> tuple[Path, bytes]:
    """The app's RSA key pair, generated on first start and kept in the state dir."""
    key_path = state_dir / "app-private-key.pem"
    if not key_path.exists():
        # One key per process: a test suite starts hundreds of sandboxes, and RSA generation is slow.
        if not _PROCESS_KEY:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _PROCESS_KEY.append(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        key_path.write_bytes(_PROCESS_KEY[0])
        key_path.chmod(0o600)
    private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key_path, public


def bot_login(st: Store) -> str:
    """The app's bot user: `<slug>[bot]`, as GitHub names it."""
    return f"{st.data['app'].get('slug') or APP_SLUG}[bot]"


def identify(request: web.Request, st: Store, config: SandboxConfig) -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, credential = header.partition(" ")
    scheme = scheme.lower()
    credential = credential.strip()
    if not header:
        return Actor("anonymous")
    if scheme == "bearer" and credential.count(".") == 2:
        try:
            claims = jwt.decode(
                credential, config.public_key, algorithms=["RS256"], options={"require": ["exp", "iat", "iss"]}
            )
        except jwt.PyJWTError as exc:
            raise ApiError(401, f"A JSON web token could not be decoded ({exc.__class__.__name__})") from None
        if str(claims.get("iss")) != str(config.app_id):
            raise ApiError(401, "'Issuer' claim ('iss') must be the app's id")
        if claims["exp"] - claims["iat"] > 600 + 60:
            raise ApiError(401, "'Expiration time' claim ('exp') is too far in the future")
        return Actor("app", login=bot_login(st))
    if scheme in ("token", "bearer"):
        if credential.startswith("ghs_"):
            token = st.data["tokens"].get(credential)
            if token is None or token["expires_at"] <= unix_now():
                raise ApiError(401, "Bad credentials")
            inst = st.installation_by_id(token["installation_id"])
            if inst is None:
                raise ApiError(401, "Bad credentials")
            return Actor(
                "installation",
                login=bot_login(st),
                installation_id=inst["id"],
                installation_account=inst["account"].lower(),
                permissions=dict(token.get("permissions") or config.permissions),
                repository_ids=frozenset(token["repository_ids"]) if token.get("repository_ids") is not None else None,
            )
        if not credential or any(c in credential for c in " /\\"):
            raise ApiError(401, "Bad credentials")
        return Actor("user", login=st.user(credential)["login"])
    raise ApiError(401, "Bad credentials")


def _rate_key(who: Actor) -> str:
    if who.kind == "installation":
        return f"installation:{who.installation_id}"
    return f"{who.kind}:{(who.login or '').lower()}"


def _window(windows: dict[str, list[int]], who: Actor) -> list[int]:
    window = windows.setdefault(_rate_key(who), [unix_now() + 3600, 0])
    if window[0] <= unix_now():
        window[:] = [unix_now() + 3600, 0]
    return window


def rate_window(request: web.Request) -> tuple[int, int, int]:
    """The caller's (limit, used, reset) as the rate-limit headers report them."""
    window = _window(request.app[RATE_WINDOWS], request[ACTOR])
    return RATE_LIMIT, window[1], window[0]


def create_sandbox_app(config: SandboxConfig) -> web.Application:
    state_dir = Path(config.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    st = Store(state_dir)
    key_path, public = ensure_app_key(state_dir)
    config.private_key_path = key_path
    config.public_key = public
    config.permissions, config.events, app_name = load_manifest(config.manifest_path)
    app_record = st.data["app"]
    if not app_record:
        app_record.update(
            {
                "id": st.new_id(),
                "slug": APP_SLUG,
                "name": app_name,
                "created_at": st.user("release-train-owner")["created_at"],
            }
        )
        st.touch()
    config.app_id = int(app_record["id"])
    registered = app_record.get("registration")
    if registered:  # an app registered from a manifest keeps its hook, secret, permissions and events
        config.permissions = dict(registered["permissions"])
        config.events = set(registered["events"])
        config.webhook_secret = registered["webhook_secret"]
        config.webhook_url = config.webhook_url or registered["hook_url"]
    st.user(bot_login(st), kind="Bot")
    hooks = Hooks(
        st, webhook_url=config.webhook_url, secret=config.webhook_secret, events=config.events, state_dir=state_dir
    )
    rate_windows: dict[str, list[int]] = {}
    request_log: list[dict[str, Any]] = []
    request_hooks: list[Callable[[web.Request], Awaitable[None]]] = []

    @web.middleware
    async def github_middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(("/_sandbox/", "/_html/")) or request.path == "/_html":
            request[ACTOR] = Actor("anonymous")
            try:
                return await handler(request)
            except ApiError as exc:
                return respond(exc.body(), status=exc.status)
        started = time.monotonic()
        who = Actor("anonymous")
        response: web.StreamResponse
        fault: str | None = None
        exhausted = False
        try:
            who = identify(request, st, config)
            request[ACTOR] = who
            window = _window(rate_windows, who)
            if who.kind != "anonymous" and request.path != "/rate_limit" and window[1] >= RATE_LIMIT:
                exhausted = True
                raise ApiError(403, _exhausted_message(who))
            for hook in request_hooks:
                await hook(request)
            faults = config.api_faults
            planned = None
            if who.is_app_side and (request.method, request.path) in faults.outages:
                fault = "502-outage"
                raise FaultError("502", faults.retry_after)
            if who.is_app_side and faults.rate and faults.rng.random() < faults.rate:
                planned = faults.rng.choice(faults.kinds)
                if faults.rng.random() >= faults.after:
                    fault = f"{planned}-before"
                    raise FaultError(planned, faults.retry_after)
            response = await handler(request)
            if planned is not None:
                # The change was applied, but the caller is told it failed (as happens on GitHub).
                fault = f"{planned}-after"
                raise FaultError(planned, faults.retry_after)
        except ApiError as exc:
            response = respond(exc.body(), status=exc.status)
            if isinstance(exc, FaultError) and exc.kind == "secondary":
                response.headers["Retry-After"] = str(exc.retry_after)
        except web.HTTPException as exc:
            if exc.status == 404 or exc.status == 405:
                response = respond(
                    {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, status=404
                )
            else:
                raise
        # Every answer with a body carries an ETag, writes included, as GitHub's do. Conditional
        # requests: a GET whose If-None-Match matches gets 304 and costs no rate limit.
        if (
            response.status in (200, 201)
            and isinstance(response, web.Response)
            and isinstance(response.body, (bytes, bytearray))
        ):
            etag = 'W/"' + hashlib.sha256(bytes(response.body)).hexdigest()[:40] + '"'
            response.headers["ETag"] = etag
            if request.method == "GET" and request.headers.get("If-None-Match") == etag:
                response = web.Response(status=304, headers={"ETag": etag})
        window = _window(rate_windows, who)
        # Like GitHub: a 304 and a look at /rate_limit cost nothing.
        if response.status != 304 and who.kind != "anonymous" and request.path != "/rate_limit" and not exhausted:
            window[1] += 1
        response.headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
        response.headers["X-RateLimit-Remaining"] = str(max(0, RATE_LIMIT - window[1]))
        response.headers["X-RateLimit-Reset"] = str(window[0])
        response.headers["X-RateLimit-Used"] = str(window[1])
        response.headers["X-RateLimit-Resource"] = "core"
        response.headers.setdefault("X-GitHub-Request-Id", f"SANDBOX:{len(request_log) + 1}")
        response.headers.setdefault("X-GitHub-Media-Type", "github.v3; format=json")
        response.headers.setdefault("X-GitHub-Api-Version-Selected", "2022-11-28")
        request_log.append(
            {
                "seq": len(request_log) + 1,
                "actor": who.kind,
                "login": who.login,
                "installation_id": who.installation_id,
                "method": request.method,
                "path": request.path,
                "query": request.query_string,
                "route": getattr(request.match_info.route.resource, "canonical", None)
                if request.match_info.route.resource
                else None,
                "status": response.status,
                "fault": fault,
                "ms": round((time.monotonic() - started) * 1000, 2),
                "at": started,  # time.monotonic() when the request arrived (end-to-end benchmarks)
            }
        )
        return response

    app = web.Application(middlewares=[github_middleware], client_max_size=100 * 1024 * 1024)
    app[STORE] = st
    app[HOOKS] = hooks
    app[SANDBOX] = config
    app[REQUEST_LOG] = request_log
    app[RATE_WINDOWS] = rate_windows
    app[REQUEST_HOOKS] = request_hooks
    from bot.sandbox.git import GitRepos

    app[GIT] = GitRepos(state_dir / "git")

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await hooks.start()
        yield
        await hooks.close()
        st.flush()

    app.cleanup_ctx.append(lifecycle)
    # The web pages GitHub serves beside its API (the manifest flow's forms) come from bot/sandbox/templates.
    aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("bot.sandbox", "templates"), autoescape=True)
    for module_name in ROUTE_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue
            raise
        module.setup(app)
    return app


class FaultError(ApiError):
    """An injected failure: a 502, or a 403 secondary rate limit that says when to retry."""

    def __init__(self, kind: str, retry_after: int) -> None:
        if kind == "secondary":
            super().__init__(
                403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            )
        else:
            super().__init__(502, "Server Error")
        self.kind = kind
        self.retry_after = retry_after


def _exhausted_message(who: Actor) -> str:
    if who.kind == "installation":
        return f"API rate limit exceeded for installation ID {who.installation_id}."
    return f"API rate limit exceeded for user ID {who.login}."


def set_base_url(config: SandboxConfig, base_url: str) -> None:
    config.base_url = base_url.rstrip("/")
    render.BASE["api"] = config.base_url
    render.BASE["html"] = config.base_url + "/_html"
