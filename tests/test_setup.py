"""`release-train setup`: the manifest flow from the setup page to GitHub's form and back, .env, and the bot it configures.

The sandbox plays GitHub (its new-app pages and POST /app-manifests/{code}/conversions). The first
story is a person in headless Chromium; the refusals are told over HTTP, each browser a client
with its own cookie jar, and each has its control.
"""

from __future__ import annotations

import html
import os
import re
import signal
import stat
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from dotenv import dotenv_values
from gidgethub import apps

from bot.manifest import read_manifest
from bot.sandbox import seed
from bot.sandbox.app import REQUEST_LOG
from bot.sandbox.common import HOOKS
from bot.sandbox.harness import World
from bot.setup.app import SetupConfig, create_setup_app
from browser import Browser, screenshot
from fault_scenarios import free_port, healthy, stop_served, wait_until

SECRETS = ("APP_ID", "WEBHOOK_SECRET", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "GITHUB_API_URL", "GHE_HOST")


@dataclass
class SetupPage:
    url: str
    directory: Path


@pytest.fixture
async def setup_page(sandbox: World, tmp_path: Path) -> AsyncIterator[SetupPage]:
    directory = tmp_path / "bot-home"
    directory.mkdir()
    config = SetupConfig(api_url=sandbox.api_url, directory=directory, manifest=read_manifest())
    runner = web.AppRunner(create_setup_app(config), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield SetupPage(f"http://127.0.0.1:{port}", directory)
    finally:
        await runner.cleanup()


def conversions(world: World) -> list[dict[str, Any]]:
    return [e for e in world.app[REQUEST_LOG] if e["path"].startswith("/app-manifests/")]


def app_jwt(world: World, app_id: int | str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {apps.get_jwt(app_id=str(app_id), private_key=key)}"}


# the person, in a browser ---------------------------------------------------------------------
async def test_setup_in_the_browser_registers_the_app_and_the_bot_it_configures_answers_a_signed_delivery(
    browser: Browser, sandbox: World, setup_page: SetupPage, tmp_path: Path
) -> None:
    await seed.create_org_repo(sandbox, "acme", "shop", admin="alice")
    sandbox_key_before = Path(sandbox.sandbox.config.private_key_path).read_text()  # type: ignore[arg-type]
    app_id_before = sandbox.sandbox.config.app_id
    bot_port = free_port()
    public = f"http://127.0.0.1:{bot_port}"

    def register(page: Any) -> dict[str, str]:
        page.goto(setup_page.url + "/")
        page.fill("#public_url", public)
        page.fill("#organization", "acme")
        screenshot(page, "setup-1-start")
        page.click("#review")
        assert page.inner_text("#hook-url") == public + "/webhook"
        screenshot(page, "setup-2-review")
        page.click("#register")
        page.wait_for_url(re.compile(r"/organizations/acme/settings/apps/new\?state="))
        shown = {"github_hook": page.inner_text("#hook-url"), "github_title": page.inner_text("h1")}
        screenshot(page, "setup-3-github-form")
        page.get_by_role("button", name="Create GitHub App").click()
        page.wait_for_url(setup_page.url + "/done")
        screenshot(page, "setup-4-done")
        return {
            **shown,
            "install": page.get_attribute("#install", "href"),
            "serve": page.inner_text("#serve"),
            "text": page.inner_text("main"),
        }

    seen = await browser.visit(register)
    assert seen["github_hook"] == public + "/webhook"
    assert "for acme" in seen["github_title"]
    assert seen["install"].endswith("/apps/release-train/installations/new")
    assert seen["serve"] == f"cd {setup_page.directory} && release-train serve"

    # What GitHub handed back is where serve reads it, the key readable by its owner alone.
    env_file = setup_page.directory / ".env"
    values = dotenv_values(env_file)
    config = sandbox.sandbox.config
    assert values["APP_ID"] == str(config.app_id) != str(app_id_before)
    assert values["WEBHOOK_SECRET"] == config.webhook_secret and len(config.webhook_secret) >= 40
    assert values["GITHUB_API_URL"] == sandbox.api_url
    assert values["GITHUB_CLIENT_ID"] and values["GITHUB_CLIENT_SECRET"]
    key_file = Path(values["PRIVATE_KEY_PATH"] or "")
    assert key_file.parent == setup_page.directory
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert len(conversions(sandbox)) == 1

    # The new key is the app's; the key the sandbox had before no longer signs for it.
    new_key = key_file.read_text()
    assert (await sandbox.call(None, "GET", "/app", headers=app_jwt(sandbox, config.app_id, new_key))).status == 200
    old = await sandbox.call(None, "GET", "/app", headers=app_jwt(sandbox, app_id_before, sandbox_key_before))
    assert old.status == 401

    # The bot, configured by .env alone, answers the app's signed deliveries.
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(
        {
            "HOST": "127.0.0.1",
            "PORT": str(bot_port),
            "STATE_URL": f"sqlite:///{tmp_path}/bot.db",
            "REDELIVERY_INTERVAL_SECONDS": "0",
            "SWEEP_INTERVAL_SECONDS": "0",
        }
    )
    log = (tmp_path / "serve.log").open("ab")
    served = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"], cwd=setup_page.directory, env=env, stdout=log, stderr=log
    )
    try:
        await wait_until(lambda: healthy(sandbox, bot_port), "the configured bot answers /healthz")
        issue = await sandbox.call("alice", "POST", "/repos/acme/shop/issues", {"title": "Checkout is slow"})
        assert issue.status == 201

        async def delivered() -> bool:
            return any(d["event"] == "issues" and d["status_code"] == 202 for d in sandbox.app[HOOKS].deliveries)

        await wait_until(delivered, "the issues delivery acknowledged with 202")
        # GitHub pinged the new hook when the app was made, before the bot ran; redelivered, the bot answers it.
        deliveries = sandbox.app[HOOKS].deliveries
        (ping,) = [d for d in deliveries if d["event"] == "ping"]
        assert ping["status_code"] == 0
        jwt = app_jwt(sandbox, config.app_id, new_key)
        again = await sandbox.call(None, "POST", f"/app/hook/deliveries/{ping['id']}/attempts", headers=jwt)
        assert again.status == 202

        async def pinged() -> bool:
            return any(d["event"] == "ping" and d["status_code"] == 200 for d in sandbox.app[HOOKS].deliveries)

        await wait_until(pinged, "the redelivered ping answered 200")
    finally:
        stop_served([served])
        log.close()
    assert served.returncode == 0, (tmp_path / "serve.log").read_text()[-2000:]


# refusals, over HTTP --------------------------------------------------------------------------
class Person:
    """One browser: its own cookies (so its own setup session)."""

    def __init__(self, page: SetupPage, sandbox: World) -> None:
        self.page = page
        self.sandbox = sandbox
        self.client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def start(self, public: str = "https://rt.example.com", org: str = "acme") -> tuple[str, str]:
        """Review on the setup page: the form's action (GitHub's new-app page with the state) and the manifest."""
        async with self.client.post(self.page.url + "/", data={"public_url": public, "organization": org}) as resp:
            assert resp.status == 200, await resp.text()
            text = await resp.text()
        action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', text).group(1))  # type: ignore[union-attr]
        manifest = html.unescape(re.search(r'name="manifest" value="([^"]*)"', text).group(1))  # type: ignore[union-attr]
        return action, manifest

    async def create_on_github(self, action: str, manifest: str) -> str:
        """GitHub's "Create GitHub App": its redirect back, with the code and the state."""
        form = {"manifest": manifest, "confirm": "create", "name": "Release Train"}
        async with self.client.post(action, data=form, allow_redirects=False) as resp:
            assert resp.status == 302, await resp.text()
            return resp.headers["Location"]

    async def open(self, url: str) -> tuple[int, str]:
        async with self.client.get(url) as resp:
            return resp.status, await resp.text()

    async def close(self) -> None:
        await self.client.close()


@pytest.fixture
async def people(setup_page: SetupPage, sandbox: World) -> AsyncIterator[tuple[Person, Person]]:
    victim, attacker = Person(setup_page, sandbox), Person(setup_page, sandbox)
    try:
        yield victim, attacker
    finally:
        await victim.close()
        await attacker.close()


def written(page: SetupPage) -> list[str]:
    return sorted(p.name for p in page.directory.iterdir())


async def test_a_redirect_with_a_state_this_browser_was_not_given_is_refused_and_changes_nothing(
    people: tuple[Person, Person], setup_page: SetupPage, sandbox: World
) -> None:
    victim, attacker = people
    await victim.start()  # the person's own registration, under way
    # Someone else registers an app of their own and lures the person's browser to its redirect.
    their_redirect = await attacker.create_on_github(*await attacker.start(public="https://evil.example.com"))
    code = re.search(r"code=(\w+)", their_redirect).group(1)  # type: ignore[union-attr]
    for lure in (
        their_redirect,  # their code with their state
        f"{setup_page.url}/callback?code={code}&state=forged",
        f"{setup_page.url}/callback?code={code}",  # no state at all
    ):
        status, text = await victim.open(lure)
        assert status == 400 and "Nothing was changed" in text, lure
    assert written(setup_page) == [] and conversions(sandbox) == []
    # A browser that started nothing is refused the same way.
    stranger = Person(setup_page, sandbox)
    try:
        status, text = await stranger.open(their_redirect)
        assert status == 400 and "started no registration" in text
    finally:
        await stranger.close()
    assert written(setup_page) == [] and conversions(sandbox) == []

    # Control: the browser that started that registration finishes it.
    status, text = await attacker.open(their_redirect)
    assert status == 200 and "is registered" in text
    assert dotenv_values(setup_page.directory / ".env")["APP_ID"] == str(sandbox.sandbox.config.app_id)
    assert len(conversions(sandbox)) == 1


async def test_the_redirect_replayed_after_setup_is_refused_and_the_files_stay_as_written(
    people: tuple[Person, Person], setup_page: SetupPage, sandbox: World
) -> None:
    person, _ = people
    redirect = await person.create_on_github(*await person.start())
    status, text = await person.open(redirect)
    assert status == 200 and "is registered" in text  # control: the first time works
    before = {name: (setup_page.directory / name).read_bytes() for name in written(setup_page)}
    assert ".env" in before and len(before) == 2
    status, text = await person.open(redirect)
    assert status == 400 and "Nothing was changed" in text
    assert {name: (setup_page.directory / name).read_bytes() for name in written(setup_page)} == before
    assert len(conversions(sandbox)) == 1


async def test_a_code_github_does_not_know_is_reported_and_nothing_is_written(
    people: tuple[Person, Person], setup_page: SetupPage, sandbox: World
) -> None:
    person, _ = people
    redirect = await person.create_on_github(*await person.start())
    state = re.search(r"state=([^&]+)", redirect).group(1)  # type: ignore[union-attr]
    status, text = await person.open(f"{setup_page.url}/callback?code=0000&state={state}")
    assert status == 400 and "GitHub answered 404" in text and "Nothing was written" in text
    assert written(setup_page) == []


async def test_the_start_page_says_what_is_wrong_with_a_url_or_an_organisation(
    people: tuple[Person, Person], setup_page: SetupPage
) -> None:
    person, _ = people
    for form, said in (
        ({"public_url": "localhost:3000", "organization": ""}, "is not an http(s) URL"),
        ({"public_url": "https://rt.example.com", "organization": "acme/qa"}, "is not an organisation"),
    ):
        async with person.client.post(setup_page.url + "/", data=form) as resp:
            assert resp.status == 422 and said in html.unescape(await resp.text())
    status, text = await person.open(setup_page.url + "/installed?installation_id=77&setup_action=install")
    assert status == 200 and "installation 77" in text


async def test_a_request_for_another_host_name_is_refused_before_any_page(setup_page: SetupPage) -> None:
    """A rebound DNS name pointing at the page would get GitHub's redirect (and the code) sent to it: refused."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as client:
        form = {"public_url": "https://rt.example.com", "organization": ""}
        async with client.post(setup_page.url + "/", data=form, headers={"Host": "evil.example:3000"}) as resp:
            assert resp.status == 421
            assert "evil.example" not in await resp.text() and not client.cookie_jar.filter_cookies(setup_page.url)
        # Control: the page's own loopback names are served.
        for host in ("127.0.0.1", "localhost"):
            async with client.post(setup_page.url + "/", data=form, headers={"Host": f"{host}:3000"}) as resp:
                assert resp.status == 200
                assert f"http://{host}:3000/callback" in html.unescape(await resp.text())


# the command line -----------------------------------------------------------------------------
def test_setup_refuses_a_directory_whose_env_names_an_app_and_leaves_it_alone(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("APP_ID=12\nWEBHOOK_SECRET=s\n")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "setup", "--dir", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "already sets APP_ID, WEBHOOK_SECRET" in result.stderr
    assert env_file.read_text() == "APP_ID=12\nWEBHOOK_SECRET=s\n"


def test_setup_serves_its_page_and_stops_on_sigterm(tmp_path: Path) -> None:
    """Control: a .env with settings but no app is no obstacle; the first line says where to open the page."""
    (tmp_path / ".env").write_text("STATE_URL=sqlite:///var/q.db\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "setup", "--dir", str(tmp_path), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        page = re.search(r"Open (http://127\.0\.0\.1:\d+/)", line)
        assert page, line + (proc.stderr.read() if proc.poll() is not None else "")  # type: ignore[union-attr]
        with urllib.request.urlopen(page.group(1), timeout=30) as answer:
            assert answer.status == 200 and b"Public URL where GitHub delivers webhooks" in answer.read()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
