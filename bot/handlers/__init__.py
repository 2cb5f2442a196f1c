"""One module per concern, each with its own Router; composed here into the app's one router."""

from __future__ import annotations

import logging

from gidgethub import routing
from gidgethub.sansio import Event

from bot.catchup import SWEEP_EVENT
from bot.github.auth import union
from bot.github.client import TransientError
from bot.handlers import cherry_pick, commands, config_check, deployments, failures, guards, merge_rules, release
from bot.handlers.context import Context

log = logging.getLogger("release_train.handlers")

# gidgethub's Router.fetch answers a frozenset, so handlers of one event run in no set order and
# none may depend on another having run (the processor drops a stale config before any of them).
CONCERNS = (config_check, guards, merge_rules, cherry_pick, release, deployments)


def build_router() -> routing.Router:
    command_router = commands.build_router(*(concern.commands for concern in CONCERNS))
    return routing.Router(command_router, *(concern.router for concern in CONCERNS))


# What every job reads: the repository, its config file, and who holds a role.
BASE_PERMISSIONS = {"metadata": "read", "contents": "read", "members": "read"}
# Telling people that a job was given up (a comment).
FAILURE_REPORT_PERMISSIONS = {"metadata": "read", "issues": "write"}


def permissions_for(event: Event) -> dict[str, str]:
    """The least permissions a job for this event needs: the base, and every concern routed for it.

    A comment may hold any concern's command; a sweep runs every concern that sweeps.
    """
    if event.event == SWEEP_EVENT:
        routed = [c.PERMISSIONS for c in CONCERNS if hasattr(c, "sweep")]
    else:
        routed = [c.PERMISSIONS for c in CONCERNS if c.router.fetch(event)]
        if event.event == "issue_comment":
            routed += [commands.PERMISSIONS, *(c.PERMISSIONS for c in CONCERNS if c.commands.specs)]
    return union(BASE_PERMISSIONS, *routed)


def all_permissions() -> dict[str, str]:
    """Everything some job may ask for: what app.yml must grant, and no more."""
    return union(
        BASE_PERMISSIONS,
        FAILURE_REPORT_PERMISSIONS,
        failures.PERMISSIONS,
        commands.PERMISSIONS,
        *(c.PERMISSIONS for c in CONCERNS),
    )


def _name(module: object) -> str:
    return str(getattr(module, "__name__", "")).rsplit(".", 1)[-1]


async def run_sweeps(ctx: Context) -> dict[str, str]:
    """Call every concern module's `sweep(ctx)` (see bot/catchup.py); returns those that failed, with their error."""
    failed: dict[str, str] = {}
    for module in CONCERNS:
        hook = getattr(module, "sweep", None)
        if hook is None:
            continue
        try:
            await hook(ctx)
        except TransientError:
            raise  # the job runs again later
        except Exception as exc:
            log.exception("sweep of %s by %s failed", ctx.full_name, module.__name__)
            failed[_name(module)] = f"{exc.__class__.__name__}: {exc}"[:500]
    return failed


def handled_events(router: routing.Router) -> set[str]:
    """Every event some handler is registered for (the app manifest must subscribe to exactly these)."""
    events: set[str] = set()

    def walk(r: routing.Router) -> None:
        events.update(r._shallow_routes.keys())
        events.update(r._deep_routes.keys())

    walk(router)
    return events


def handled_routes(router: routing.Router) -> set[tuple[str, str | None]]:
    """Every (event, action) some handler is registered for; action None for a handler of the whole event."""
    routes: set[tuple[str, str | None]] = {(event, None) for event in router._shallow_routes}
    for event, keys in router._deep_routes.items():
        for key, values in keys.items():
            assert key == "action", f"{event} is routed on {key!r}, which bot/github/events.py does not key on"
            routes.update((event, value) for value in values)
    return routes
