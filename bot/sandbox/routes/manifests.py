"""The manifest flow, as GitHub serves it: the new-app pages that take a manifest, and POST /app-manifests/{code}/conversions.

`POST {web}/settings/apps/new?state=S` (or `/organizations/{org}/settings/apps/new?state=S`) with
a form field `manifest` (JSON) shows what would be registered and a "Create GitHub App" button;
creating redirects to the manifest's `redirect_url` with `code` and `state`; the conversion answers
the app with its `pem`, `webhook_secret`, `client_id` and `client_secret`, once, within the hour.
The sandbox's web host is its own base URL.

Deliberate differences from GitHub: the sandbox hosts one GitHub App, so registering one replaces
it (a new id, key pair, webhook secret, hook URL, permissions and events; tokens of the previous
app stop working; GitHub's ping goes to the new hook; the new key is also written to the state
dir's `app-private-key.pem`, where `sandbox.json` points). Nobody signs in to the sandbox's pages: a personal app belongs to the login
typed on the form.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp_jinja2
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.sandbox.common import HOOKS, SANDBOX, STORE, not_found, respond, store
from bot.sandbox.state import Store, now_iso, unix_now

CODE_LIFETIME = 3600  # GitHub: the whole flow must finish within one hour
LEVELS = ("read", "write", "admin")
# GitHub's web pages the sandbox serves (not REST operations: the conformance tests leave them out).
WEB_PAGES = frozenset({"/settings/apps/new", "/organizations/{org}/settings/apps/new"})


class ManifestProblem(ValueError):
    """Why GitHub would not take this manifest."""


def _url(value: Any, field: str) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname:
        raise ManifestProblem(f"{field} must be a full http(s) URL")
    return value


def checked_manifest(raw: str) -> dict[str, Any]:
    """The manifest as GitHub reads it; a ManifestProblem names the first field it would refuse."""
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise ManifestProblem("the manifest is not JSON") from None
    if not isinstance(manifest, dict):
        raise ManifestProblem("the manifest is not a JSON object")
    _url(manifest.get("url"), "url")
    hook = manifest.get("hook_attributes")
    if hook is not None:
        if not isinstance(hook, dict):
            raise ManifestProblem("hook_attributes must be an object")
        _url(hook.get("url"), "hook_attributes.url")
    for field in ("redirect_url", "setup_url"):
        if manifest.get(field) is not None:
            _url(manifest[field], field)
    callbacks = manifest.get("callback_urls", [])
    if not isinstance(callbacks, list) or len(callbacks) > 10:
        raise ManifestProblem("callback_urls must be a list of at most 10 URLs")
    for url in callbacks:
        _url(url, "callback_urls")
    permissions = manifest.get("default_permissions", {})
    if not isinstance(permissions, dict) or any(level not in LEVELS for level in permissions.values()):
        raise ManifestProblem("default_permissions must map each permission to read, write or admin")
    events = manifest.get("default_events", [])
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        raise ManifestProblem("default_events must be a list of event names")
    if manifest.get("name") is not None and not isinstance(manifest["name"], str):
        raise ManifestProblem("name must be a string")
    return manifest


def slug_of(name: str) -> str:
    """GitHub's slug for an app name: lower case, runs of other characters as one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "app"


def _owner(request: web.Request) -> tuple[str, bool]:
    """The account that will own the app: the organisation of the URL, else a personal account."""
    org = request.match_info.get("org")
    if org is None:
        return "", False
    found = store(request).find_user(org)
    if found is not None and found["type"] != "Organization":
        raise web.HTTPNotFound(text="Not Found")
    return (found or store(request).user(org, kind="Organization"))["login"], True


@aiohttp_jinja2.template("new_app.html")
async def new_app_page(request: web.Request) -> dict[str, Any]:
    owner, is_org = _owner(request)
    return {"owner": owner, "is_org": is_org, "manifest": None, "problem": None, "action": request.path_qs}


