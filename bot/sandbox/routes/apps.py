"""The sandbox's GitHub App endpoints: the app, its installations and tokens, its webhook deliveries, and /rate_limit."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.sandbox import render
from bot.sandbox.app import TOKEN_LIFETIME, rate_window
from bot.sandbox.common import (
    HOOKS,
    SANDBOX,
    ApiError,
    actor,
    not_found,
    paginate,
    read_json,
    respond,
    store,
    validation_failed,
)
from bot.sandbox.state import Store, unix_now

LEVELS = {"read": 1, "write": 2, "admin": 3}


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def require_jwt(request: web.Request) -> None:
    who = actor(request)
    if who.kind == "app":
        return
    if who.kind == "anonymous":
        raise ApiError(401, "Requires authentication")
    raise ApiError(401, "A JSON web token could not be decoded")


def require_installation(request: web.Request) -> Any:
    who = actor(request)
    if who.kind != "installation":
        raise ApiError(
            403,
            "You must authenticate with an installation access token in order to list repositories for an installation.",
        )
    return who


def app_record(request: web.Request) -> dict[str, Any]:
    config = request.app[SANDBOX]
    st = store(request)
    record = st.data["app"]
    owner = record.get("owner") or "release-train-owner"
    return {
        "id": record["id"],
        "slug": record["slug"],
        "node_id": render.node("Integration", record["id"]),
        "client_id": f"Iv1.sandbox{record['id']}",
        "owner": render.user(st, owner),
        "name": record["name"],
        "description": record.get("description", "Runs your release train on GitHub."),
        "external_url": record.get("external_url") or render.html(f"/apps/{record['slug']}"),
        "html_url": render.html(f"/apps/{record['slug']}"),
        "created_at": record["created_at"],
        "updated_at": record["created_at"],
        "permissions": dict(config.permissions),
        "events": sorted(config.events),
        "installations_count": len(st.data["installations"]),
    }


def installation_json(request: web.Request, inst: dict[str, Any]) -> dict[str, Any]:
    config = request.app[SANDBOX]
    st = store(request)
    account = st.user(inst["account"])
    app_id = st.data["app"]["id"]
    return {
        "id": inst["id"],
        "account": render.user(st, account["login"]),
        "repository_selection": "all",
        "access_tokens_url": render.api(f"/app/installations/{inst['id']}/access_tokens"),
        "repositories_url": render.api("/installation/repositories"),
        "html_url": render.html(f"/settings/installations/{inst['id']}"),
        "app_id": app_id,
        "client_id": f"Iv1.sandbox{app_id}",
        "target_id": account["id"],
        "target_type": account["type"],
        "permissions": dict(config.permissions),
        "events": sorted(config.events),
        "created_at": inst["created_at"],
        "updated_at": inst["created_at"],
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "app_slug": st.data["app"]["slug"],
        "suspended_by": None,
        "suspended_at": None,
        "contact_email": None,
    }


def _installation_or_404(st: Store, installation_id: str) -> dict[str, Any]:
    try:
        inst = st.installation_by_id(int(installation_id))
    except ValueError:
        inst = None
    if inst is None:
        raise not_found()
    return inst


async def get_app(request: web.Request) -> web.Response:
    require_jwt(request)
    return respond(app_record(request))


async def list_installations(request: web.Request) -> web.Response:
    require_jwt(request)
    st = store(request)
    # Installed on every repository: every owner of one has an installation, made on first sight.
    for repo in list(st.data["repos"].values()):
        st.installation_for(repo["owner"]["login"])
    installs = sorted(st.data["installations"].values(), key=lambda i: i["id"])
    return paginate(request, [installation_json(request, i) for i in installs])


async def get_installation(request: web.Request) -> web.Response:
    require_jwt(request)
    inst = _installation_or_404(store(request), request.match_info["installation_id"])
    return respond(installation_json(request, inst))


async def create_access_token(request: web.Request) -> web.Response:
    """A new installation token (`ghs_...`), valid for an hour, optionally narrowed to some repositories
    (`repository_ids` or `repositories` by name) and to fewer permissions."""
    require_jwt(request)
    st = store(request)
    inst = _installation_or_404(st, request.match_info["installation_id"])
    body = await read_json(request)
    scoped = _scoped_repositories(st, inst, body)
    granted = dict(request.app[SANDBOX].permissions)
    wanted = body.get("permissions")
    if wanted is not None:
        if not isinstance(wanted, dict):
            raise validation_failed("Installation", "permissions", "invalid")
        for scope, level in wanted.items():
            if LEVELS.get(str(level), 99) > LEVELS.get(granted.get(scope, ""), 0):
                raise ApiError(
                    422, f"The permissions requested are not granted to this installation ({scope}={level})."
                )
        granted = {str(k): str(v) for k, v in wanted.items()}
    token = "ghs_" + secrets.token_hex(18)
    expires = unix_now() + TOKEN_LIFETIME
    st.data["tokens"][token] = {
        "installation_id": inst["id"],
        "expires_at": expires,
        "permissions": granted,
        "repository_ids": None if scoped is None else [r["id"] for r in scoped],
    }
    _forget_expired(st)
    st.touch()
    answer: dict[str, Any] = {
        "token": token,
        "expires_at": _iso(expires),
        "permissions": granted,
        "repository_selection": "all" if scoped is None else "selected",
    }
    if scoped is not None:
        answer["repositories"] = [render.repository(st, r) for r in scoped]
    return respond(answer, status=201)


def _scoped_repositories(st: Store, inst: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The repositories a token request names (None: all of the installation's), or GitHub's 422."""
    ids, names = body.get("repository_ids"), body.get("repositories")
    if ids is None and names is None:
        return None
    owned = [r for r in st.data["repos"].values() if r["owner"]["login"].lower() == inst["account"].lower()]
    chosen: dict[int, dict[str, Any]] = {}
    for given, key in ((ids, "id"), (names, "name")):
        if given is None:
            continue
        if not isinstance(given, list):
            raise validation_failed("Installation", "repository_ids" if key == "id" else "repositories", "invalid")
        for wanted in given:
            found = next(
                (r for r in owned if (r["id"] == wanted if key == "id" else r["name"].lower() == str(wanted).lower())),
                None,
            )
            if found is None:
                raise ApiError(
                    422,
                    "There is at least one repository that does not exist or is not accessible to the parent installation.",
                )
            chosen[int(found["id"])] = found
    return sorted(chosen.values(), key=lambda r: r["id"])


