"""Sandbox teams, team memberships, repository collaborators and their permission.

Deviation from GitHub, on purpose: `PUT /repos/{o}/{r}/collaborators/{username}` grants access at
once. GitHub answers 201 with an invitation that the person must accept; the sandbox also answers
201 with that invitation's shape for a new collaborator, but the permission already holds (there is
no one to accept it). For an existing collaborator it updates the permission and answers 204.
Teams come into being on the first membership PUT by an organisation admin (or by POST /orgs/{org}/teams),
and memberships are `active` at once (GitHub's `pending` invitation to the organisation is skipped).
`PUT /orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}` gives a team's members a permission on a repository;
`GET` on the same path answers whether the team has one (204, or 200 with the repository under GitHub's
`application/vnd.github.v3.repository+json` media type; 404 without access).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from bot.sandbox import render
from bot.sandbox.common import (
    PERMISSION_RANK,
    Actor,
    ApiError,
    check_app_permission,
    no_content,
    not_found,
    paginate,
    read_json,
    repo_for,
    require_login,
    respond,
    store,
    user_permission,
    validation_failed,
)
from bot.sandbox.state import Store, now_iso

# GitHub's request names for repository permissions -> the role they grant.
REQUESTED_ROLE = {
    "pull": "read",
    "read": "read",
    "triage": "triage",
    "push": "write",
    "write": "write",
    "maintain": "maintain",
    "admin": "admin",
}
# The legacy `permission` field folds maintain into write and triage into read.
LEGACY_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
TEAM_ROLES = ("member", "maintainer")


def the_org(st: Store, org: str) -> dict[str, Any]:
    record = st.find_user(org)
    if record is None or record.get("type") != "Organization":
        raise not_found()
    return record


def is_org_admin(org_record: dict[str, Any], login: str) -> bool:
    return login.lower() in {a.lower() for a in org_record.get("admins", [])}


def team_key(org: str, slug: str) -> str:
    return f"{org}/{slug}".lower()


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-") or "team"


def new_team(
    st: Store,
    org_record: dict[str, Any],
    name: str,
    *,
    slug: str | None = None,
    description: str | None = None,
    privacy: str = "closed",
    permission: str = "pull",
) -> dict[str, Any]:
    slug = slug or slugify(name)
    record = {
        "id": st.new_id(),
        "name": name,
        "slug": slug,
        "description": description,
        "privacy": privacy,
        "permission": permission,
        "created_at": now_iso(),
        "members": {},
        "repos": {},
    }
    st.data["teams"][team_key(org_record["login"], slug)] = record
    st.touch()
    return record


def may_manage_org(who: Actor, org_record: dict[str, Any], *, scope_level: str) -> None:
    """Org admins manage teams; an installation on the org needs the members permission."""
    if who.kind == "installation":
        if (who.installation_account or "") != org_record["login"].lower():
            raise not_found()
        check_app_permission(who, "members", scope_level)
        return
    if who.kind == "app":
        raise ApiError(403, "A JSON web token could not be used to access this resource; use an installation token")
    if scope_level == "write" and not is_org_admin(org_record, who.login or ""):
        raise ApiError(403, "You must be an organization owner or team maintainer to do that.")


# --- teams ----------------------------------------------------------------------------------


async def create_team(request: web.Request) -> web.Response:
    st = store(request)
    who = require_login(request)
    org_record = the_org(st, request.match_info["org"])
    may_manage_org(who, org_record, scope_level="write")
    body = await read_json(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise validation_failed("Team", "name", "missing_field")
    slug = slugify(name)
    if team_key(org_record["login"], slug) in st.data["teams"]:
        raise validation_failed("Team", "name", "already_exists", "Name must be unique for this org")
    privacy = body.get("privacy", "secret")
    if privacy not in ("secret", "closed"):
        raise validation_failed("Team", "privacy", "invalid")
    new_team(
        st,
        org_record,
        name.strip(),
        slug=slug,
        description=body.get("description"),
        privacy=privacy,
        permission=body.get("permission", "pull"),
    )
    for login in body.get("maintainers") or []:
        st.data["teams"][team_key(org_record["login"], slug)]["members"][str(login).lower()] = "maintainer"
    return respond(render.team(st, org_record["login"], slug, full=True), status=201)


async def list_teams(request: web.Request) -> web.Response:
    st = store(request)
    who = require_login(request)
    org_record = the_org(st, request.match_info["org"])
    may_manage_org(who, org_record, scope_level="read")
    prefix = org_record["login"].lower() + "/"
    slugs = sorted(t["slug"] for k, t in st.data["teams"].items() if k.startswith(prefix))
    return paginate(request, [render.team(st, org_record["login"], slug) for slug in slugs])


def the_team(st: Store, org_record: dict[str, Any], slug: str) -> dict[str, Any]:
    record = st.data["teams"].get(team_key(org_record["login"], slug))
    if record is None:
        raise not_found()
    return record


async def get_team(request: web.Request) -> web.Response:
    st = store(request)
    who = require_login(request)
    org_record = the_org(st, request.match_info["org"])
    may_manage_org(who, org_record, scope_level="read")
    team = the_team(st, org_record, request.match_info["team_slug"])
    return respond(render.team(st, org_record["login"], team["slug"], full=True))


def membership_body(st: Store, org_record: dict[str, Any], team: dict[str, Any], login: str) -> dict[str, Any]:
    org_id = org_record["id"]
    return {
        "url": render.api(f"/organizations/{org_id}/team/{team['id']}/memberships/{login}"),
        "role": team["members"][login.lower()],
        "state": "active",
    }


async def get_membership(request: web.Request) -> web.Response:
    st = store(request)
    who = require_login(request)
    org_record = the_org(st, request.match_info["org"])
    may_manage_org(who, org_record, scope_level="read")
    team = the_team(st, org_record, request.match_info["team_slug"])
    login = request.match_info["username"]
    if login.lower() not in team["members"]:
        raise not_found()
    return respond(membership_body(st, org_record, team, login))


async def put_membership(request: web.Request) -> web.Response:
    st = store(request)
    who = require_login(request)
    org_record = the_org(st, request.match_info["org"])
    slug = request.match_info["team_slug"]
    team = st.data["teams"].get(team_key(org_record["login"], slug))
    is_maintainer = (
        team is not None and who.kind == "user" and team["members"].get((who.login or "").lower()) == "maintainer"
    )
    if not is_maintainer:
        may_manage_org(who, org_record, scope_level="write")
    body = await read_json(request)
    role = body.get("role", "member")
    if role not in TEAM_ROLES:
        raise validation_failed("TeamMember", "role", "invalid")
    login = request.match_info["username"]
    person = st.find_user(login)
    if person is None:
        person = st.user(login)
    if person.get("type") != "User":
        raise validation_failed("TeamMember", "username", "invalid", f"{login} is not a user")
    if team is None:
        team = new_team(st, org_record, slug, slug=slug)
    team["members"][person["login"].lower()] = role
    st.touch()
    return respond(membership_body(st, org_record, team, person["login"]))


async def delete_membership(request: web.Request) -> web.Response:
    st = store(request)
    who = require_login(request)
    org_record = the_org(st, request.match_info["org"])
    may_manage_org(who, org_record, scope_level="write")
    team = the_team(st, org_record, request.match_info["team_slug"])
    if team["members"].pop(request.match_info["username"].lower(), None) is not None:
        st.touch()
    return no_content()


async def put_team_repo(request: web.Request) -> web.Response:
    """Give a team a permission on a repository (members then have it, as user_permission reads it)."""
    st = store(request)
    who = require_login(request)
    org_record = the_org(st, request.match_info["org"])
    may_manage_org(who, org_record, scope_level="write")
    team = the_team(st, org_record, request.match_info["team_slug"])
    repo = st.repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None or repo["owner"]["login"].lower() != org_record["login"].lower():
        raise not_found()
    body = await read_json(request)
    role = REQUESTED_ROLE.get(str(body.get("permission", team.get("permission", "pull"))))
    if role is None:
        raise validation_failed("Team", "permission", "invalid")
    team["repos"][repo["full_name"].lower()] = role
    st.touch()
    return no_content()


async def get_team_repo(request: web.Request) -> web.Response:
    """Whether the team has access to the repository, as GitHub's check-permissions-for-repo-in-org answers."""
    st = store(request)
    who = require_login(request)
    org_record = the_org(st, request.match_info["org"])
    may_manage_org(who, org_record, scope_level="read")
    team = the_team(st, org_record, request.match_info["team_slug"])
    repo = st.repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None:
        raise not_found()
    role = team["repos"].get(repo["full_name"].lower())
    if role is None:
        raise not_found()
    if "application/vnd.github.v3.repository+json" not in request.headers.get("Accept", ""):
        return no_content()
    body = render.repository(st, repo)
    body["permissions"] = {
        "admin": role == "admin",
        "maintain": PERMISSION_RANK[role] >= PERMISSION_RANK["maintain"],
        "push": PERMISSION_RANK[role] >= PERMISSION_RANK["write"],
        "triage": PERMISSION_RANK[role] >= PERMISSION_RANK["triage"],
        "pull": PERMISSION_RANK[role] >= PERMISSION_RANK["read"],
    }
    body["role_name"] = role
    return respond(body)


