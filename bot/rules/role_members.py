"""Whether each name in the config's roles is a team or person that exists and can reach the repository (pure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from bot.config import ConfigError, Roles

ROLE_WORDS = {"qa": "QA", "rte": "RTE", "pdm": "PdM"}


def is_team(member: str) -> bool:
    """ "@org/team" (or "org/team") names a team; anything else is a login."""
    return "/" in member


def split_team(member: str) -> tuple[str, str]:
    org, team = member.lstrip("@").split("/", 1)
    return org, team


def member_key(member: str) -> str:
    """One spelling per name, as GitHub compares them: without the `@`, in lower case."""
    return member.lstrip("@").lower()


def role_entries(roles: Roles) -> Iterator[tuple[str, str, str]]:
    """(role, dotted key, member) for every name the roles hold, in the file's order."""
    for role in dataclasses.fields(roles):
        for index, member in enumerate(getattr(roles, role.name)):
            yield role.name, f"roles.{role.name}[{index}]", member


@dataclass(frozen=True)
class MemberFacts:
    """What GitHub says about one name of a role."""

    exists: bool | None  # None: GitHub would not say (see unknown)
    access: str = "none"  # the team's or person's role on the repository: admin ... read, or none
    unknown: str = ""  # why GitHub would not say


@dataclass(frozen=True)
class RoleFindings:
    errors: tuple[ConfigError, ...] = ()
    warnings: tuple[ConfigError, ...] = ()


def role_findings(
    roles: Roles, facts: Mapping[str, MemberFacts], lines: Mapping[str, int], *, repository: str
) -> RoleFindings:
    """An error for each name that is no team or person GitHub knows, or that has no access to the repository.

    `facts` is keyed by member_key; a name without facts was not looked up and gives no finding.
    """
    owner = repository.split("/", 1)[0]
    errors: list[ConfigError] = []
    warnings: list[ConfigError] = []
    for role, key, member in role_entries(roles):
        fact = facts.get(member_key(member))
        if fact is None:
            continue
        line = lines.get(key)
        word = ROLE_WORDS.get(role, role)
        shown = "@" + member.lstrip("@")
        if fact.exists is None:
            warnings.append(ConfigError(line, key, f"{shown} could not be checked: {fact.unknown}"))
        elif not fact.exists and is_team(member):
            org, slug = split_team(member)
            where = f"; the app is installed on {owner} and sees only its teams" if org.lower() != owner.lower() else ""
            errors.append(
                ConfigError(
                    line,
                    key,
                    f"{shown}: {org} has no team {slug!r} that the app can see{where}, "
                    f"so no one holds the {word} role through it",
                )
            )
        elif not fact.exists:
            errors.append(
                ConfigError(
                    line,
                    key,
                    f"{shown}: there is no GitHub user {member.lstrip('@')!r}, so no one holds "
                    f"the {word} role through it",
                )
            )
        elif fact.access == "none":
            fix = "give the team access" if is_team(member) else "add them as a collaborator"
            errors.append(
                ConfigError(
                    line,
                    key,
                    f"{shown} has no access to {repository}, so the {word} role cannot act there: {fix} "
                    "(Settings, Collaborators and teams)",
                )
            )
    return RoleFindings(tuple(errors), tuple(warnings))
