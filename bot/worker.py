"""Turning a stored delivery into a handler call: parse, authenticate as the installation, dispatch."""

from __future__ import annotations

import logging
from typing import Any

import gidgethub
import msgspec
from gidgethub import routing
from gidgethub.sansio import Event

from bot.catchup import SWEEP_EVENT
from bot.github.auth import TokenScope
from bot.handlers.context import Context, Services
from bot.queue import Delivery
from bot.repo_config import asks_for_refresh, makes_config_stale

log = logging.getLogger("release_train.worker")

# Events the bot causes itself and has no rule for; anything else it caused still runs the rules
# (its own check runs feed the gate, its own PRs get merge-rules, its own bug issues block the RC).
OWN_EVENTS_IGNORED = frozenset({"issue_comment", "release", "deployment", "deployment_status", "delete"})


def repo_key(payload: dict[str, Any]) -> str:
    repo = payload.get("repository")
    if isinstance(repo, dict) and repo.get("full_name"):
        return str(repo["full_name"])
    installation = payload.get("installation")
    if isinstance(installation, dict) and installation.get("id"):
        return f"installation:{installation['id']}"
    return "app"


def installation_id(payload: dict[str, Any]) -> int | None:
    installation = payload.get("installation")
    if isinstance(installation, dict) and isinstance(installation.get("id"), int):
        return installation["id"]
    return None


def issue_number(payload: dict[str, Any]) -> int | None:
    """The PR or issue a payload is about, where people can be told what happened (pure)."""
    for key in ("pull_request", "issue"):
        item = payload.get(key)
        if isinstance(item, dict) and isinstance(item.get("number"), int):
            return item["number"]
    number = payload.get("number")
    return number if isinstance(number, int) and "pull_request" in payload else None


class Processor:
    """Runs one stored delivery through the router as its installation; the queue calls it per attempt."""

    def __init__(self, services: Services, router: routing.Router) -> None:
        self.services = services
        self.router = router

    async def _context(
        self, payload: dict[str, Any], event: Event, inst: int, permissions: dict[str, str] | None = None
    ) -> Context:
        """The job's context, with a token for this one repository and the permissions the job needs."""
        from bot.handlers import permissions_for

        github = self.services.github
        repository = payload["repository"]
        owner, name = repository["full_name"].split("/", 1)
        grant = permissions if permissions is not None else permissions_for(event)
        ids = (repository["id"],) if isinstance(repository.get("id"), int) else ()
        return Context(
            gh=await github.installation_client(inst, TokenScope.of(grant, *ids)),
            event=event,
            owner=owner,
            repo=name,
            installation_id=inst,
            bot_login=await github.bot_login(),
            services=self.services,
        )

    async def __call__(self, delivery: Delivery) -> str:
        # The one full parse of the payload; the door read only its head, with the same parser.
        payload = msgspec.json.decode(delivery.body)
        if not isinstance(payload, dict):
            return "ignored"
        event = Event(payload, event=delivery.event, delivery_id=delivery.id)
        if delivery.event == SWEEP_EVENT:
            return await self._sweep(payload, event)
        if not self.router.fetch(event):
            return "ignored"
        inst = installation_id(payload)
        repo = payload.get("repository")
        if inst is None or not isinstance(repo, dict) or "/" not in str(repo.get("full_name", "")):
            log.debug("delivery %s (%s) has no installation or repository; ignored", delivery.id, delivery.event)
            return "ignored"
        github = self.services.github
        bot_login = await github.bot_login()
        sender = (payload.get("sender") or {}).get("login")
        if sender == bot_login and delivery.event in OWN_EVENTS_IGNORED:
            return "ignored"
        try:
            ctx = await self._context(payload, event, inst)
        except gidgethub.BadRequest as exc:
            if int(exc.status_code) in (401, 403, 404):
                # The app was uninstalled or suspended: there is nobody to act for.
                log.warning(
                    "delivery %s: installation %s is not usable (%s); ignored", delivery.id, inst, int(exc.status_code)
                )
                return "ignored"
            raise
        await self._forget_stale(ctx, delivery.event, payload)
        await self.router.dispatch(event, ctx)
        return "done"

    async def _forget_stale(self, ctx: Context, event: str, payload: dict[str, Any]) -> None:
        """Drop what this delivery makes stale before any handler runs, so no handler depends on another's order."""
        if makes_config_stale(event, payload):
            ctx.forget_config()
        if asks_for_refresh(event, payload):
            sender = (payload.get("sender") or {}).get("login")
            # Membership answers are many; only someone who may run /refresh empties their cache.
            if isinstance(sender, str) and await ctx.has_role(sender, "write"):
                ctx.services.roles.forget(ctx.installation_id)

    async def _sweep(self, payload: dict[str, Any], event: Event) -> str:
        from bot.catchup import run_sweeps

        inst = installation_id(payload)
        if inst is None:
            return "ignored"
        try:
            ctx = await self._context(payload, event, inst)
        except gidgethub.BadRequest as exc:
            if int(exc.status_code) in (401, 403, 404):
                return "ignored"
            raise
        await run_sweeps(ctx)
        return "done"

    async def report_failure(self, delivery: Delivery, error: str, dead: bool) -> None:
        """Tell the people on the PR or issue that the bot gave up on this event (once per delivery)."""
        from bot.rules.text import inline

        try:
            payload = msgspec.json.decode(delivery.body)
        except msgspec.DecodeError:
            return
        number = issue_number(payload) if isinstance(payload, dict) else None
        inst = installation_id(payload) if isinstance(payload, dict) else None
        repo = payload.get("repository") if isinstance(payload, dict) else None
        if number is None or inst is None or not isinstance(repo, dict) or "/" not in str(repo.get("full_name", "")):
            log.error("delivery %s (%s) was given up and no one could be told: %s", delivery.id, delivery.event, error)
            return
        why = "kept failing" if dead else "failed in a way that retrying cannot fix"
        body = (
            f"Release Train could not finish handling the `{delivery.event}` event (delivery `{delivery.id}`): it {why}.\n\n"
            f"> {inline(error, 300)}\n\n"
            "Nothing more will happen for that event on its own. Comment `/refresh` to have the bot look at this again, "
            "or ask the app's operators to check this delivery."
        )
        try:
            from bot.handlers import FAILURE_REPORT_PERMISSIONS

            failed = Event(payload, event=delivery.event, delivery_id=delivery.id)
            ctx = await self._context(payload, failed, inst, FAILURE_REPORT_PERMISSIONS)
            await ctx.api.post_once(number, f"job-failed:{delivery.id}", body)
        except Exception:
            log.exception("could not tell anyone that delivery %s was given up", delivery.id)
