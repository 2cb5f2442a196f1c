"""Classic branch protection: GET/PUT/DELETE /repos/{o}/{r}/branches/{branch}/protection, in GitHub's shapes.

Reading or changing it takes a repository admin (others get 404, as on GitHub) or an installation
with `administration` permission. Enforcement is bot/sandbox/protection.py's.

Deliberate differences from GitHub: a `checks` entry without `app_id` is pinned to the app whose
check run of that name the repository saw last (GitHub: "the app that has recently provided this
check"), or to any source when none did; `contexts` are stored as `checks` that way too. Only the
parts Release Train's setup uses are enforced: required status checks (`strict`, `app_id`),
`enforce_admins`, `required_pull_request_reviews` (with its bypass allowances), `restrictions`,
`allow_force_pushes` and `allow_deletions`; the other flags are kept and shown.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox import render
from bot.sandbox.common import (
    PERMISSION_RANK,
    ApiError,
    actor,
    check_app_permission,
    git,
    no_content,
    not_found,
    read_json,
    respond,
    store,
    user_permission,
)
from bot.sandbox.state import Store

FLAGS = (
    "required_linear_history",
    "allow_force_pushes",
    "allow_deletions",
    "block_creations",
    "required_conversation_resolution",
    "lock_branch",
    "allow_fork_syncing",
)


def admin_repo(request: web.Request, level: str) -> dict[str, Any]:
    """The repository, for a repository admin or an installation with administration permission."""
    st = store(request)
    repo = st.repo(request.match_info["owner"], request.match_info["repo"])
    who = actor(request)
    if repo is None:
        raise not_found()
    if who.kind == "installation":
        if (who.installation_account or "") != repo["owner"]["login"].lower():
            raise not_found()
        if not who.reaches(repo):
            raise ApiError(403, "Resource not accessible by integration")
        check_app_permission(who, "administration", level)
    elif who.kind == "user":
        if PERMISSION_RANK[user_permission(st, repo, who.login or "")] < PERMISSION_RANK["admin"]:
            raise not_found()
    elif who.kind == "app":
        raise ApiError(403, "A JSON web token could not be used to access this repository; use an installation token")
    else:
        raise ApiError(401, "Requires authentication")
    return repo


async def existing_branch(request: web.Request, repo: dict[str, Any]) -> str:
    branch = request.match_info["branch"]
    if await git(request).ref(repo["full_name"], f"refs/heads/{branch}") is None:
        raise ApiError(404, "Branch not found")
    return branch


def apps_by_slug(st: Store) -> dict[str, dict[str, Any]]:
    """This sandbox's app and the CI apps tests play, by slug (lower case)."""
    found = {slug.lower(): record for slug, record in st.data.get("ci_apps", {}).items()}
    own = st.data["app"]
    found[str(own["slug"]).lower()] = {
        "id": own["id"],
        "slug": own["slug"],
        "name": own["name"],
        "owner": "release-train-owner",
        "created_at": own.get("created_at"),
    }
    return found


def invalid(message: str) -> ApiError:
    return ApiError(422, f"Invalid request.\n\n{message}")


def last_app_of(repo: dict[str, Any], context: str) -> int | None:
    suites = repo.get("check_suites", {})
    runs = [r for r in repo.get("check_runs", {}).values() if r["name"] == context]
    if not runs:
        return None
    latest = max(runs, key=lambda r: r["id"])
    return int(suites[str(latest["check_suite_id"])]["app"]["id"])


