"""The role-guard story's acme/app: a developer's fix PR, its labels, the bot's comments, and a Context as the bot's workers build one."""

from __future__ import annotations

from gidgethub.sansio import Event

from bot.handlers.context import Context
from bot.sandbox import seed
from bot.sandbox.harness import World
from bot.server import SERVICES

ORG, NAME = "acme", "app"
FULL = f"{ORG}/{NAME}"


async def open_fix(world: World, branch: str = "fix-login") -> int:
    await seed.create_branch(world, "dana", FULL, branch, "devel")
    await seed.commit(world, "dana", FULL, branch, {"login.py": "fixed\n"}, "Fix login")
    pr = await seed.open_pr(world, "dana", FULL, head=branch, base="devel", title="Fix login")
    await world.settle()
    return int(pr["number"])


async def labels_on(world: World, number: int) -> set[str]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}")
    return {label["name"] for label in answer.body["labels"]}


async def bot_comments(world: World, number: int) -> list[str]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")
    return [c["body"] for c in answer.body if c["user"]["login"] == "release-train[bot]"]


async def bot_context(world: World) -> Context:
    """A Context as the bot's workers build one, for calling the functions other concerns use."""
    services = world.bot_app[SERVICES]
    installation = await services.github.app_client().getitem(
        "/repos/{owner}/{repo}/installation", {"owner": ORG, "repo": NAME}
    )
    gh = await services.github.installation_client(installation["id"])
    event = Event({"repository": {"full_name": FULL}}, event="ping", delivery_id="test")
    return Context(
        gh=gh,
        event=event,
        owner=ORG,
        repo=NAME,
        installation_id=installation["id"],
        bot_login=await services.github.bot_login(),
        services=services,
    )
