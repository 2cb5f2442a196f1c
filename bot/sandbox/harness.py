"""The sandbox and the bot wired together on loopback, as the tests and the demo use them."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import gidgethub.aiohttp
from aiohttp import web

from bot.sandbox.common import HOOKS
from bot.sandbox.runner import RunningSandbox, start_sandbox
from bot.settings import Settings

WEBHOOK_SECRET = "sandbox-secret"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


class World:
    """A running sandbox, optionally with the bot receiving its webhooks.

    Test drivers act as people with `Authorization: token <login>`; the bot acts as the app.
    """

    def __init__(self, sandbox: RunningSandbox, session: aiohttp.ClientSession) -> None:
        self.sandbox = sandbox
        self.session = session
        self.bot_app: web.Application | None = None
        self.bot_runner: web.AppRunner | None = None
        self.bot_url: str | None = None

    @property
    def api_url(self) -> str:
        return self.sandbox.api_url

    @property
    def app(self) -> web.Application:
        return self.sandbox.app

    # acting as people ----------------------------------------------------------------------
    def gh(self, login: str) -> gidgethub.aiohttp.GitHubAPI:
        """A gidgethub client acting as the user `login` (raises on 4xx/5xx like gidgethub does)."""
        return gidgethub.aiohttp.GitHubAPI(self.session, "sandbox-test", oauth_token=login, base_url=self.api_url)

    async def call(
        self, login: str | None, method: str, path: str, json_body: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        """A raw request (status, headers and body, errors included) as `login` (None: anonymous)."""
        request_headers = {"Accept": "application/vnd.github+json", **(headers or {})}
        if login is not None:
            request_headers["Authorization"] = f"token {login}"
        async with self.session.request(method, self.api_url + path, json=json_body, headers=request_headers) as resp:
            raw = await resp.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            return Answer(resp.status, dict(resp.headers), body)

    # the bot -------------------------------------------------------------------------------
    def private_key(self) -> str:
        """The app's private key (PEM), as the sandbox wrote it."""
        key_path = self.sandbox.config.private_key_path
        if key_path is None:
            raise RuntimeError("the sandbox has not written the app's private key")
        return key_path.read_text()

    def bot_settings(self, **overrides: Any) -> Settings:
        key = self.private_key()
        base = Settings(
            app_id=self.sandbox.config.app_id,
            private_key=key,
            webhook_secrets=(WEBHOOK_SECRET,),
            github_api_url=self.api_url,
            host="127.0.0.1",
            port=0,
            log_level="WARNING",
            # The bot's queue lives with the sandbox, so a restarted bot finds its unfinished jobs.
            state_url=f"sqlite:///{Path(self.sandbox.config.state_dir).resolve()}/bot-queue.db",
            # Catch-up rounds run only in the tests about them (they would add calls to every request count).
            redelivery_interval_seconds=0.0,
            sweep_interval_seconds=0.0,
            retry_base_seconds=0.05,
            retry_cap_seconds=2.0,
        )
        return dataclasses.replace(base, **overrides)

    async def start_bot(self, settings: Settings | None = None) -> web.Application:
        from bot.server import create_app

        settings = settings or self.bot_settings()
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        self.bot_app, self.bot_runner = app, runner
        self.bot_url = f"http://127.0.0.1:{port}/webhook"
        self.point_webhooks_at(self.bot_url)
        return app

    async def stop_bot(self) -> None:
        if self.bot_runner is not None:
            await self.bot_runner.cleanup()
        self.bot_app = self.bot_runner = None

    def point_webhooks_at(self, url: str | None) -> None:
        self.sandbox.config.webhook_url = url
        self.app[HOOKS].webhook_url = url

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait until the sandbox has sent every webhook and the bot has finished every job."""
        from bot.server import QUEUE

        async def quiet() -> None:
            calm = 0
            while calm < 3:
                await self.app[HOOKS].wait_idle()
                if self.bot_app is not None:
                    await self.bot_app[QUEUE].wait_idle()
                await asyncio.sleep(0.02)
                busy = self.app[HOOKS].pending() or (self.bot_app is not None and self.bot_app[QUEUE].depth())
                calm = 0 if busy else calm + 1

        await asyncio.wait_for(quiet(), timeout)

    def app_requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The sandbox's own record of the app's API calls (JWT and installation), after seq `since`."""
        from bot.sandbox.app import REQUEST_LOG

        return [e for e in self.app[REQUEST_LOG] if e["seq"] > since and e["actor"] in ("app", "installation")]

    def last_seq(self) -> int:
        from bot.sandbox.app import REQUEST_LOG

        log = self.app[REQUEST_LOG]
        return log[-1]["seq"] if log else 0

    async def close(self) -> None:
        await self.stop_bot()
        await self.sandbox.stop()


async def start_world(
    state_dir: Path, *, with_bot: bool = True, session: aiohttp.ClientSession, **settings: Any
) -> World:
    sandbox = await start_sandbox(state_dir=Path(state_dir) / "sandbox", webhook_secret=WEBHOOK_SECRET)
    world = World(sandbox, session)
    if with_bot:
        await world.start_bot(world.bot_settings(**settings) if settings else None)
    return world