def parse_status_checks(repo: dict[str, Any], given: Any) -> dict[str, Any] | None:
    if given is None:
        return None
    if not isinstance(given, dict) or not isinstance(given.get("strict"), bool):
        raise invalid('"strict" wasn\'t supplied.')
    has_contexts, has_checks = "contexts" in given, "checks" in given
    if has_contexts == has_checks:
        raise invalid(
            'No subschema in "anyOf" matched.\n'
            + ("More than one" if has_checks else "No")
            + ' subschema in "oneOf" matched.\nNot all subschemas of "allOf" matched.'
        )
    checks = []
    if has_contexts:
        if not isinstance(given["contexts"], list) or not all(isinstance(c, str) for c in given["contexts"]):
            raise invalid("For 'properties/contexts', the value is not an array of strings.")
        checks = [{"context": c, "app_id": last_app_of(repo, c)} for c in given["contexts"]]
    else:
        if not isinstance(given["checks"], list):
            raise invalid("For 'properties/checks', the value is not an array.")
        for entry in given["checks"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("context"), str):
                raise invalid('"context" wasn\'t supplied.')
            app_id = entry.get("app_id")
            if app_id is not None and (not isinstance(app_id, int) or isinstance(app_id, bool)):
                raise invalid("For 'properties/app_id', the value is not an integer.")
            if "app_id" not in entry:
                app_id = last_app_of(repo, entry["context"])
            checks.append({"context": entry["context"], "app_id": None if app_id == -1 else app_id})
    return {"strict": given["strict"], "checks": list({c["context"]: c for c in checks}.values())}


def parse_actors(st: Store, repo: dict[str, Any], given: Any, field: str, *, need: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise invalid(f"For '{field}', the value is not an object.")
    for key in need:
        if key not in given:
            raise invalid(f'"{key}" wasn\'t supplied.')
    owner = st.find_user(repo["owner"]["login"]) or {}
    lists: dict[str, list[str]] = {}
    for key in ("users", "teams", "apps"):
        values = given.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise invalid(f"For '{field}/{key}', the value is not an array of strings.")
        lists[key] = values
    if (lists["users"] or lists["teams"]) and owner.get("type") != "Organization":
        raise ApiError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "Branch",
                    "code": "custom",
                    "message": "Only organization repositories can have users and team restrictions",
                }
            ],
        )
    for login in lists["users"]:
        if st.find_user(login) is None:
            raise ApiError(422, f"Validation Failed: {login} is not a user")
    for slug in lists["teams"]:
        if f"{owner.get('login', '')}/{slug}".lower() not in st.data["teams"]:
            raise ApiError(422, f"Validation Failed: {slug} is not a team of the organization")
    known = apps_by_slug(st)
    for slug in lists["apps"]:
        if slug.lower() not in known:
            raise ApiError(422, f"Validation Failed: {slug} is not an installed GitHub App")
    return lists


