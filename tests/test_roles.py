"""Roles: teams and logins from the config, admins and maintainers by role_name, cached briefly, told politely."""

from __future__ import annotations

import pytest

from bot.config import CONFIG_PATH, RepoConfig, parse_config
from bot.roles import RoleResolver, describe_role
from bot.sandbox import seed
from bot.sandbox.harness import World
from guard_story import FULL, NAME, ORG, bot_context

CONFIG = parse_config('roles:\n  qa: ["@acme/qa", "@carol", dave]\n  rte: [rita]\n  pdm: "@acme/pdm"\n').config

DESCRIBE_CASES = [
    (CONFIG, "qa", "members of `@acme/qa`, `@carol` or `@dave`"),
    (CONFIG, "rte", "`@rita`"),
    (CONFIG, "pdm", "members of `@acme/pdm`"),
    (RepoConfig(), "qa", "the repository's admins and maintainers"),
    (None, "qa", f"no one until `{CONFIG_PATH}` is fixed"),
    (None, "write", "people with write access to this repository"),
    (CONFIG, "write", "people with write access to this repository"),
]


@pytest.mark.parametrize("config,role,text", DESCRIBE_CASES)
def test_describe_role(config, role, text):
    assert describe_role(config, role) == text


async def people(world: World) -> None:
    await seed.create_org_repo(world, ORG, NAME, admin="alice", files={"README.md": "# app\n"}, default_branch="devel")
    await seed.grant(world, FULL, "dana", "write")
    await seed.grant(world, FULL, "mia", "maintain")
    await seed.grant(world, FULL, "rhea", "read")
    await seed.add_team_member(world, ORG, "qa", "quinn")
    await seed.add_team_member(world, ORG, "pdm", "pam")
    await world.settle()


HAS_ROLE_CASES = [
    ("quinn", "qa", True),  # member of @acme/qa
    ("carol", "qa", True),  # listed as @carol
    ("dave", "qa", True),  # listed as dave
    ("CAROL", "qa", True),  # logins compare without case
    ("dana", "qa", False),
    ("pam", "pdm", True),
    ("quinn", "pdm", False),
    ("rita", "rte", True),
    ("dana", "write", True),
    ("mia", "write", True),
    ("rhea", "write", False),
    ("nobody", "write", False),
]


async def test_has_role(world: World):
    await people(world)
    ctx = await bot_context(world)
    resolver = RoleResolver()
    results = [(login, role, await resolver.has_role(ctx, CONFIG, login, role)) for login, role, _ in HAS_ROLE_CASES]
    assert results == HAS_ROLE_CASES
    assert not await resolver.has_role(ctx, None, "quinn", "qa"), "no config, no one holds a configured role"


async def test_an_empty_role_means_admins_and_maintainers_by_role_name(world: World):
    await people(world)
    ctx = await bot_context(world)
    resolver = RoleResolver()
    # The older `permission` field reports maintain as write; role_name tells them apart.
    answer = await ctx.gh.getitem(
        "/repos/{owner}/{repo}/collaborators/{username}/permission", {**ctx.repo_vars, "username": "mia"}
    )
    assert (answer["permission"], answer["role_name"]) == ("write", "maintain")
    assert await resolver.permission(ctx, "mia") == "maintain"
    empty = RepoConfig()
    assert await resolver.has_role(ctx, empty, "alice", "qa")  # the org's admin
    assert await resolver.has_role(ctx, empty, "mia", "qa")
    assert not await resolver.has_role(ctx, empty, "dana", "qa")
    assert not await resolver.has_role(ctx, empty, "quinn", "qa")


async def test_answers_are_cached_then_reread_conditionally(world: World):
    await people(world)
    ctx = await bot_context(world)
    clock = [0.0]
    resolver = RoleResolver(ttl_seconds=300, timer=lambda: clock[0])
    since = world.last_seq()
    assert await resolver.has_role(ctx, CONFIG, "quinn", "qa")
    assert await resolver.has_role(ctx, CONFIG, "dana", "write")
    first = len(world.app_requests(since=since))
    assert first == 2
    clock[0] += 299
    assert await resolver.has_role(ctx, CONFIG, "quinn", "qa")
    assert await resolver.has_role(ctx, CONFIG, "dana", "write")
    assert len(world.app_requests(since=since)) == first, "within the TTL: no request"
    clock[0] += 2
    assert await resolver.has_role(ctx, CONFIG, "quinn", "qa")
    assert await resolver.has_role(ctx, CONFIG, "dana", "write")
    assert [r["status"] for r in world.app_requests(since=since)][first:] == [304, 304]
    # A change of membership is seen after the TTL, or at once after forget() (/refresh).
    assert (await world.call("alice", "DELETE", f"/orgs/{ORG}/teams/qa/memberships/quinn")).status == 204
    resolver.forget(ctx.installation_id)
    assert not await resolver.has_role(ctx, CONFIG, "quinn", "qa")
