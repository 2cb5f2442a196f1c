"""The sandbox as a GitHub App sees it: JWT, installations, expiring tokens, manifest permissions, rate limits, ETags, API faults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import pytest

from app_auth import as_app, installation_token
from bot.sandbox.harness import Answer, World
from bot.sandbox.runner import start_sandbox


async def as_installation(
    world: World, token: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> Answer:
    return await world.call(None, method, path, body, headers={"Authorization": f"token {token}", **(headers or {})})


async def make_repo(world: World, org: str, name: str) -> dict[str, Any]:
    from bot.sandbox import seed

    return await seed.create_org_repo(world, org, name, admin="alice", files={"README.md": "hello\n"})


async def test_app_answers_only_to_its_jwt(sandbox: World) -> None:
    answer = await as_app(sandbox, "GET", "/app")
    assert answer.status == 200
    assert answer.body["slug"] == "release-train"
    assert answer.body["id"] == sandbox.sandbox.config.app_id
    assert answer.body["permissions"]["issues"] == "write"
    assert "pull_request" in answer.body["events"]

    assert (await sandbox.call(None, "GET", "/app")).status == 401
    assert (await sandbox.call("alice", "GET", "/app")).status == 401
    assert (await as_app(sandbox, "GET", "/app", iss=999999)).status == 401
    expired = jwt.encode(
        {"iat": 1, "exp": 600, "iss": str(sandbox.sandbox.config.app_id)},
        Path(sandbox.sandbox.config.private_key_path).read_text(),
        algorithm="RS256",
    )
    assert (await sandbox.call(None, "GET", "/app", headers={"Authorization": f"Bearer {expired}"})).status == 401
    too_long = await as_app(sandbox, "GET", "/app", lifetime=3600)
    assert too_long.status == 401
    assert "exp" in too_long.body["message"]


async def test_every_owner_gets_one_installation(sandbox: World) -> None:
    await make_repo(sandbox, "acme", "app")
    await make_repo(sandbox, "acme", "web")
    first = await as_app(sandbox, "GET", "/repos/acme/app/installation")
    second = await as_app(sandbox, "GET", "/repos/acme/web/installation")
    org = await as_app(sandbox, "GET", "/orgs/acme/installation")
    assert first.status == second.status == org.status == 200
    assert first.body["id"] == second.body["id"] == org.body["id"]
    assert first.body["account"]["login"] == "acme"
    assert first.body["target_type"] == "Organization"
    listed = await as_app(sandbox, "GET", "/app/installations")
    assert first.body["id"] in [i["id"] for i in listed.body]
    one = await as_app(sandbox, "GET", f"/app/installations/{first.body['id']}")
    assert one.body["account"]["login"] == "acme"
    assert (await as_app(sandbox, "GET", "/app/installations/4242424")).status == 404
    assert (await as_app(sandbox, "GET", "/repos/acme/nothing/installation")).status == 404
    assert (await as_app(sandbox, "GET", "/orgs/nobody-here/installation")).status == 404
    assert (await as_app(sandbox, "GET", "/users/acme/installation")).status == 404  # an org, not a user


async def test_installation_token_sees_its_owner_repositories_only(sandbox: World) -> None:
    await make_repo(sandbox, "acme", "app")
    await make_repo(sandbox, "umbrella", "other")
    token = await installation_token(sandbox, "acme")
    assert token.startswith("ghs_")
    listed = await as_installation(sandbox, token, "GET", "/installation/repositories")
    assert listed.status == 200
    assert [r["full_name"] for r in listed.body["repositories"]] == ["acme/app"]
    assert listed.body["total_count"] == 1
    assert (await as_installation(sandbox, token, "GET", "/repos/umbrella/other")).status == 404
    assert (await sandbox.call("alice", "GET", "/installation/repositories")).status == 403


async def test_tokens_expire_and_are_checked_on_every_use(sandbox: World) -> None:
    await make_repo(sandbox, "acme", "app")
    token = await installation_token(sandbox, "acme")
    assert (await as_installation(sandbox, token, "GET", "/repos/acme/app")).status == 200
    expired = await sandbox.call(None, "POST", "/_sandbox/tokens/expire", {"token": token})
    assert expired.body == {"expired": 1}
    answer = await as_installation(sandbox, token, "GET", "/repos/acme/app")
    assert answer.status == 401
    assert answer.body["message"] == "Bad credentials"
    assert (await as_installation(sandbox, "ghs_madeup", "GET", "/repos/acme/app")).status == 401


async def test_a_narrower_token_and_the_manifest_limit_what_the_app_may_do(sandbox: World) -> None:
    await make_repo(sandbox, "acme", "app")
    reader = await installation_token(sandbox, "acme", {"issues": "read", "metadata": "read"})
    refused = await as_installation(sandbox, reader, "POST", "/repos/acme/app/issues", {"title": "no"})
    assert refused.status == 403
    assert refused.body["message"] == "Resource not accessible by integration"
    inst = await as_app(sandbox, "GET", "/orgs/acme/installation")
    greedy = await as_app(
        sandbox,
        "POST",
        f"/app/installations/{inst.body['id']}/access_tokens",
        {"permissions": {"administration": "write"}},
    )
    assert greedy.status == 422


async def test_manifest_permissions_are_enforced(tmp_path: Path, session) -> None:
    manifest = tmp_path / "app.yml"
    manifest.write_text(
        "name: Narrow\ndefault_events: [issues]\ndefault_permissions:\n  metadata: read\n  issues: read\n  contents: write\n"
    )
    running = await start_sandbox(state_dir=tmp_path / "sb", manifest=manifest)
    world = World(running, session)
    try:
        await make_repo(world, "acme", "app")
        token = await installation_token(world, "acme")
        assert (await as_installation(world, token, "GET", "/repos/acme/app/issues")).status == 200
        refused = await as_installation(world, token, "POST", "/repos/acme/app/issues", {"title": "no"})
        assert refused.status == 403
        assert refused.body["message"] == "Resource not accessible by integration"
        assert (
            await as_installation(
                world, token, "POST", "/repos/acme/app/pulls", {"title": "x", "head": "a", "base": "main"}
            )
        ).status == 403
        app = await as_app(world, "GET", "/app")
        assert app.body["events"] == ["issues"]
    finally:
        await running.stop()


async def test_rate_limit_headers_count_and_rate_limit_itself_is_free(sandbox: World) -> None:
    await make_repo(sandbox, "acme", "app")
    token = await installation_token(sandbox, "acme")
    first = await as_installation(sandbox, token, "GET", "/repos/acme/app")
    second = await as_installation(sandbox, token, "GET", "/repos/acme/app")
    assert int(first.headers["X-RateLimit-Limit"]) == 5000
    assert int(second.headers["X-RateLimit-Used"]) == int(first.headers["X-RateLimit-Used"]) + 1
    look = await as_installation(sandbox, token, "GET", "/rate_limit")
    again = await as_installation(sandbox, token, "GET", "/rate_limit")
    assert (
        look.body["resources"]["core"]["used"]
        == again.body["resources"]["core"]["used"]
        == int(second.headers["X-RateLimit-Used"])
    )
    assert look.body["rate"]["remaining"] == 5000 - look.body["rate"]["used"]


async def test_etag_gives_304_that_costs_nothing(sandbox: World) -> None:
    await make_repo(sandbox, "acme", "app")
    token = await installation_token(sandbox, "acme")
    first = await as_installation(sandbox, token, "GET", "/repos/acme/app")
    etag = {k.lower(): v for k, v in first.headers.items()}["etag"]
    again = await as_installation(sandbox, token, "GET", "/repos/acme/app", headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["X-RateLimit-Used"] == first.headers["X-RateLimit-Used"]


async def test_api_faults_touch_only_the_app_and_replay_with_the_seed(sandbox: World) -> None:
    await make_repo(sandbox, "acme", "app")
    token = await installation_token(sandbox, "acme")

    async def run_once() -> list[tuple[int, str | None]]:
        set_answer = await sandbox.call(None, "POST", "/_sandbox/faults", {"api": 0.5, "after": 0.5, "seed": 7})
        assert set_answer.status == 200
        outcomes = []
        for _ in range(30):
            answer = await as_installation(sandbox, token, "GET", "/repos/acme/app")
            outcomes.append((answer.status, answer.headers.get("Retry-After")))
        await sandbox.call(None, "POST", "/_sandbox/faults", {})
        return outcomes

    first, second = await run_once(), await run_once()
    assert first == second  # seeded: the same run fails the same way
    statuses = {status for status, _ in first}
    assert statuses == {200, 502, 403}
    assert all(retry == "1" for status, retry in first if status == 403)
    # the test driver's own requests never fail
    await sandbox.call(None, "POST", "/_sandbox/faults", {"api": 1.0, "seed": 1})
    for _ in range(10):
        assert (await sandbox.call("alice", "GET", "/repos/acme/app")).status == 200
    await sandbox.call(None, "POST", "/_sandbox/faults", {})


async def test_a_fault_after_the_change_still_applies_it(sandbox: World) -> None:
    await make_repo(sandbox, "acme", "app")
    token = await installation_token(sandbox, "acme")
    await sandbox.call(None, "POST", "/_sandbox/faults", {"api": 1.0, "after": 1.0, "seed": 3})
    failed = await as_installation(sandbox, token, "POST", "/repos/acme/app/issues", {"title": "made anyway"})
    await sandbox.call(None, "POST", "/_sandbox/faults", {})
    assert failed.status in (502, 403)
    issues = await sandbox.call("alice", "GET", "/repos/acme/app/issues")
    assert [i["title"] for i in issues.body] == ["made anyway"]

    await sandbox.call(None, "POST", "/_sandbox/faults", {"api": 1.0, "after": 0.0, "seed": 3})
    refused = await as_installation(sandbox, token, "POST", "/repos/acme/app/issues", {"title": "never made"})
    await sandbox.call(None, "POST", "/_sandbox/faults", {})
    assert refused.status in (502, 403)
    issues = await sandbox.call("alice", "GET", "/repos/acme/app/issues")
    assert [i["title"] for i in issues.body] == ["made anyway"]


@pytest.mark.parametrize("body", [{"api": 2}, {"nonsense": 1}, {"api": "lots"}])
async def test_bad_fault_settings_are_refused(sandbox: World, body: dict[str, Any]) -> None:
    answer = await sandbox.call(None, "POST", "/_sandbox/faults", body)
    assert answer.status == 422


async def test_a_spent_budget_meets_the_primary_rate_limit(sandbox: World) -> None:
    await make_repo(sandbox, "acme", "app")
    token = await installation_token(sandbox, "acme")
    inst = await as_app(sandbox, "GET", "/orgs/acme/installation")
    spent = await sandbox.call(
        None, "POST", "/_sandbox/rate-limit", {"installation_id": inst.body["id"], "remaining": 1}
    )
    assert spent.status == 200
    last = await as_installation(sandbox, token, "GET", "/repos/acme/app")
    assert last.status == 200 and last.headers["X-RateLimit-Remaining"] == "0"
    refused = await as_installation(sandbox, token, "GET", "/repos/acme/app")
    assert refused.status == 403
    assert refused.body["message"].startswith("API rate limit exceeded")
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["X-RateLimit-Used"] == "5000"  # a refused call is not counted
    assert int(refused.headers["X-RateLimit-Reset"]) > 0
    look = await as_installation(sandbox, token, "GET", "/rate_limit")  # still free, still answers
    assert look.status == 200 and look.body["rate"]["remaining"] == 0
    assert (await sandbox.call("alice", "GET", "/repos/acme/app")).status == 200  # other callers keep their own budget
