"""What every sandbox route shares: errors, callers and their permissions, JSON bodies and pagination."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

if TYPE_CHECKING:
    from bot.sandbox.app import SandboxConfig
    from bot.sandbox.git import GitRepos
    from bot.sandbox.state import Store
    from bot.sandbox.webhooks import Hooks

DOCS = "https://docs.github.com/rest"
PERMISSION_RANK = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}


class ApiError(Exception):
    """An answer in GitHub's error shape: {"message", "documentation_url"[, "errors"]}."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "documentation_url": DOCS}
        if self.errors:
            body["errors"] = self.errors
        if self.status == 422 and "status" not in body:
            body["status"] = "422"
        return body


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def validation_failed(resource: str, field_name: str, code: str = "invalid", message: str | None = None) -> ApiError:
    error: dict[str, Any] = {"resource": resource, "field": field_name, "code": code}
    if message:
        error["message"] = message
    return ApiError(422, "Validation Failed", [error])


@dataclass(frozen=True)
class Actor:
    """Who is calling: a user (`token <login>`), the app (JWT), an installation (ghs_ token), or nobody."""

    kind: str  # "user" | "app" | "installation" | "anonymous"
    login: str | None = None  # the user's login, or the bot's "<slug>[bot]" for an installation
    installation_id: int | None = None
    installation_account: str | None = None  # lower-case owner login the installation belongs to
    permissions: dict[str, str] = field(default_factory=dict)  # the app's permissions, for installations
    repository_ids: frozenset[int] | None = None  # the repositories a scoped installation token may touch

    def reaches(self, repo: dict[str, Any]) -> bool:
        """Whether an installation token may touch this repository (its owner's, and in its scope if scoped)."""
        if (self.installation_account or "").lower() != repo["owner"]["login"].lower():
            return False
        return self.repository_ids is None or int(repo["id"]) in self.repository_ids

    @property
    def is_app_side(self) -> bool:
        return self.kind in ("app", "installation")


ACTOR = web.RequestKey("actor", Actor)

# App keys are set by app.py; declared here, typed by name, so route modules can import them without a cycle.
STORE: web.AppKey[Store] = web.AppKey("sandbox_store")
GIT: web.AppKey[GitRepos] = web.AppKey("sandbox_git")
HOOKS: web.AppKey[Hooks] = web.AppKey("sandbox_hooks")
SANDBOX: web.AppKey[SandboxConfig] = web.AppKey("sandbox_config")
# Called on every branch change (request, repository, branch, old head, new head), as pulls follow their branches.
BranchListener = Callable[[web.Request, dict[str, Any], str, str | None, str | None], Awaitable[None]]
BRANCH_LISTENERS: web.AppKey[list[BranchListener]] = web.AppKey("sandbox_branch_listeners")


def store(request: web.Request) -> Store:
    return request.app[STORE]


def git(request: web.Request) -> GitRepos:
    return request.app[GIT]


def hooks(request: web.Request) -> Hooks:
    return request.app[HOOKS]


def actor(request: web.Request) -> Actor:
    return request[ACTOR]


def require_login(request: web.Request) -> Actor:
    who = actor(request)
    if who.kind == "anonymous":
        raise ApiError(401, "Requires authentication")
    return who


def sender_login(request: web.Request) -> str:
    """The login that an event caused by this request names as its sender."""
    who = require_login(request)
    assert who.login is not None
    return who.login


def user_permission(st: Store, repo: dict[str, Any], login: str) -> str:
    """A user's permission on a repository: owner and org owners are admin, then collaborators, then teams."""
    if login.lower() == repo["owner"]["login"].lower():
        return "admin"
    owner = st.find_user(repo["owner"]["login"]) or {}
    if owner.get("type") == "Organization" and login.lower() in {a.lower() for a in owner.get("admins", [])}:
        return "admin"
    best = repo.get("collaborators", {}).get(login.lower(), "none")
    for team in st.data["teams"].values():
        if login.lower() in team.get("members", {}) and repo["full_name"].lower() in team.get("repos", {}):
            team_perm = team["repos"][repo["full_name"].lower()]
            if PERMISSION_RANK[team_perm] > PERMISSION_RANK[best]:
                best = team_perm
    if best == "none" and not repo.get("private", False):
        return "read"
    return best


def check_app_permission(who: Actor, scope: str, level: str) -> None:
    """GitHub's 403 for an installation that lacks a permission from its manifest."""
    if who.kind != "installation":
        return
    if scope == "metadata" and level == "read":
        return  # every token may read metadata, as on GitHub
    granted = who.permissions.get(scope, "none")
    need = 2 if level == "write" else 1
    have = {"none": 0, "read": 1, "write": 2, "admin": 2}.get(granted, 0)
    if have < need:
        raise ApiError(403, "Resource not accessible by integration")


