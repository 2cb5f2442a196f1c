"""People: a person's permission on the repository, their membership of an organisation's team, and whether a team or person exists."""

from __future__ import annotations

import logging
from typing import Any

import gidgethub

from bot.github.repo.base import Record, RepoBase, or_none, read

log = logging.getLogger("release_train.github")

# The media type under which GitHub answers a team's access to a repository with the repository and its role.
TEAM_REPOSITORY_MEDIA = "application/vnd.github.v3.repository+json"


class Team(Record, frozen=True, kw_only=True):
    id: int = 0
    slug: str = ""
    name: str = ""


def _role(answer: Any) -> str:
    # role_name reports maintain and triage; the older `permission` field folds them into write and read.
    return str(answer.get("role_name") or answer.get("permission") or "none")


class People(RepoBase):
    async def permission(self, login: str) -> str:
        """The person's role on the repository: admin, maintain, write, triage, read or none."""
        answer = await or_none(
            self.gh.getitem("/repos/{owner}/{repo}/collaborators/{username}/permission", self._vars(username=login)),
            missing=(404, 403, 422),  # no such user, or one GitHub will not say anything about
        )
        if answer is None:
            return "none"
        return _role(answer)

    async def person_access(self, login: str) -> str | None:
        """The person's role on the repository (none without access), or None when there is no such user.

        GitHub counts every grant: the repository's own, its teams', the organisation's base role.
        """
        answer = await or_none(
            self.gh.getitem("/repos/{owner}/{repo}/collaborators/{username}/permission", self._vars(username=login))
        )
        return None if answer is None else _role(answer)

    async def team(self, org: str, team_slug: str) -> Team | None:
        """The organisation's team, or None when it has none by that slug that this token may see."""
        answer = await or_none(self.gh.getitem("/orgs/{org}/teams/{team_slug}", {"org": org, "team_slug": team_slug}))
        return None if answer is None else read(Team, answer)

    async def team_access(self, org: str, team_slug: str) -> str:
        """The team's own role on this repository (a parent team's included), or none."""
        answer = await or_none(
            self.gh.getitem(
                "/orgs/{org}/teams/{team_slug}/repos/{owner}/{repo}",
                self._vars(org=org, team_slug=team_slug),
                accept=TEAM_REPOSITORY_MEDIA,
            )
        )
        return "none" if answer is None else _role(answer)

    async def is_team_member(self, org: str, team_slug: str, login: str) -> bool:
        """Whether the person is an active member of the team (a pending invitation is not membership yet)."""
        try:
            answer = await self.gh.getitem(
                "/orgs/{org}/teams/{team_slug}/memberships/{username}",
                {"org": org, "team_slug": team_slug, "username": login},
            )
        except gidgethub.BadRequest as exc:
            if isinstance(exc, gidgethub.RateLimitExceeded):
                raise  # not an answer about the person: the job is retried later
            if int(exc.status_code) == 403:
                log.warning("cannot read @%s/%s membership (403): does the app have members:read?", org, team_slug)
            if int(exc.status_code) in (404, 403):
                return False
            raise
        return bool(answer.get("state") == "active")
