"""One module per concern, each with its own Router; composed here into the app's one router."""

from __future__ import annotations

from gidgethub import routing

from bot.handlers import cherry_pick, commands, config_check, guards, merge_rules, release

# config_check first: its push handler drops a changed config before the others act on that push.
CONCERNS = (config_check, guards, merge_rules, cherry_pick, release)


def build_router() -> routing.Router:
    command_router = commands.build_router(*(concern.commands for concern in CONCERNS))
    return routing.Router(command_router, *(concern.router for concern in CONCERNS))


def handled_events(router: routing.Router) -> set[str]:
    """Every event some handler is registered for (the app manifest must subscribe to exactly these)."""
    events: set[str] = set()

    def walk(r: routing.Router) -> None:
        events.update(r._shallow_routes.keys())
        events.update(r._deep_routes.keys())

    walk(router)
    return events
