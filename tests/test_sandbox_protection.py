"""Classic branch protection in the sandbox: its endpoints, and the merges and pushes it refuses as GitHub does.

Every refusal is done as the actor would do it, over HTTP, and checked for its absent effect (the
branch did not move); each has a control where the rightful actor's change lands.
"""

from __future__ import annotations

import base64
from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World
from sandbox_calls import as_app, installation_token, make_repo

FULL = "acme/app"


async def head(world: World, branch: str) -> str:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/{branch}")
    assert answer.status == 200, answer.body
    return str(answer.body["object"]["sha"])


async def team_repo(world: World) -> None:
    """acme/app owned by alice (admin), with dev (write) and ops (admin) as collaborators."""
    await make_repo(world)
    await seed.grant(world, FULL, "dev", "write")
    await seed.grant(world, FULL, "ops", "admin")


async def feature_pr(world: World, branch: str = "feature", base: str = "main") -> dict[str, Any]:
    await seed.create_branch(world, "dev", FULL, branch, base)
    await seed.commit(world, "dev", FULL, branch, {f"{branch}.txt": "work\n"}, f"Work on {branch}")
    return await seed.open_pr(world, "dev", FULL, head=branch, base=base, title=f"Add {branch}")


async def merge(world: World, login: str, number: int) -> Any:
    return await world.call(login, "PUT", f"/repos/{FULL}/pulls/{number}/merge", {"merge_method": "merge"})


async def test_an_unprotected_branch_answers_branch_not_protected(sandbox: World) -> None:
    await team_repo(sandbox)
    answer = await sandbox.call("alice", "GET", f"/repos/{FULL}/branches/main/protection")
    assert (answer.status, answer.body["message"]) == (404, "Branch not protected")
    branch = await sandbox.call("dev", "GET", f"/repos/{FULL}/branches/main")
    assert branch.body["protected"] is False
    assert (await sandbox.call("alice", "GET", f"/repos/{FULL}/branches/nope/protection")).body["message"] == (
        "Branch not found"
    )


async def test_only_an_admin_sets_protection_and_everyone_sees_the_summary(sandbox: World) -> None:
    await team_repo(sandbox)
    body = {
        "required_status_checks": {"strict": True, "checks": [{"context": "ci/test", "app_id": -1}]},
        "enforce_admins": True,
        "required_pull_request_reviews": None,
        "restrictions": None,
    }
    refused = await sandbox.call("dev", "PUT", f"/repos/{FULL}/branches/main/protection", body)
    assert refused.status == 404  # a writer is not told the setting exists, as on GitHub
    assert (await sandbox.call("alice", "GET", f"/repos/{FULL}/branches/main")).body["protected"] is False
    put = await sandbox.call("alice", "PUT", f"/repos/{FULL}/branches/main/protection", body)
    assert put.status == 200, put.body
    assert put.body["required_status_checks"]["checks"] == [{"context": "ci/test", "app_id": None}]
    assert put.body["enforce_admins"]["enabled"] is True
    got = await sandbox.call("ops", "GET", f"/repos/{FULL}/branches/main/protection")
    assert got.status == 200 and got.body["enabled"] is True and got.body["required_status_checks"]["strict"] is True
    summary = (await sandbox.call("dev", "GET", f"/repos/{FULL}/branches/main")).body
    assert summary["protected"] is True
    assert summary["protection"]["required_status_checks"] == {
        "enforcement_level": "everyone",
        "contexts": ["ci/test"],
        "checks": [{"context": "ci/test", "app_id": None}],
    }
    listed = (await sandbox.call("dev", "GET", f"/repos/{FULL}/branches?protected=true")).body
    assert [b["name"] for b in listed] == ["main"]
    # Both contexts and checks is GitHub's "more than one subschema" refusal.
    both = {**body, "required_status_checks": {"strict": False, "contexts": ["a"], "checks": [{"context": "a"}]}}
    assert (await sandbox.call("alice", "PUT", f"/repos/{FULL}/branches/main/protection", both)).status == 422
    deleted = await sandbox.call("alice", "DELETE", f"/repos/{FULL}/branches/main/protection")
    assert deleted.status == 204
    assert (await sandbox.call("dev", "GET", f"/repos/{FULL}/branches/main")).body["protected"] is False


