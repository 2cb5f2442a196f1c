"""The setup page: it asks for the public URL, posts the manifest to GitHub, and turns the code GitHub sends back into .env.

Pages: `GET /` asks for the webhook URL and an optional organisation; `POST /` shows what will be
registered and a form that POSTs the manifest to `{web}/settings/apps/new?state=...` (or the
organisation's page); `GET /callback?code=...&state=...` is the manifest's `redirect_url`: a state
that is not the one this browser's session was given is refused and changes nothing, the right one
is spent, the code is converted and the credentials written; `GET /done` shows the install link and
the `serve` command; `GET /installed` is the manifest's `setup_url`, where GitHub sends the person
after installing. The state lives in an encrypted session cookie (aiohttp-session) whose key dies
with the process.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import get_session, new_session
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from bot.github.manifests import ConversionError, convert_manifest_code
from bot.manifest import (
    ManifestError,
    hook_url,
    install_url,
    manifest_for,
    manifest_json,
    new_app_url,
    organization,
    public_url,
    web_url,
)
from bot.setup.credentials import CredentialsError, write_credentials

log = logging.getLogger("release_train.setup")


@dataclass(frozen=True)
class SetupConfig:
    api_url: str  # the REST root the app is registered with (GITHUB_API_URL / GHE_HOST)
    directory: Path  # where .env and the key are written
    manifest: dict[str, Any]  # app.yml
    public_url: str = ""  # the form's first value (--url)
    listen_host: str = "127.0.0.1"  # --host: besides loopback, the one name the page answers to


LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


CONFIG = web.AppKey("setup_config", SetupConfig)
HTTP = web.AppKey("setup_http", aiohttp.ClientSession)


def serve_command(directory: Path) -> str:
    here = Path.cwd().resolve()
    return (
        "release-train serve"
        if directory.resolve() == here
        else f"cd {shlex.quote(str(directory))} && release-train serve"
    )


def _page(request: web.Request) -> str:
    """The setup page's own origin, as the browser reached it (GitHub redirects the browser back there)."""
    return f"{request.scheme}://{request.host}"


async def start(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    return aiohttp_jinja2.render_template(
        "start.html", request, {"web": web_url(config.api_url), "public_url": config.public_url, "problem": None}
    )


async def review(request: web.Request) -> web.Response:
    """Check what was typed; show what will be registered, with the form that takes the manifest to GitHub."""
    config = request.app[CONFIG]
    form = await request.post()
    given_url, given_org = str(form.get("public_url", "")), str(form.get("organization", ""))
    try:
        public = public_url(given_url)
        org = organization(given_org)
    except ManifestError as exc:
        context = {"web": web_url(config.api_url), "public_url": given_url, "organization": given_org, "problem": exc}
        return aiohttp_jinja2.render_template("start.html", request, context, status=422)
    manifest = manifest_for(config.manifest, public, _page(request))
    state = secrets.token_urlsafe(32)
    session = await new_session(request)
    session["state"] = state
    context = {
        "action": new_app_url(web_url(config.api_url), state, org),
        "manifest": manifest,
        "manifest_json": manifest_json(manifest),
        "hook_url": hook_url(public),
        "organization": org,
        "web": web_url(config.api_url),
    }
    return aiohttp_jinja2.render_template("review.html", request, context)


def _refused(request: web.Request, reason: str) -> web.Response:
    log.warning("setup: refused a redirect to /callback: %s", reason)
    return aiohttp_jinja2.render_template("refused.html", request, {"reason": reason}, status=400)


async def callback(request: web.Request) -> web.StreamResponse:
    """GitHub's redirect: only the state this session was given opens the way to the conversion, once."""
    config = request.app[CONFIG]
    session = await get_session(request)
    expected, given, code = session.get("state"), request.query.get("state", ""), request.query.get("code", "")
    if not expected:
        return _refused(request, "this browser started no registration here (or already finished it)")
    if not given or not hmac.compare_digest(str(expected).encode(), given.encode()):
        return _refused(request, "the state does not match the one this page sent to GitHub")
    if not code:
        return _refused(request, "GitHub's redirect carries no code")
    del session["state"]  # spent: the same redirect, replayed, is refused
    try:
        app = await convert_manifest_code(request.app[HTTP], config.api_url, code)
    except ConversionError as exc:
        log.warning("setup: GitHub did not convert the code: %s %s", exc.status, exc.message)
        context = {"status": exc.status, "message": exc.message}
        return aiohttp_jinja2.render_template("failed.html", request, context, status=400 if exc.status else 502)
    try:
        written = write_credentials(config.directory, app, config.api_url)
    except CredentialsError as exc:
        log.error(
            "setup: the app %s (id %s) was registered but its credentials were not written: %s", app.slug, app.id, exc
        )
        context = {"app": app, "problem": str(exc)}
        return aiohttp_jinja2.render_template("unsaved.html", request, context, status=409)
    log.info(
        "setup: registered the GitHub App %s (id %s); wrote %s and %s; install it at %s",
        app.slug,
        app.id,
        written.env_file,
        written.key_file,
        install_url(app.html_url),
    )
    session["registered"] = {
        "name": app.name,
        "id": app.id,
        "html_url": app.html_url,
        "install_url": install_url(app.html_url),
        "env_file": str(written.env_file),
        "key_file": str(written.key_file),
        "appended": written.appended,
        "serve": serve_command(config.directory),
    }
    raise web.HTTPSeeOther("/done")


async def done(request: web.Request) -> web.StreamResponse:
    registered = (await get_session(request)).get("registered")
    if not registered:
        raise web.HTTPSeeOther("/")
    return aiohttp_jinja2.render_template("done.html", request, {"app": registered})


async def installed(request: web.Request) -> web.Response:
    """The manifest's setup_url: GitHub's word that the app was installed (shown, never trusted for anything)."""
    installation = request.query.get("installation_id", "")
    context = {
        "installation_id": installation if installation.isdigit() else None,
        "serve": serve_command(request.app[CONFIG].directory),
    }
    return aiohttp_jinja2.render_template("installed.html", request, context)


@web.middleware
async def known_host_only(request: web.Request, handler: Any) -> web.StreamResponse:
    """A Host the page does not listen as is refused: a rebound DNS name would otherwise get GitHub's code sent to it."""
    hostname = (request.url.host or "").strip("[]").lower()
    allowed = LOOPBACK_NAMES | {request.app[CONFIG].listen_host.lower()}
    if hostname not in allowed:
        log.warning("setup: refused a request for host %r", request.host)
        return web.Response(status=421, text=f"this setup page answers only to {', '.join(sorted(allowed))}\n")
    response: web.StreamResponse = await handler(request)
    return response


def create_setup_app(config: SetupConfig) -> web.Application:
    app = web.Application(middlewares=[known_host_only])
    app[CONFIG] = config
    setup_sessions(
        app,
        EncryptedCookieStorage(
            os.urandom(32), cookie_name="release_train_setup", httponly=True, samesite="Lax", max_age=3600
        ),
    )
    aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("bot.setup", "templates"), autoescape=True)

    async def http_session(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession(headers={"User-Agent": "release-train-setup"}) as session:
            app[HTTP] = session
            yield

    app.cleanup_ctx.append(http_session)
    app.router.add_get("/", start)
    app.router.add_post("/", review)
    app.router.add_get("/callback", callback)
    app.router.add_get("/done", done)
    app.router.add_get("/installed", installed)
    return app