def parse_reviews(st: Store, repo: dict[str, Any], given: Any) -> dict[str, Any] | None:
    if given is None:
        return None
    if not isinstance(given, dict):
        raise invalid("For 'properties/required_pull_request_reviews', the value is not an object.")
    count = given.get("required_approving_review_count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 6:
        raise invalid("For 'properties/required_approving_review_count', the value must be between 0 and 6.")
    record: dict[str, Any] = {
        "dismiss_stale_reviews": bool(given.get("dismiss_stale_reviews", False)),
        "require_code_owner_reviews": bool(given.get("require_code_owner_reviews", False)),
        "required_approving_review_count": count,
        "require_last_push_approval": bool(given.get("require_last_push_approval", False)),
    }
    for key in ("dismissal_restrictions", "bypass_pull_request_allowances"):
        if given.get(key) is not None:
            record[key] = parse_actors(st, repo, given[key], f"properties/{key}", need=())
    return record


# --- answers --------------------------------------------------------------------------------


def _actors(st: Store, repo: dict[str, Any], lists: dict[str, Any]) -> dict[str, Any]:
    org = repo["owner"]["login"]
    known = apps_by_slug(st)
    return {
        "users": [render.user(st, login) for login in lists.get("users", [])],
        "teams": [render.team(st, org, slug) for slug in lists.get("teams", [])],
        "apps": [render.github_app(st, known[slug.lower()]) for slug in lists.get("apps", []) if slug.lower() in known],
    }


def protection_body(
    st: Store, repo: dict[str, Any], branch: str, record: dict[str, Any], *, put: bool
) -> dict[str, Any]:
    """GET answers the `branch-protection` shape; PUT answers `protected-branch` (no name or enabled)."""
    base = render.api(f"/repos/{repo['full_name']}/branches/{branch}/protection")
    body: dict[str, Any] = {"url": base}
    if not put:
        body.update(enabled=True, name=branch, protection_url=base)
    policy = record.get("required_status_checks")
    if policy is not None:
        body["required_status_checks"] = {
            "url": f"{base}/required_status_checks",
            "strict": policy["strict"],
            "contexts": [c["context"] for c in policy["checks"]],
            "contexts_url": f"{base}/required_status_checks/contexts",
            "checks": [{"context": c["context"], "app_id": c["app_id"]} for c in policy["checks"]],
        }
    reviews = record.get("required_pull_request_reviews")
    if reviews is not None:
        shown: dict[str, Any] = {"url": f"{base}/required_pull_request_reviews"}
        shown.update(
            {
                k: reviews[k]
                for k in (
                    "dismiss_stale_reviews",
                    "require_code_owner_reviews",
                    "required_approving_review_count",
                    "require_last_push_approval",
                )
            }
        )
        if "dismissal_restrictions" in reviews:
            shown["dismissal_restrictions"] = {
                "url": f"{base}/dismissal_restrictions",
                "users_url": f"{base}/dismissal_restrictions/users",
                "teams_url": f"{base}/dismissal_restrictions/teams",
                **_actors(st, repo, reviews["dismissal_restrictions"]),
            }
        if "bypass_pull_request_allowances" in reviews:
            shown["bypass_pull_request_allowances"] = _actors(st, repo, reviews["bypass_pull_request_allowances"])
        body["required_pull_request_reviews"] = shown
    body["required_signatures"] = {"url": f"{base}/required_signatures", "enabled": False}
    body["enforce_admins"] = {"url": f"{base}/enforce_admins", "enabled": bool(record.get("enforce_admins"))}
    restrictions = record.get("restrictions")
    if restrictions is not None:
        body["restrictions"] = {
            "url": f"{base}/restrictions",
            "users_url": f"{base}/restrictions/users",
            "teams_url": f"{base}/restrictions/teams",
            "apps_url": f"{base}/restrictions/apps",
            **_actors(st, repo, restrictions),
        }
    for flag in FLAGS:
        body[flag] = {"enabled": bool(record.get(flag))}
    return body


# --- routes ---------------------------------------------------------------------------------


async def get_protection(request: web.Request) -> web.Response:
    repo = admin_repo(request, "read")
    branch = await existing_branch(request, repo)
    record = repo.get("branch_protection", {}).get(branch)
    if record is None:
        raise ApiError(404, "Branch not protected")
    return respond(protection_body(store(request), repo, branch, record, put=False))


async def put_protection(request: web.Request) -> web.Response:
    repo = admin_repo(request, "write")
    st = store(request)
    branch = await existing_branch(request, repo)
    body = await read_json(request)
    for key in ("required_status_checks", "enforce_admins", "required_pull_request_reviews", "restrictions"):
        if key not in body:
            raise invalid(f'"{key}" wasn\'t supplied.')
    record: dict[str, Any] = {
        "required_status_checks": parse_status_checks(repo, body["required_status_checks"]),
        "enforce_admins": bool(body["enforce_admins"]),
        "required_pull_request_reviews": parse_reviews(st, repo, body["required_pull_request_reviews"]),
        "restrictions": None
        if body["restrictions"] is None
        else parse_actors(st, repo, body["restrictions"], "properties/restrictions", need=("users", "teams")),
    }
    for flag in FLAGS:
        record[flag] = bool(body.get(flag) or False)
    repo.setdefault("branch_protection", {})[branch] = record
    st.touch()
    return respond(protection_body(st, repo, branch, record, put=True))


async def delete_protection(request: web.Request) -> web.Response:
    repo = admin_repo(request, "write")
    branch = await existing_branch(request, repo)
    if repo.get("branch_protection", {}).pop(branch, None) is None:
        raise ApiError(404, "Branch not protected")
    store(request).touch()
    return no_content()


def setup(app: web.Application) -> None:
    path = "/repos/{owner}/{repo}/branches/{branch:.+}/protection"
    app.router.add_get(path, get_protection)
    app.router.add_put(path, put_protection)
    app.router.add_delete(path, delete_protection)