async def test_the_app_needs_administration_permission_to_read_protection(sandbox: World) -> None:
    await team_repo(sandbox)
    await seed.protect_branch(sandbox, FULL, "main", checks=["ci/test"])
    token = await installation_token(sandbox, "acme")
    answer = await as_app(sandbox, token, "GET", f"/repos/{FULL}/branches/main/protection")
    assert (answer.status, answer.body["message"]) == (403, "Resource not accessible by integration")
    summary = await as_app(sandbox, token, "GET", f"/repos/{FULL}/branches/main")
    assert summary.status == 200 and summary.body["protected"] is True


async def test_a_merge_without_the_required_check_is_refused_until_it_passes(sandbox: World) -> None:
    await team_repo(sandbox)
    await seed.protect_branch(sandbox, FULL, "main", checks=["ci/test"])
    pr = await feature_pr(sandbox)
    before = await head(sandbox, "main")
    refused = await merge(sandbox, "dev", pr["number"])
    assert (refused.status, refused.body["message"]) == (405, 'Required status check "ci/test" is expected.')
    state = (await sandbox.call("dev", "GET", f"/repos/{FULL}/pulls/{pr['number']}")).body
    assert state["mergeable_state"] == "blocked"
    await seed.ci_check_run(sandbox, FULL, pr["head"]["sha"], "ci/test", "failure")
    failing = await merge(sandbox, "dev", pr["number"])
    assert (failing.status, failing.body["message"]) == (405, 'Required status check "ci/test" is failing.')
    assert await head(sandbox, "main") == before
    # Control: a re-run that passes lets the merge through.
    await seed.ci_check_run(sandbox, FULL, pr["head"]["sha"], "ci/test", "success")
    assert (await sandbox.call("dev", "GET", f"/repos/{FULL}/pulls/{pr['number']}")).body["mergeable_state"] == "clean"
    merged = await merge(sandbox, "dev", pr["number"])
    assert merged.status == 200, merged.body
    assert await head(sandbox, "main") == merged.body["sha"]


async def test_a_check_pinned_to_an_app_is_not_met_by_another_app_or_a_status(sandbox: World) -> None:
    await team_repo(sandbox)
    pr = await feature_pr(sandbox)
    sha = pr["head"]["sha"]
    await seed.ci_check_run(sandbox, FULL, sha, "warm-up", app_slug="trusted-ci")
    trusted = seed.app_id_of(sandbox, "trusted-ci")
    await seed.protect_branch(sandbox, FULL, "main", checks=[("ci/test", trusted)])
    # The attack: another app posts a green run of that name, and the writer a green status.
    await seed.ci_check_run(sandbox, FULL, sha, "ci/test", "success", app_slug="forger")
    status = await sandbox.call(
        "dev", "POST", f"/repos/{FULL}/statuses/{sha}", {"state": "success", "context": "ci/test"}
    )
    assert status.status == 201
    refused = await merge(sandbox, "dev", pr["number"])
    assert (refused.status, refused.body["message"]) == (405, 'Required status check "ci/test" is expected.')
    assert (await sandbox.call("dev", "GET", f"/repos/{FULL}/pulls/{pr['number']}")).body["merged"] is False
    # Control: the pinned app's own run satisfies it.
    await seed.ci_check_run(sandbox, FULL, sha, "ci/test", "success", app_slug="trusted-ci")
    assert (await merge(sandbox, "dev", pr["number"])).status == 200


async def test_strict_asks_the_branch_to_be_up_to_date_with_its_base(sandbox: World) -> None:
    await team_repo(sandbox)
    pr = await feature_pr(sandbox)
    await seed.ci_check_run(sandbox, FULL, pr["head"]["sha"], "ci/test")
    await seed.protect_branch(sandbox, FULL, "main", checks=["ci/test"], strict=True)
    await seed.commit(sandbox, "alice", FULL, "main", {"other.txt": "moved on\n"}, "Main moves on")
    got = (await sandbox.call("dev", "GET", f"/repos/{FULL}/pulls/{pr['number']}")).body
    assert got["mergeable_state"] == "behind"
    refused = await merge(sandbox, "dev", pr["number"])
    assert (refused.status, refused.body["message"]) == (405, 'Required status check "ci/test" is expected.')
    # Control: once the branch has the base in it and its check passed there, it merges.
    await sandbox.call("dev", "POST", f"/repos/{FULL}/merges", {"base": "feature", "head": "main"})
    updated = await head(sandbox, "feature")
    await seed.ci_check_run(sandbox, FULL, updated, "ci/test")
    assert (await merge(sandbox, "dev", pr["number"])).status == 200