def repo_for(request: web.Request, *, scope: str = "contents", level: str = "read") -> dict[str, Any]:
    """The repository named in the path, after checking that the caller may do this to it.

    scope/level name the app permission this operation needs (GitHub's fine-grained names:
    contents, pull_requests, issues, checks, statuses, deployments, actions, metadata, members).
    Users need read to read and write to write.
    """
    st = store(request)
    owner, name = request.match_info["owner"], request.match_info["repo"]
    repo = st.repo(owner, name)
    who = actor(request)
    if repo is None:
        raise not_found()
    if who.kind == "installation":
        if (who.installation_account or "").lower() != repo["owner"]["login"].lower():
            raise not_found()
        if not who.reaches(repo):
            raise ApiError(403, "Resource not accessible by integration")
        check_app_permission(who, scope, level)
    elif who.kind == "user":
        perm = user_permission(st, repo, who.login or "")
        if PERMISSION_RANK[perm] < PERMISSION_RANK["read"]:
            raise not_found()
        if level == "write" and PERMISSION_RANK[perm] < PERMISSION_RANK["write"]:
            raise ApiError(403, "Must have push access to repository")
        if level == "admin" and PERMISSION_RANK[perm] < PERMISSION_RANK["admin"]:
            raise ApiError(403, "Must have admin rights to Repository.")
    elif who.kind == "app":
        raise ApiError(403, "A JSON web token could not be used to access this repository; use an installation token")
    else:
        if repo.get("private", False) or level != "read":
            raise ApiError(401, "Requires authentication") if level != "read" else not_found()
    return repo


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body ({} when empty); 400 for a body that is not JSON."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "Problems parsing JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "Problems parsing JSON")
    return body


def respond(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer. A 201 names what it created in `Location` (its `url`), as GitHub's do."""
    if status == 201 and isinstance(data, dict) and isinstance(data.get("url"), str):
        headers = {"Location": data["url"], **(headers or {})}
    return web.json_response(data, status=status, headers=headers, dumps=lambda o: json.dumps(o, separators=(",", ":")))


_MEDIA = re.compile(r"application/vnd\.github(?:\.v3)?\.(raw|diff|patch|sha)\b", re.IGNORECASE)


def requested_media(request: web.Request, *offered: str) -> str | None:
    """The custom media type asked in Accept that this operation offers (raw, diff, patch, sha), or None for JSON."""
    match = _MEDIA.search(request.headers.get("Accept", ""))
    return match.group(1).lower() if match and match.group(1).lower() in offered else None


def media_response(request: web.Request, body: bytes, param: str) -> web.Response:
    """An answer in a custom media type: GitHub names the type as it was asked (with or without v3)."""
    match = _MEDIA.search(request.headers.get("Accept", ""))
    asked = match.group(0).lower() if match else f"application/vnd.github.{param}"
    return web.Response(
        body=body,
        headers={"Content-Type": f"{asked}; charset=utf-8", "X-GitHub-Media-Type": f"github.v3; param={param}"},
    )


def no_content() -> web.Response:
    return web.Response(status=204)


def page_params(request: web.Request) -> tuple[int, int]:
    try:
        per_page = max(1, min(100, int(request.query.get("per_page", "30"))))
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        raise ApiError(422, "Invalid pagination parameters") from None
    return page, per_page


def paginate(
    request: web.Request, items: list[Any], *, wrap: str | None = None, extra: dict[str, Any] | None = None
) -> web.Response:
    """One page of items, with GitHub's Link header (next/last/first/prev).

    wrap names the key for endpoints that answer an object ({"total_count", "check_runs": [...]}).
    """
    page, per_page = page_params(request)
    total = len(items)
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    last = max(1, (total + per_page - 1) // per_page)
    links = []

    def url_for(p: int) -> str:
        query = dict(request.query)
        query["page"] = str(p)
        query["per_page"] = str(per_page)
        return f"{request.url.with_query(None)}?{urlencode(query)}"

    if page < last:
        links.append(f'<{url_for(page + 1)}>; rel="next"')
        links.append(f'<{url_for(last)}>; rel="last"')
    if page > 1:
        links.append(f'<{url_for(1)}>; rel="first"')
        links.append(f'<{url_for(page - 1)}>; rel="prev"')
    headers = {"Link": ", ".join(links)} if links else None
    if wrap is not None:
        body: Any = {"total_count": total, wrap: chunk, **(extra or {})}
    else:
        body = chunk
    return respond(body, headers=headers)
