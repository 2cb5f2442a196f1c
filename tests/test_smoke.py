"""The skeleton holds together: the sandbox starts, and the bot answers webhooks it signs."""

from bot.sandbox.harness import World


async def test_world_starts_and_bot_is_healthy(world: World) -> None:
    assert world.bot_url is not None
    async with world.session.get(world.bot_url.replace("/webhook", "/healthz")) as resp:
        assert resp.status == 200
        assert (await resp.json())["status"] == "ok"
    answer = await world.call(None, "GET", "/_sandbox/requests")
    assert answer.status == 200
