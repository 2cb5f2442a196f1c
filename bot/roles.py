"""Who may do what: the config's roles checked against GitHub team membership and repository permission."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import cachetools
import gidgethub

from bot.config import RepoConfig

if TYPE_CHECKING:
    from bot.handlers.context import Context

log = logging.getLogger("release_train.roles")

ROLE_NAMES = ("qa", "rte", "pdm")
_RANK = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}


def describe_role(config: RepoConfig | None, role: str) -> str:
    """Who holds a role, in words for a refusal ("@acme/qa or @alice", or admins and maintainers)."""
    if role == "write":
        return "people with write access to this repository"
    members = getattr(config.roles, role, ()) if config is not None else ()
    if not members:
        return "repository admins and maintainers"
    return " or ".join(m if m.startswith("@") else f"@{m}" for m in members)


class RoleResolver:
    """Caches membership and permission answers briefly, per installation."""

    def __init__(self, ttl_seconds: float = 300.0, max_entries: int = 20000) -> None:
        self._cache: cachetools.TTLCache[tuple, bool | str] = cachetools.TTLCache(max_entries, ttl_seconds)

    async def permission(self, ctx: Context, login: str) -> str:
        key = ("perm", ctx.installation_id, ctx.full_name, login.lower())
        if key in self._cache:
            return self._cache[key]  # type: ignore[return-value]
        try:
            answer = await ctx.gh.getitem(
                "/repos/{owner}/{repo}/collaborators/{username}/permission", {**ctx.repo_vars, "username": login}
            )
            # role_name reports maintain; the older `permission` field reports it as write.
            level = answer.get("role_name") or answer.get("permission") or "none"
        except gidgethub.BadRequest as exc:
            if int(exc.status_code) in (404, 403):
                level = "none"
            else:
                raise
        self._cache[key] = level
        return level

    async def in_team(self, ctx: Context, org: str, team_slug: str, login: str) -> bool:
        key = ("team", ctx.installation_id, org.lower(), team_slug.lower(), login.lower())
        if key in self._cache:
            return bool(self._cache[key])
        try:
            answer = await ctx.gh.getitem(
                "/orgs/{org}/teams/{team_slug}/memberships/{username}",
                {"org": org, "team_slug": team_slug, "username": login},
            )
            member = answer.get("state") == "active"
        except gidgethub.BadRequest as exc:
            if int(exc.status_code) == 404:
                member = False
            else:
                raise
        self._cache[key] = member
        return member

    async def has_role(self, ctx: Context, config: RepoConfig | None, login: str, role: str) -> bool:
        if role == "write":
            return _RANK.get(await self.permission(ctx, login), 0) >= _RANK["write"]
        if config is None:
            return False
        members = getattr(config.roles, role)
        if not members:
            return _RANK.get(await self.permission(ctx, login), 0) >= _RANK["maintain"]
        for member in members:
            if member.startswith("@") and "/" in member:
                org, team = member[1:].split("/", 1)
                if await self.in_team(ctx, org, team, login):
                    return True
            elif member.lstrip("@").lower() == login.lower():
                return True
        return False
