"""Calling the sandbox as the installed app or through the bot's own client, with API faults and outages, catching its webhooks, replaying them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web
from gidgethub.apps import get_jwt

from app_auth import app_jwt
from bot.github.auth import REQUESTER, GitHubApp
from bot.github.client import GitHubClient
from bot.sandbox import seed
from bot.sandbox.common import HOOKS
from bot.sandbox.harness import WEBHOOK_SECRET, Answer, World
from bot.sandbox.state import now_iso


async def make_repo(
    world: World, org: str = "acme", name: str = "app", *, admin: str = "alice", files: dict[str, str] | None = None
) -> dict[str, Any]:
    return await seed.create_org_repo(world, org, name, admin=admin, files=files or {"README.md": "hello\n"})


async def app_jwt_headers(world: World) -> dict[str, str]:
    """The app's Authorization header, its JWT signed as the bot signs it (gidgethub)."""
    key = world.private_key()
    return {"Authorization": f"Bearer {get_jwt(app_id=str(world.sandbox.config.app_id), private_key=key)}"}


async def installation_token(world: World, owner: str) -> str:
    """A real installation token, obtained as the bot does: JWT, then POST .../access_tokens."""
    bearer = {"Authorization": f"Bearer {app_jwt(world)}"}
    found = await world.call(None, "GET", f"/orgs/{owner}/installation", headers=bearer)
    if found.status == 404:
        found = await world.call(None, "GET", f"/users/{owner}/installation", headers=bearer)
    assert found.status == 200, found.body
    token = await world.call(None, "POST", f"/app/installations/{found.body['id']}/access_tokens", headers=bearer)
    assert token.status == 201, token.body
    return str(token.body["token"])


async def as_app(world: World, token: str, method: str, path: str, body: Any = None) -> Answer:
    """A call as the installed app, with an installation token (app_auth.as_app calls with the JWT)."""
    return await world.call(None, method, path, body, headers={"Authorization": f"token {token}"})


class HookLog:
    """A tiny webhook receiver: every delivery the sandbox sends, as (event, payload)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []

    async def receive(self, request: web.Request) -> web.Response:
        self.received.append((request.headers["X-GitHub-Event"], await request.json()))
        return web.Response(status=202)

    def of(self, event: str, action: str | None = None) -> list[dict[str, Any]]:
        return [p for e, p in self.received if e == event and (action is None or p.get("action") == action)]


async def settle_hooks(world: World) -> None:
    """Wait until the sandbox has sent every webhook it has queued."""
    await world.app[HOOKS].wait_idle()


async def client_for(world: World, owner: str, **kwargs: Any) -> tuple[GitHubClient, int]:
    key = world.private_key()
    github = GitHubApp(world.session, app_id=world.sandbox.config.app_id, private_key=key, base_url=world.api_url)
    inst = int((await github.app_client().getitem("/orgs/{org}/installation", {"org": owner}))["id"])
    token = await github.installation_token(inst)
    slept: list[float] = []

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)

    kwargs.setdefault("sleeper", no_wait)
    gh = GitHubClient(
        world.session, REQUESTER, oauth_token=token, base_url=world.api_url, installation_id=inst, **kwargs
    )
    gh.slept = slept  # type: ignore[attr-defined]
    return gh, inst


async def faults(world: World, **values: float) -> None:
    answer = await world.call(None, "POST", "/_sandbox/faults", values)
    assert answer.status == 200, answer.body


def captured(world: World, event: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The payload of the newest delivery of event the sandbox sent that match accepts (what an eavesdropper keeps)."""
    hooks = world.app[HOOKS]
    for entry in reversed(hooks.deliveries):
        if entry["event"] == event:
            record = hooks.delivery(entry["id"])
            if record is not None and match(record["request"]["payload"]):
                return dict(record["request"]["payload"])
    raise AssertionError(f"no {event} delivery matched")


async def send_again(world: World, event: str, payload: dict[str, Any]) -> None:
    """POST a captured payload to the bot, correctly signed, under a new X-GitHub-Delivery, and wait for the bot."""
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": signature,
    }
    assert world.bot_url is not None
    async with world.session.post(world.bot_url, data=body, headers=headers) as resp:
        assert resp.status == 202, await resp.text()
    await world.settle()


async def next_second(after: str) -> None:
    """Wait until GitHub's clock (whole seconds, as in created_at) has passed the timestamp after."""
    while now_iso() <= after:
        await asyncio.sleep(0.05)


async def outage(world: World, *routes: str) -> None:
    """The app's calls to routes ("POST /repos/o/r/releases") answer 502 until outage(world) lifts them."""
    answer = await world.call(None, "POST", "/_sandbox/outages", {"routes": list(routes)})
    assert answer.status == 200, answer.body
