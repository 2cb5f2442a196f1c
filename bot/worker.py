"""Turning a stored delivery into a handler call: parse, authenticate as the installation, dispatch."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from gidgethub import routing
from gidgethub.sansio import Event

from bot.handlers.context import Context, Services
from bot.queue import Delivery

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


class Processor:
    def __init__(self, services: Services, router: routing.Router) -> None:
        self.services = services
        self.router = router

    async def __call__(self, delivery: Delivery) -> None:
        payload = orjson.loads(delivery.body)
        event = Event(payload, event=delivery.event, delivery_id=delivery.id)
        if not self.router.fetch(event):
            return
        inst = installation_id(payload)
        repo = payload.get("repository")
        if inst is None or not isinstance(repo, dict) or "/" not in str(repo.get("full_name", "")):
            log.debug("delivery %s (%s) has no installation or repository; ignored", delivery.id, delivery.event)
            return
        github = self.services.github
        bot_login = await github.bot_login()
        sender = (payload.get("sender") or {}).get("login")
        if sender == bot_login and delivery.event in OWN_EVENTS_IGNORED:
            return
        owner, name = repo["full_name"].split("/", 1)
        gh = await github.installation_client(inst)
        ctx = Context(
            gh=gh,
            event=event,
            owner=owner,
            repo=name,
            installation_id=inst,
            bot_login=bot_login,
            services=self.services,
        )
        await self.router.dispatch(event, ctx)
