"""Who may do what: the config's roles checked against GitHub team membership and repository permission."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import cachetools
import gidgethub

from bot.config import CONFIG_PATH, RepoConfig, Roles
from bot.github.repo import Team
from bot.rules.role_members import MemberFacts, member_key, role_entries
from bot.rules.role_members import is_team as is_team  # the one grammar of role members lives with the rule
from bot.rules.role_members import split_team as split_team


class PeopleAPI(Protocol):
    """What the roles read from GitHub: a person's permission and their team membership."""

    @property
    def full_name(self) -> str: ...

    async def permission(self, login: str) -> str: ...

    async def is_team_member(self, org: str, team_slug: str, login: str) -> bool: ...


class RoleAsker(Protocol):
    """Whom the question is for: the repository's API and the installation whose answers are cached."""

    @property
    def api(self) -> PeopleAPI: ...

    @property
    def installation_id(self) -> int: ...


class MemberLookupAPI(Protocol):
    """What checking the roles' names reads from GitHub: teams, their access, a person's access."""

    async def team(self, org: str, team_slug: str) -> Team | None: ...

    async def team_access(self, org: str, team_slug: str) -> str: ...

    async def person_access(self, login: str) -> str | None: ...


ROLE_NAMES = ("qa", "rte", "pdm")
_RANK = {"none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}


async def member_facts(api: MemberLookupAPI, roles: Roles) -> dict[str, MemberFacts]:
    """What GitHub says about each name the roles hold, keyed by member_key (each name asked once).

    A 403 means GitHub will not tell this token (without members:read, say): the fact stays unknown.
    """
    facts: dict[str, MemberFacts] = {}
    for _, _, member in role_entries(roles):
        key = member_key(member)
        if key in facts:
            continue
        try:
            if is_team(member):
                org, slug = split_team(member)
                team = await api.team(org, slug)
                facts[key] = MemberFacts(team is not None, await api.team_access(org, slug) if team else "none")
            else:
                access = await api.person_access(member.lstrip("@"))
                facts[key] = MemberFacts(access is not None, access or "none")
        except gidgethub.BadRequest as exc:
            if isinstance(exc, gidgethub.RateLimitExceeded) or int(exc.status_code) != 403:
                raise
            need = "the app's members: read permission" if is_team(member) else "read access to the repository"
            facts[key] = MemberFacts(None, unknown=f"GitHub answered 403 (this needs {need})")
    return facts


def role_members(config: RepoConfig | None, role: str) -> tuple[str, ...]:
    return tuple(getattr(config.roles, role, ())) if config is not None else ()


def describe_role(config: RepoConfig | None, role: str) -> str:
    """Who holds a role, in words for a refusal (members of `@acme/qa` or `@alice`; admins and maintainers).

    Names are in code spans so that the refusal mentions no one.
    """
    if role == "write":
        return "people with write access to this repository"
    if role in ("admin", "maintain"):
        return "the repository's admins" + (" and maintainers" if role == "maintain" else "")
    if config is None:
        return f"no one until `{CONFIG_PATH}` is fixed"
    members = role_members(config, role)
    if not members:
        return "the repository's admins and maintainers"
    teams = [f"members of `@{m.lstrip('@')}`" for m in members if is_team(m)]
    people = [f"`@{m.lstrip('@')}`" for m in members if not is_team(m)]
    parts = teams + people
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


class RoleResolver:
    """Caches membership and permission answers briefly, per installation.

    After the TTL the reads are repeated through the client's ETag cache, so an unchanged answer
    costs a 304 and no rate limit.
    """

    def __init__(
        self, ttl_seconds: float = 300.0, max_entries: int = 20000, timer: Callable[[], float] = time.monotonic
    ) -> None:
        self._cache: cachetools.TTLCache[tuple[str | int | None, ...], bool | str] = cachetools.TTLCache(
            max_entries, ttl_seconds, timer=timer
        )

    def forget(self, installation_id: int | None = None) -> None:
        """Drop cached answers (for one installation), e.g. on /refresh after a team change."""
        for key in list(self._cache.keys()):
            if installation_id is None or key[1] == installation_id:
                self._cache.pop(key, None)

    async def permission(self, ctx: RoleAsker, login: str) -> str:
        """The person's role on the repository: admin, maintain, write, triage, read or none."""
        key = ("perm", ctx.installation_id, ctx.api.full_name.lower(), login.lower())
        level = self._cache.get(key)
        if not isinstance(level, str):
            level = await ctx.api.permission(login)
            self._cache[key] = level
        return level

    async def in_team(self, ctx: RoleAsker, org: str, team_slug: str, login: str) -> bool:
        key = ("team", ctx.installation_id, org.lower(), team_slug.lower(), login.lower())
        if key not in self._cache:
            self._cache[key] = await ctx.api.is_team_member(org, team_slug, login)
        return bool(self._cache[key])

    async def has_role(self, ctx: RoleAsker, config: RepoConfig | None, login: str, role: str) -> bool:
        """role: "qa", "rte", "pdm" (from the config), or a repository permission ("write", "maintain", "admin")."""
        if role in _RANK:
            return _RANK.get(await self.permission(ctx, login), 0) >= _RANK[role]
        if config is None:
            return False
        members = role_members(config, role)
        if not members:
            return _RANK.get(await self.permission(ctx, login), 0) >= _RANK["maintain"]
        # Logins first: they cost nothing.
        if any(not is_team(m) and m.lstrip("@").lower() == login.lower() for m in members):
            return True
        for member in members:
            if is_team(member):
                org, team = split_team(member)
                if await self.in_team(ctx, org, team, login):
                    return True
        return False