async def test_a_writer_cannot_push_to_a_branch_that_takes_changes_only_through_pull_requests(sandbox: World) -> None:
    await team_repo(sandbox)
    await seed.protect_branch(sandbox, FULL, "main", pull_requests=True)
    before = await head(sandbox, "main")
    commit = await sandbox.call(
        "dev",
        "POST",
        f"/repos/{FULL}/git/commits",
        {
            "message": "straight in",
            "tree": (await sandbox.call("dev", "GET", f"/repos/{FULL}/git/commits/{before}")).body["tree"]["sha"],
            "parents": [before],
        },
    )
    pushed = await sandbox.call("dev", "PATCH", f"/repos/{FULL}/git/refs/heads/main", {"sha": commit.body["sha"]})
    assert (pushed.status, pushed.body["message"]) == (422, "Changes must be made through a pull request.")
    content = {"message": "edit", "content": base64.b64encode(b"x\n").decode(), "branch": "main"}
    edited = await sandbox.call("dev", "PUT", f"/repos/{FULL}/contents/x.txt", content)
    assert (edited.status, edited.body["message"]) == (
        409,
        "Could not update file: Changes must be made through a pull request.",
    )
    deleted = await sandbox.call("dev", "DELETE", f"/repos/{FULL}/git/refs/heads/main")
    assert (deleted.status, deleted.body["message"]) == (422, "Cannot delete this protected branch")
    assert await head(sandbox, "main") == before
    # Control: the same change through a pull request merges.
    pr = await feature_pr(sandbox)
    assert (await merge(sandbox, "dev", pr["number"])).status == 200
    assert await head(sandbox, "main") != before


async def test_an_admin_is_refused_only_when_enforce_admins_is_on(sandbox: World) -> None:
    await team_repo(sandbox)
    await seed.protect_branch(sandbox, FULL, "main", pull_requests=True)
    # Control: an admin's direct commit lands while admins are exempt.
    landed = await seed.commit(sandbox, "ops", FULL, "main", {"hotfix.txt": "1\n"}, "Admin hotfix")
    assert await head(sandbox, "main") == landed
    await seed.protect_branch(sandbox, FULL, "main", pull_requests=True, enforce_admins=True)
    sha = await head(sandbox, "main")
    tree = (await sandbox.call("ops", "GET", f"/repos/{FULL}/git/commits/{sha}")).body["tree"]["sha"]
    made = await sandbox.call(
        "ops", "POST", f"/repos/{FULL}/git/commits", {"message": "again", "tree": tree, "parents": [sha]}
    )
    refused = await sandbox.call("ops", "PATCH", f"/repos/{FULL}/git/refs/heads/main", {"sha": made.body["sha"]})
    assert (refused.status, refused.body["message"]) == (422, "Changes must be made through a pull request.")
    assert await head(sandbox, "main") == sha


async def test_only_the_app_moves_a_branch_restricted_to_it(sandbox: World) -> None:
    await team_repo(sandbox)
    await seed.create_branch(sandbox, "alice", FULL, "production", "main")
    await seed.protect_branch(sandbox, FULL, "production", push_apps=["release-train"], enforce_admins=True)
    newer = await seed.commit(sandbox, "alice", FULL, "main", {"release.txt": "1.0\n"}, "Release 1.0")
    before = await head(sandbox, "production")
    # The attack: a writer fast-forwards production to a commit of their choosing.
    refused = await sandbox.call("dev", "PATCH", f"/repos/{FULL}/git/refs/heads/production", {"sha": newer})
    assert refused.status == 422
    assert refused.body["message"].startswith("You're not authorized to push to this branch.")
    assert await head(sandbox, "production") == before
    # Control: the app's own fast-forward, with its installation token, lands.
    token = await installation_token(sandbox, "acme")
    moved = await as_app(sandbox, token, "PATCH", f"/repos/{FULL}/git/refs/heads/production", {"sha": newer})
    assert moved.status == 200, moved.body
    assert await head(sandbox, "production") == newer