def _forget_expired(st: Store) -> None:
    now = unix_now()
    for token in [t for t, rec in st.data["tokens"].items() if rec["expires_at"] <= now - 3600]:
        del st.data["tokens"][token]


def _owner_installation(request: web.Request, owner: str) -> web.Response:
    st = store(request)
    if st.find_user(owner) is None:
        raise not_found()
    return respond(installation_json(request, st.installation_for(owner)))


async def repo_installation(request: web.Request) -> web.Response:
    require_jwt(request)
    repo = store(request).repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None:
        raise not_found()
    return _owner_installation(request, repo["owner"]["login"])


async def org_installation(request: web.Request) -> web.Response:
    require_jwt(request)
    org = store(request).find_user(request.match_info["org"])
    if org is None or org.get("type") != "Organization":
        raise not_found()
    return _owner_installation(request, org["login"])


async def user_installation(request: web.Request) -> web.Response:
    require_jwt(request)
    user = store(request).find_user(request.match_info["username"])
    if user is None or user.get("type") != "User":
        raise not_found()
    return _owner_installation(request, user["login"])


async def installation_repositories(request: web.Request) -> web.Response:
    who = require_installation(request)
    st = store(request)
    repos = [
        render.repository(st, repo)
        for repo in sorted(st.data["repos"].values(), key=lambda r: r["id"])
        if who.reaches(repo)
    ]
    selection = "all" if who.repository_ids is None else "selected"
    return paginate(request, repos, wrap="repositories", extra={"repository_selection": selection})