async def new_app_from_manifest(request: web.Request) -> web.StreamResponse:
    owner, is_org = _owner(request)
    form = await request.post()
    state = request.query.get("state", "")
    context: dict[str, Any] = {"owner": owner, "is_org": is_org, "problem": None, "action": request.path_qs}
    try:
        manifest = checked_manifest(str(form.get("manifest", "")))
    except ManifestProblem as exc:
        context.update(manifest=None, problem=f"Invalid GitHub App Manifest: {exc}")
        return aiohttp_jinja2.render_template("new_app.html", request, context, status=422)
    context.update(manifest=manifest, manifest_json=json.dumps(manifest))
    if form.get("confirm") != "create":
        return aiohttp_jinja2.render_template("new_app.html", request, context)
    name = str(form.get("name") or manifest.get("name") or "").strip()
    login = owner if is_org else str(form.get("login") or "").strip()
    if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", login or "-"):
        context["problem"] = "Name the app, and sign in with a login."
        return aiohttp_jinja2.render_template("new_app.html", request, context, status=422)
    code = register(request.app, manifest, name=name, owner=login)
    redirect = manifest.get("redirect_url")
    if not redirect:
        return aiohttp_jinja2.render_template("new_app.html", request, {**context, "registered": name})
    query = {"code": code, **({"state": state} if state else {})}
    raise web.HTTPFound(f"{redirect}{'&' if '?' in redirect else '?'}{urlencode(query)}")


def register(app: web.Application, manifest: dict[str, Any], *, name: str, owner: str) -> str:
    """Make `manifest` the sandbox's app; answer the one-time code that converts it."""
    config, st, hooks = app[SANDBOX], app[STORE], app[HOOKS]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    assert config.private_key_path is not None
    config.private_key_path.write_bytes(pem)
    config.private_key_path.chmod(0o600)
    config.public_key = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hook = manifest.get("hook_attributes") or {}
    registration: dict[str, Any] = {
        "permissions": {str(k): str(v) for k, v in (manifest.get("default_permissions") or {}).items()},
        "events": sorted({str(e) for e in manifest.get("default_events") or []}),
        "webhook_secret": secrets.token_hex(20),
        "hook_url": hook.get("url") if hook.get("active", True) else None,
        "client_secret": secrets.token_hex(20),
    }
    record = st.data["app"]
    record.clear()
    record.update(
        {
            "id": st.new_id(),
            "slug": slug_of(name),
            "name": name,
            "owner": st.user(owner)["login"],
            "description": str(manifest.get("description") or ""),
            "external_url": manifest["url"],
            "created_at": now_iso(),
            "registration": registration,
        }
    )
    st.user(f"{record['slug']}[bot]", kind="Bot")
    st.data["tokens"].clear()
    config.app_id = int(record["id"])
    config.permissions = dict(registration["permissions"])
    config.events = set(registration["events"])
    config.webhook_secret = registration["webhook_secret"]
    config.webhook_url = registration["hook_url"]
    hooks.events = config.events
    hooks.secret = config.webhook_secret
    hooks.webhook_url = config.webhook_url
    if hooks.webhook_url:
        hooks.ping(record, sender=record["owner"])
    code = secrets.token_hex(20)
    st.data.setdefault("manifest_codes", {})[code] = {
        "app_id": record["id"],
        "expires_at": unix_now() + CODE_LIFETIME,
        "pem": pem.decode(),
    }
    st.touch()
    return code


def _take_code(st: Store, code: str) -> dict[str, Any] | None:
    codes = st.data.setdefault("manifest_codes", {})
    for stale in [c for c, entry in codes.items() if entry["expires_at"] <= unix_now()]:
        del codes[stale]
    entry = codes.pop(code, None)
    st.touch()
    return entry


async def convert_manifest(request: web.Request) -> web.Response:
    """POST /app-manifests/{code}/conversions: the new app, with its key and secrets, for a code used once."""
    from bot.sandbox.routes.apps import app_record

    st = store(request)
    entry = _take_code(st, request.match_info["code"])
    registration = st.data["app"].get("registration")
    # A code converts only the app it was made for: an app replaced since took its code with it.
    if entry is None or registration is None or entry["app_id"] != st.data["app"]["id"]:
        raise not_found()
    answer = app_record(request)
    answer.update(
        {
            "client_secret": registration["client_secret"],
            "webhook_secret": registration["webhook_secret"],
            "pem": entry["pem"],
        }
    )
    return respond(answer, status=201)


def setup(app: web.Application) -> None:
    for path in sorted(WEB_PAGES):
        app.router.add_get(path, new_app_page)
        app.router.add_post(path, new_app_from_manifest)
    app.router.add_post("/app-manifests/{code}/conversions", convert_manifest)