# --- collaborators --------------------------------------------------------------------------


async def put_collaborator(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="administration", level="admin")
    st = store(request)
    inviter = require_login(request).login or ""
    body = await read_json(request)
    requested = str(body.get("permission", "push"))
    role = REQUESTED_ROLE.get(requested)
    if role is None:
        raise validation_failed("Repository", "permission", "invalid")
    login = request.match_info["username"]
    person = st.user(login)
    if person.get("type") != "User":
        raise validation_failed("Repository", "username", "invalid", f"{login} is not a user")
    collaborators = repo.setdefault("collaborators", {})
    existing = person["login"].lower() in collaborators
    collaborators[person["login"].lower()] = role
    st.touch()
    if existing:
        return no_content()
    invitation_id = st.new_id()
    return respond(
        {
            "id": invitation_id,
            "node_id": render.node("RepositoryInvitation", invitation_id),
            "repository": render.minimal_repository(st, repo),
            "invitee": render.user(st, person["login"]),
            "inviter": render.user(st, inviter),
            "permissions": role,
            "created_at": now_iso(),
            "expired": False,
            "url": render.api(f"/user/repository_invitations/{invitation_id}"),
            "html_url": render.html(f"/{repo['full_name']}/invitations"),
        },
        status=201,
    )


async def check_collaborator(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="metadata", level="read")
    login = request.match_info["username"].lower()
    if login in repo.get("collaborators", {}) or user_permission(store(request), repo, login) in ("admin", "maintain"):
        return no_content()
    raise not_found()


