"""App authentication against the sandbox: installation tokens cached until near expiry, one ETag cache per installation."""

from __future__ import annotations

import time

import aiohttp

from bot.github.auth import TOKEN_MARGIN_SECONDS, GitHubApp, TokenScope
from bot.sandbox import seed
from bot.sandbox.harness import World


def app_for(world: World, session: aiohttp.ClientSession) -> GitHubApp:
    key = world.private_key()
    return GitHubApp(session, app_id=world.sandbox.config.app_id, private_key=key, base_url=world.api_url)


def token_requests(world: World, since: int) -> list[dict]:
    return [e for e in world.app_requests(since) if e["method"] == "POST" and e["path"].endswith("/access_tokens")]


async def installation_of(world: World, owner: str) -> int:
    app = app_for(world, world.session)
    found = await app.app_client().getitem("/orgs/{org}/installation", {"org": owner})
    return int(found["id"])


async def test_installation_tokens_are_cached_until_a_few_minutes_before_expiry(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    inst = await installation_of(sandbox, "acme")
    github = app_for(sandbox, sandbox.session)
    since = sandbox.last_seq()
    for _ in range(5):
        gh = await github.installation_client(inst)
        await gh.getitem("/repos/{owner}/{repo}", {"owner": "acme", "repo": "app"})
    assert len(token_requests(sandbox, since)) == 1
    # Within the margin before expiry, the next client gets a fresh token.
    token, _ = github._tokens[(inst, TokenScope())]
    github._tokens[(inst, TokenScope())] = (token, time.time() + TOKEN_MARGIN_SECONDS - 1)
    gh = await github.installation_client(inst)
    await gh.getitem("/repos/{owner}/{repo}", {"owner": "acme", "repo": "app"})
    assert len(token_requests(sandbox, since)) == 2
    assert github._tokens[(inst, TokenScope())][0] != token
    assert github.token_requests == 2


async def test_concurrent_clients_share_one_token_request(sandbox: World) -> None:
    import asyncio

    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    inst = await installation_of(sandbox, "acme")
    github = app_for(sandbox, sandbox.session)
    since = sandbox.last_seq()
    await asyncio.gather(*(github.installation_client(inst) for _ in range(10)))
    assert len(token_requests(sandbox, since)) == 1


async def test_one_installation_never_gets_another_installations_cached_answer(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    await seed.create_org_repo(sandbox, "globex", "site", admin="bob")
    await seed.create_org_repo(sandbox, "globex", "api", admin="bob")
    acme, globex = await installation_of(sandbox, "acme"), await installation_of(sandbox, "globex")
    assert acme != globex
    github = app_for(sandbox, sandbox.session)

    async def repositories(inst: int) -> list[str]:
        gh = await github.installation_client(inst)
        return sorted(
            [r["full_name"] async for r in gh.getiter("/installation/repositories", iterable_key="repositories")]
        )

    since = sandbox.last_seq()
    assert await repositories(acme) == ["acme/app"]
    # Same URL, other installation: its own answer, fetched fresh (200), not acme's cached one.
    assert await repositories(globex) == ["globex/api", "globex/site"]
    assert await repositories(acme) == ["acme/app"]
    assert await repositories(globex) == ["globex/api", "globex/site"]
    calls = [
        (e["installation_id"], e["status"])
        for e in sandbox.app_requests(since)
        if e["path"] == "/installation/repositories"
    ]
    assert calls == [(acme, 200), (globex, 200), (acme, 304), (globex, 304)]
    assert github.etag_cache(acme) is not github.etag_cache(globex)


async def test_the_bot_login_comes_from_the_app(sandbox: World) -> None:
    github = app_for(sandbox, sandbox.session)
    assert await github.bot_login() == "release-train[bot]"


async def test_the_app_jwt_is_signed_once_for_many_token_requests(sandbox: World, monkeypatch) -> None:
    """Signing a JWT costs tens of ms of CPU on the loop; new tokens must reuse the app's JWT."""
    import gidgethub.apps

    signed: list[str] = []
    real_get_jwt = gidgethub.apps.get_jwt

    def counting_get_jwt(**kwargs):
        token = real_get_jwt(**kwargs)
        signed.append(token)
        return token

    monkeypatch.setattr(gidgethub.apps, "get_jwt", counting_get_jwt)
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    await seed.create_org_repo(sandbox, "umbrella", "tool", admin="bob")
    github = app_for(sandbox, sandbox.session)
    installations = [await installation_of(sandbox, "acme"), await installation_of(sandbox, "umbrella")]
    since = sandbox.last_seq()
    signed.clear()  # installation_of() used apps of its own
    for _ in range(3):
        for inst in installations:
            github.forget_token(inst)
            gh = await github.installation_client(inst)
            await gh.getitem("/installation/repositories")
    assert len(token_requests(sandbox, since)) == 6
    assert len(signed) == 1
