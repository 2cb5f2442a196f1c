"""The GitHub App manifest (app.yml, shipped inside the package) and the manifest flow's URLs (pure, but for reading app.yml).

GitHub's manifest flow (docs.github.com, "Registering a GitHub App from a manifest"): a form POSTs
the manifest, JSON in a field called `manifest`, to `{web}/settings/apps/new?state=...` (or
`{web}/organizations/{org}/settings/apps/new?state=...`); GitHub sends the person back to the
manifest's `redirect_url` with `code` and `state`; `POST /app-manifests/{code}/conversions` turns
the code into the app's id, key and secrets, within the hour.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import yaml

MANIFEST_FILE: Traversable = resources.files("bot") / "app.yml"
WEBHOOK_PATH = "/webhook"
LOGIN_CALLBACK_PATH = "/login/callback"  # where a later GitHub login to the bot's own pages comes back
SETUP_CALLBACK_PATH = "/callback"  # on the setup page: GitHub's redirect with the code
SETUP_INSTALLED_PATH = "/installed"  # on the setup page: GitHub's redirect after an installation


class ManifestError(ValueError):
    """An input the manifest cannot be made from; the message says which and why."""


def read_manifest(source: Traversable = MANIFEST_FILE) -> dict[str, Any]:
    manifest = yaml.safe_load(source.read_text())
    if not isinstance(manifest, dict):
        raise ManifestError(f"{source}: the manifest is not a mapping")
    return manifest


def public_url(given: str) -> str:
    """The public URL as typed, checked: http(s), a host, no query or fragment; no trailing slash."""
    url = given.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ManifestError(f"{given!r} is not an http(s) URL with a host, such as https://example.trycloudflare.com")
    if parts.query or parts.fragment:
        raise ManifestError(f"{given!r} has a query or fragment; give the URL GitHub should POST to")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def hook_url(public: str) -> str:
    """Where GitHub delivers webhooks: a URL with no path gets /webhook; one with a path (a smee.io channel) is kept."""
    url = public_url(public)
    return url + WEBHOOK_PATH if not urlsplit(url).path else url


def public_base(public: str) -> str:
    """The bot's own origin and path prefix: the public URL without a trailing /webhook."""
    url = hook_url(public)
    return url[: -len(WEBHOOK_PATH)] if url.endswith(WEBHOOK_PATH) else url


def organization(given: str) -> str | None:
    """An organisation's login as typed (blank: a personal account), checked as GitHub spells logins."""
    login = given.strip()
    if not login:
        return None
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})", login) or login.endswith("-"):
        raise ManifestError(f"{given!r} is not an organisation's login (letters, digits and single hyphens)")
    return login


def manifest_for(manifest: dict[str, Any], public: str, setup_page: str) -> dict[str, Any]:
    """The manifest with the URLs of this installation: webhooks to `public`, redirects to the setup page."""
    base = dict(manifest)
    page = setup_page.rstrip("/")
    hook = dict(base.get("hook_attributes") or {})
    hook["url"] = hook_url(public)
    hook.setdefault("active", True)
    base["hook_attributes"] = hook
    base["redirect_url"] = page + SETUP_CALLBACK_PATH
    base["setup_url"] = page + SETUP_INSTALLED_PATH
    base["callback_urls"] = [public_base(public) + LOGIN_CALLBACK_PATH]
    return base


def web_url(api_url: str) -> str:
    """GitHub's web host for a REST root: api.github.com -> github.com, https://ghe/api/v3 -> https://ghe.

    Any other root (the sandbox) serves its web pages itself.
    """
    parts = urlsplit(api_url.rstrip("/"))
    if parts.hostname == "api.github.com":
        return urlunsplit((parts.scheme, "github.com", "", "", ""))
    path = parts.path[: -len("/api/v3")] if parts.path.endswith("/api/v3") else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def new_app_url(web: str, state: str, organization: str | None = None) -> str:
    """Where the manifest form POSTs: a personal account's new-app page, or an organisation's."""
    prefix = f"/organizations/{quote(organization, safe='')}" if organization else ""
    return f"{web.rstrip('/')}{prefix}/settings/apps/new?{urlencode({'state': state})}"


def install_url(html_url: str) -> str:
    """The app's page for installing it (`{html_url}/installations/new`, as Probot links it)."""
    return html_url.rstrip("/") + "/installations/new"


def manifest_json(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False)
