"""GitHub-shaped JSON for sandbox records, shared by REST answers and webhook payloads.

Every function returns the full set of keys that GitHub's own answer carries for that object, so
payloads match `github-webhook-examples.json` and answers match the OpenAPI schemas.
"""

from __future__ import annotations

import base64
from typing import Any

from bot.sandbox.state import Store

# Set by the app factory to the sandbox's own base URL (no trailing slash).
BASE = {"api": "http://127.0.0.1", "html": "http://127.0.0.1/_html"}


def node(kind: str, number: int) -> str:
    return base64.b64encode(f"0:{kind}{number}".encode()).decode().rstrip("=")


def api(path: str) -> str:
    return f"{BASE['api']}{path}"


def html(path: str) -> str:
    return f"{BASE['html']}{path}"


def user(st: Store, login: str) -> dict[str, Any]:
    record = st.user(login) if not login.endswith("[bot]") else st.user(login, kind="Bot")
    name = record["login"]
    return {
        "login": name,
        "id": record["id"],
        "node_id": node("User", record["id"]),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{record['id']}?v=4",
        "gravatar_id": "",
        "url": api(f"/users/{name}"),
        "html_url": html(f"/{name}"),
        "followers_url": api(f"/users/{name}/followers"),
        "following_url": api(f"/users/{name}/following{{/other_user}}"),
        "gists_url": api(f"/users/{name}/gists{{/gist_id}}"),
        "starred_url": api(f"/users/{name}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": api(f"/users/{name}/subscriptions"),
        "organizations_url": api(f"/users/{name}/orgs"),
        "repos_url": api(f"/users/{name}/repos"),
        "events_url": api(f"/users/{name}/events{{/privacy}}"),
        "received_events_url": api(f"/users/{name}/received_events"),
        "type": record["type"],
        "user_view_type": "public",
        "site_admin": False,
    }


def organization(st: Store, login: str) -> dict[str, Any]:
    record = st.user(login, kind="Organization")
    name = record["login"]
    return {
        "login": name,
        "id": record["id"],
        "node_id": node("Organization", record["id"]),
        "url": api(f"/orgs/{name}"),
        "repos_url": api(f"/orgs/{name}/repos"),
        "events_url": api(f"/orgs/{name}/events"),
        "hooks_url": api(f"/orgs/{name}/hooks"),
        "issues_url": api(f"/orgs/{name}/issues"),
        "members_url": api(f"/orgs/{name}/members{{/member}}"),
        "public_members_url": api(f"/orgs/{name}/public_members{{/member}}"),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{record['id']}?v=4",
        "description": None,
    }


def repository(st: Store, repo: dict[str, Any]) -> dict[str, Any]:
    """The repository object (routes/repos.py owns its full fidelity)."""
    full = repo["full_name"]
    return {
        "id": repo["id"],
        "node_id": node("Repository", repo["id"]),
        "name": repo["name"],
        "full_name": full,
        "private": repo.get("private", False),
        "owner": user(st, repo["owner"]["login"]),
        "html_url": html(f"/{full}"),
        "url": api(f"/repos/{full}"),
        "default_branch": repo.get("default_branch", "main"),
    }
