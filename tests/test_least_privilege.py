"""Least privilege: each job's token reaches one repository with the permissions its concerns declare, and the sandbox holds tokens to that.

Attacks: a token scoped to repository A writes to B; a token without `contents: write` creates a
ref; a token asks for more than the installation holds. Controls: the same token's rightful call
succeeds, and the bot's own jobs, each on its one-repository token, still do their work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from app_auth import as_app as as_jwt
from bot.github.auth import GitHubApp, TokenScope
from bot.handlers import all_permissions
from bot.sandbox import seed
from bot.sandbox.common import STORE
from bot.sandbox.harness import World
from sandbox_calls import as_app

MANIFEST = Path(__file__).resolve().parents[1] / "app.yml"


async def installation_id(world: World, owner: str = "acme") -> int:
    return int((await as_jwt(world, "GET", f"/orgs/{owner}/installation")).body["id"])


async def scoped_token(world: World, body: dict[str, Any]) -> Any:
    return await as_jwt(world, "POST", f"/app/installations/{await installation_id(world)}/access_tokens", body)


def test_the_concerns_together_ask_for_exactly_what_app_yml_grants() -> None:
    granted = yaml.safe_load(MANIFEST.read_text())["default_permissions"]
    assert all_permissions() == granted


async def test_a_token_for_one_repository_cannot_write_to_another(sandbox: World) -> None:
    a = await seed.create_org_repo(sandbox, "acme", "a", admin="alice")
    await seed.create_org_repo(sandbox, "acme", "b", admin="alice")
    answer = await scoped_token(sandbox, {"repository_ids": [a["id"]], "permissions": {"issues": "write"}})
    assert answer.status == 201 and answer.body["repository_selection"] == "selected"
    token = answer.body["token"]
    refused = await as_app(sandbox, token, "POST", "/repos/acme/b/issues", {"title": "from a's job"})
    assert (refused.status, refused.body["message"]) == (403, "Resource not accessible by integration")
    assert (await sandbox.call("alice", "GET", "/repos/acme/b/issues?state=all")).body == []
    listed = await as_app(sandbox, token, "GET", "/installation/repositories")
    assert [r["name"] for r in listed.body["repositories"]] == ["a"]
    # Control: the same token does its own repository's work.
    made = await as_app(sandbox, token, "POST", "/repos/acme/a/issues", {"title": "a's own issue"})
    assert made.status == 201, made.body


async def test_a_token_without_contents_write_cannot_create_a_ref(sandbox: World) -> None:
    repo = await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    main = (await sandbox.call("alice", "GET", "/repos/acme/app/git/ref/heads/main")).body["object"]["sha"]
    reader = (await scoped_token(sandbox, {"repository_ids": [repo["id"]], "permissions": {"contents": "read"}})).body
    refused = await as_app(
        sandbox, reader["token"], "POST", "/repos/acme/app/git/refs", {"ref": "refs/heads/rc/1.5", "sha": main}
    )
    assert (refused.status, refused.body["message"]) == (403, "Resource not accessible by integration")
    assert (await sandbox.call("alice", "GET", "/repos/acme/app/git/ref/heads/rc/1.5")).status == 404
    # Control: the job that needs to cut the branch asks for contents: write, and does.
    writer = (await scoped_token(sandbox, {"repository_ids": [repo["id"]], "permissions": {"contents": "write"}})).body
    made = await as_app(
        sandbox, writer["token"], "POST", "/repos/acme/app/git/refs", {"ref": "refs/heads/rc/1.5", "sha": main}
    )
    assert made.status == 201, made.body


async def test_a_token_cannot_ask_for_more_than_the_installation_holds(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    other = await seed.create_org_repo(sandbox, "globex", "site", admin="gina")
    more = await scoped_token(sandbox, {"permissions": {"administration": "write"}})
    assert more.status == 422
    elsewhere = await scoped_token(sandbox, {"repository_ids": [other["id"]]})
    assert (elsewhere.status, elsewhere.body["message"]) == (
        422,
        "There is at least one repository that does not exist or is not accessible to the parent installation.",
    )
    by_name = await scoped_token(sandbox, {"repositories": ["app"], "permissions": {"metadata": "read"}})
    assert by_name.status == 201 and [r["name"] for r in by_name.body["repositories"]] == ["app"]


async def test_tokens_and_etag_caches_are_kept_per_scope(sandbox: World) -> None:
    a = await seed.create_org_repo(sandbox, "acme", "a", admin="alice")
    b = await seed.create_org_repo(sandbox, "acme", "b", admin="alice")
    key = sandbox.private_key()
    github = GitHubApp(sandbox.session, app_id=sandbox.sandbox.config.app_id, private_key=key, base_url=sandbox.api_url)
    inst = await installation_id(sandbox)
    for_a, for_b = TokenScope.of({"metadata": "read"}, a["id"]), TokenScope.of({"metadata": "read"}, b["id"])
    for _ in range(3):
        await (await github.installation_client(inst, for_a)).getitem("/repos/acme/a")
    assert github.token_requests == 1
    gh_b = await github.installation_client(inst, for_b)
    assert github.token_requests == 2
    assert github.etag_cache(inst, for_a) is not github.etag_cache(inst, for_b)
    assert github.etag_cache(inst, for_a) is github.etag_cache(inst, TokenScope.of({"issues": "write"}, a["id"]))
    # b's token is refused a's repository even with a's ETag in hand: the caches never cross.
    refused = await sandbox.call(None, "GET", "/repos/acme/a", headers={"Authorization": f"token {gh_b.oauth_token}"})
    assert refused.status == 403


async def test_each_of_the_bots_jobs_gets_a_token_for_its_one_repository(world: World) -> None:
    repo = await seed.create_org_repo(world, "acme", "app", admin="alice", default_branch="devel")
    await seed.create_org_repo(world, "acme", "other", admin="alice")
    await seed.grant(world, "acme/app", "dev", "write")
    await seed.create_branch(world, "dev", "acme/app", "fr/FR-1-login", "devel")
    await seed.commit(world, "dev", "acme/app", "fr/FR-1-login", {"login.py": "1\n"}, "Login")
    pr = await seed.open_pr(world, "dev", "acme/app", head="fr/FR-1-login", base="devel", title="FR-1 login")
    await world.settle()
    # Control: the jobs did their work on those tokens.
    runs = await world.call("dev", "GET", f"/repos/acme/app/commits/{pr['head']['sha']}/check-runs")
    assert "release-train/merge-rules" in {r["name"] for r in runs.body["check_runs"]}
    tokens = list(world.app[STORE].data["tokens"].values())
    assert tokens, "the bot asked for no token"
    granted = yaml.safe_load(MANIFEST.read_text())["default_permissions"]
    for token in tokens:
        assert token["repository_ids"] == [repo["id"]]
        assert set(token["permissions"]) <= set(granted)
    assert any(token["permissions"] != granted for token in tokens), "every job asked for everything"
