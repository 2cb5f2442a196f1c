"""A handler Context for one repository's sweep, as the catch-up's queued sweep job gets, for tests that run a sweep by hand."""

from __future__ import annotations

from gidgethub.sansio import Event

from bot.catchup import SWEEP_EVENT
from bot.handlers.context import Context
from bot.sandbox.common import STORE
from bot.sandbox.harness import World
from bot.server import SERVICES


async def sweep_context(world: World, name: str, owner: str = "acme") -> Context:
    """The Context a sweep of `owner/name` runs with, on the bot's own services."""
    assert world.bot_app is not None
    services = world.bot_app[SERVICES]
    installation_id = world.app[STORE].installation_for(owner)["id"]
    repository = (await world.call("alice", "GET", f"/repos/{owner}/{name}")).body
    payload = {"action": "sweep", "repository": repository, "installation": {"id": installation_id}}
    return Context(
        gh=await services.github.installation_client(installation_id),
        event=Event(payload, event=SWEEP_EVENT, delivery_id=f"sweep-{name}"),
        owner=owner,
        repo=name,
        installation_id=installation_id,
        bot_login=await services.github.bot_login(),
        services=services,
    )