# deliveries -------------------------------------------------------------------------------
def _cursor_value(request: web.Request) -> int | None:
    cursor = request.query.get("cursor")
    if not cursor:
        return None
    if not cursor.startswith("v1_") or not cursor[3:].isdigit():
        raise ApiError(400, "Invalid cursor")
    return int(cursor[3:])


async def list_deliveries(request: web.Request) -> web.Response:
    """Newest first, with cursor pagination as GitHub does it (Link rel="next" carries `cursor=`)."""
    require_jwt(request)
    hooks = request.app[HOOKS]
    try:
        per_page = max(1, min(100, int(request.query.get("per_page", "30"))))
    except ValueError:
        raise ApiError(400, "Invalid per_page") from None
    before = _cursor_value(request)
    wanted = request.query.get("status")
    if wanted not in (None, "success", "failure"):
        raise validation_failed("WebhookDelivery", "status", "invalid")
    items = []
    for item in hooks.delivery_items(before=before):
        code = item["status_code"]
        if wanted == "success" and not 200 <= code <= 399:
            continue
        if wanted == "failure" and not 400 <= code <= 599:
            continue
        items.append(item)
        if len(items) > per_page:
            break
    headers = None
    if len(items) > per_page:
        items = items[:per_page]
        query = {k: v for k, v in request.query.items() if k != "cursor"}
        query.update({"per_page": str(per_page), "cursor": f"v1_{items[-1]['id']}"})
        headers = {"Link": f'<{request.url.with_query(None)}?{urlencode(query)}>; rel="next"'}
    return respond(items, headers=headers)


def _delivery_or_404(request: web.Request) -> dict[str, Any]:
    try:
        delivery_id = int(request.match_info["delivery_id"])
    except ValueError:
        raise not_found() from None
    record = request.app[HOOKS].delivery(delivery_id)
    if record is None:
        raise not_found()
    return record


async def get_delivery(request: web.Request) -> web.Response:
    require_jwt(request)
    return respond(_delivery_or_404(request))


async def redeliver(request: web.Request) -> web.Response:
    """202 at once; the same guid is sent again, marked `redelivery: true`, in order with the repository's other deliveries."""
    require_jwt(request)
    record = _delivery_or_404(request)
    request.app[HOOKS].redeliver(record)
    return respond({}, status=202)


# rate limit -------------------------------------------------------------------------------
async def rate_limit(request: web.Request) -> web.Response:
    """The caller's budget; asking does not spend it (the middleware skips counting this path)."""
    limit, used, reset = rate_window(request)
    core = {"limit": limit, "used": used, "remaining": max(0, limit - used), "reset": reset}
    others = {
        name: {"limit": lim, "used": 0, "remaining": lim, "reset": reset}
        for name, lim in (("search", 30), ("graphql", 5000), ("code_search", 10), ("integration_manifest", 5000))
    }
    return respond({"resources": {"core": core, **others}, "rate": core})


def setup(app: web.Application) -> None:
    app.router.add_get("/app", get_app)
    app.router.add_get("/app/installations", list_installations)
    app.router.add_get("/app/installations/{installation_id}", get_installation)
    app.router.add_post("/app/installations/{installation_id}/access_tokens", create_access_token)
    app.router.add_get("/repos/{owner}/{repo}/installation", repo_installation)
    app.router.add_get("/orgs/{org}/installation", org_installation)
    app.router.add_get("/users/{username}/installation", user_installation)
    app.router.add_get("/installation/repositories", installation_repositories)
    app.router.add_get("/app/hook/deliveries", list_deliveries)
    app.router.add_get("/app/hook/deliveries/{delivery_id}", get_delivery)
    app.router.add_post("/app/hook/deliveries/{delivery_id}/attempts", redeliver)
    app.router.add_get("/rate_limit", rate_limit)
