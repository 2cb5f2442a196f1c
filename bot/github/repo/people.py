"""People: a person's permission on the repository and their membership of an organisation's team."""

from __future__ import annotations

import logging

import gidgethub

from bot.github.repo.base import RepoBase, or_none

log = logging.getLogger("release_train.github")


class People(RepoBase):
    async def permission(self, login: str) -> str:
        """The person's role on the repository: admin, maintain, write, triage, read or none."""
        answer = await or_none(
            self.gh.getitem("/repos/{owner}/{repo}/collaborators/{username}/permission", self._vars(username=login)),
            missing=(404, 403, 422),  # no such user, or one GitHub will not say anything about
        )
        if answer is None:
            return "none"
        # role_name reports maintain; the older `permission` field reports it as write.
        return str(answer.get("role_name") or answer.get("permission") or "none")

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