async def delete_collaborator(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="administration", level="admin")
    if repo.setdefault("collaborators", {}).pop(request.match_info["username"].lower(), None) is not None:
        store(request).touch()
    return no_content()


async def collaborator_permission(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="metadata", level="read")
    st = store(request)
    login = request.match_info["username"]
    person = st.find_user(login)
    if person is None or person.get("type") != "User":
        raise ApiError(404, f"{login} is not a user")
    role = user_permission(st, repo, person["login"])
    legacy = LEGACY_PERMISSION[role]
    user = render.user(st, person["login"])
    user["permissions"] = {
        "admin": role == "admin",
        "maintain": PERMISSION_RANK[role] >= PERMISSION_RANK["maintain"],
        "push": PERMISSION_RANK[role] >= PERMISSION_RANK["write"],
        "triage": PERMISSION_RANK[role] >= PERMISSION_RANK["triage"],
        "pull": PERMISSION_RANK[role] >= PERMISSION_RANK["read"],
    }
    user["role_name"] = role
    return respond({"permission": legacy, "role_name": role, "user": user})


def setup(app: web.Application) -> None:
    r = app.router
    r.add_get("/orgs/{org}/teams", list_teams)
    r.add_post("/orgs/{org}/teams", create_team)
    r.add_get("/orgs/{org}/teams/{team_slug}", get_team)
    r.add_get("/orgs/{org}/teams/{team_slug}/memberships/{username}", get_membership)
    r.add_put("/orgs/{org}/teams/{team_slug}/memberships/{username}", put_membership)
    r.add_delete("/orgs/{org}/teams/{team_slug}/memberships/{username}", delete_membership)
    r.add_get("/orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}", get_team_repo)
    r.add_put("/orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}", put_team_repo)
    r.add_get("/repos/{owner}/{repo}/collaborators/{username}", check_collaborator)
    r.add_put("/repos/{owner}/{repo}/collaborators/{username}", put_collaborator)
    r.add_delete("/repos/{owner}/{repo}/collaborators/{username}", delete_collaborator)
    r.add_get("/repos/{owner}/{repo}/collaborators/{username}/permission", collaborator_permission)
