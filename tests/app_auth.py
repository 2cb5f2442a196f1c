"""The app itself against the sandbox: JWTs of any issuer or lifetime, calls signed with one, installation tokens narrowed to permissions."""

from __future__ import annotations

from typing import Any

import jwt

from bot.sandbox.harness import Answer, World


def app_jwt(world: World, *, iss: Any = None, lifetime: int = 540) -> str:
    import time

    now = int(time.time())
    key = world.private_key()
    claims = {
        "iat": now - 60,
        "exp": now + lifetime,
        "iss": str(iss if iss is not None else world.sandbox.config.app_id),
    }
    return jwt.encode(claims, key, algorithm="RS256")


async def as_app(world: World, method: str, path: str, body: Any = None, **kw: Any) -> Answer:
    """A call as the app itself, with a JWT (app_jwt's iss and lifetime pass through)."""
    return await world.call(None, method, path, body, headers={"Authorization": f"Bearer {app_jwt(world, **kw)}"})


async def installation_token(world: World, owner: str, permissions: dict[str, str] | None = None) -> str:
    """An installation token for owner's installation, narrowed to permissions when given."""
    found = await as_app(world, "GET", f"/users/{owner}/installation")
    if found.status == 404:
        found = await as_app(world, "GET", f"/orgs/{owner}/installation")
    assert found.status == 200, found.body
    answer = await as_app(
        world,
        "POST",
        f"/app/installations/{found.body['id']}/access_tokens",
        {"permissions": permissions} if permissions else None,
    )
    assert answer.status == 201, answer.body
    return answer.body["token"]
