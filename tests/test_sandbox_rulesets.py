"""Repository rulesets in the sandbox: their endpoints, and the merges, pushes and tags they refuse as GitHub does.

Each refusal is done as the actor would, over HTTP, with the harm checked absent (the ref did not
move, the tag does not exist); each has a control where the rightful actor (the app bypassing the
ruleset, a merge through a pull request) succeeds.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World
from sandbox_calls import as_app, installation_token, make_repo

FULL = "acme/app"
VIOLATION = "Repository rule violations found\n\n"


async def ref_sha(world: World, ref: str) -> str | None:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/git/ref/{ref}")
    return str(answer.body["object"]["sha"]) if answer.status == 200 else None


async def team_repo(world: World) -> str:
    """acme/app (alice admin, dev write) with an rc/1.5 branch; the sha of main."""
    await make_repo(world)
    await seed.grant(world, FULL, "dev", "write")
    main = await ref_sha(world, "heads/main")
    assert main is not None
    await seed.create_branch(world, "alice", FULL, "rc/1.5", main)
    return main


async def child_commit(world: World, login: str, parent: str, message: str) -> str:
    tree = (await world.call(login, "GET", f"/repos/{FULL}/git/commits/{parent}")).body["tree"]["sha"]
    made = await world.call(
        login, "POST", f"/repos/{FULL}/git/commits", {"message": message, "tree": tree, "parents": [parent]}
    )
    assert made.status == 201, made.body
    return str(made.body["sha"])


async def fix_pr(world: World) -> dict[str, Any]:
    await seed.create_branch(world, "dev", FULL, "fix", "rc/1.5")
    await seed.commit(world, "dev", FULL, "fix", {"fix.txt": "fixed\n"}, "Fix it")
    return await seed.open_pr(world, "dev", FULL, head="fix", base="rc/1.5", title="Fix")


async def test_rulesets_are_read_by_writers_and_changed_by_admins(sandbox: World) -> None:
    await team_repo(sandbox)
    body = {
        "name": "rc",
        "target": "branch",
        "enforcement": "active",
        "conditions": {"ref_name": {"include": ["refs/heads/rc/*"], "exclude": []}},
        "rules": [{"type": "deletion"}],
    }
    assert (await sandbox.call("dev", "POST", f"/repos/{FULL}/rulesets", body)).status == 404
    made = await sandbox.call("alice", "POST", f"/repos/{FULL}/rulesets", body)
    assert made.status == 201, made.body
    assert made.body["source"] == FULL and made.body["current_user_can_bypass"] == "never"
    assert (await sandbox.call("alice", "POST", f"/repos/{FULL}/rulesets", body)).status == 422  # names are unique
    listed = await sandbox.call("dev", "GET", f"/repos/{FULL}/rulesets")
    assert [r["name"] for r in listed.body] == ["rc"]
    rules = await sandbox.call("dev", "GET", f"/repos/{FULL}/rules/branches/rc/1.5")
    assert rules.body == [
        {"type": "deletion", "ruleset_source_type": "Repository", "ruleset_source": FULL, "ruleset_id": made.body["id"]}
    ]
    assert (await sandbox.call("dev", "GET", f"/repos/{FULL}/rules/branches/main")).body == []
    token = await installation_token(sandbox, "acme")
    assert (await as_app(sandbox, token, "GET", f"/repos/{FULL}/rules/branches/rc/2.0")).body[0]["type"] == "deletion"
    off = await sandbox.call("alice", "PUT", f"/repos/{FULL}/rulesets/{made.body['id']}", {"enforcement": "disabled"})
    assert off.status == 200 and off.body["enforcement"] == "disabled"
    assert (await sandbox.call("dev", "GET", f"/repos/{FULL}/rules/branches/rc/1.5")).body == []
    assert (await sandbox.call("alice", "DELETE", f"/repos/{FULL}/rulesets/{made.body['id']}")).status == 204
    assert (await sandbox.call("dev", "GET", f"/repos/{FULL}/rulesets/{made.body['id']}")).status == 404


async def test_rc_branches_take_changes_only_through_pull_requests_with_the_apps_own_check(sandbox: World) -> None:
    await team_repo(sandbox)
    bot_id = seed.app_id_of(sandbox, "release-train")
    await seed.create_ruleset(
        sandbox,
        FULL,
        "rc branches",
        include=["refs/heads/rc/*"],
        rules=[seed.pull_request_rule(), seed.required_checks_rule(("release-train/merge-rules", bot_id))],
    )
    before = await ref_sha(sandbox, "heads/rc/1.5")
    assert before is not None
    # The attack: a writer pushes straight onto the RC.
    sneaked = await child_commit(sandbox, "dev", before, "Straight into the RC")
    pushed = await sandbox.call("dev", "PATCH", f"/repos/{FULL}/git/refs/heads/rc/1.5", {"sha": sneaked})
    assert pushed.status == 422
    assert pushed.body["message"] == VIOLATION + "Changes must be made through a pull request.\n\n" + (
        'Required status check "release-train/merge-rules" is expected.\n\n'
    )
    # The attack: another app forges the bot's check on the writer's PR.
    pr = await fix_pr(sandbox)
    await seed.ci_check_run(sandbox, FULL, pr["head"]["sha"], "release-train/merge-rules", app_slug="forger")
    refused = await sandbox.call("dev", "PUT", f"/repos/{FULL}/pulls/{pr['number']}/merge", {})
    assert refused.status == 405
    assert refused.body["message"] == VIOLATION + 'Required status check "release-train/merge-rules" is expected.\n\n'
    assert (await sandbox.call("dev", "GET", f"/repos/{FULL}/pulls/{pr['number']}")).body[
        "mergeable_state"
    ] == "blocked"
    assert await ref_sha(sandbox, "heads/rc/1.5") == before
    # Control: the app's own passing check lets the PR merge.
    token = await installation_token(sandbox, "acme")
    run = await as_app(
        sandbox,
        token,
        "POST",
        f"/repos/{FULL}/check-runs",
        {
            "name": "release-train/merge-rules",
            "head_sha": pr["head"]["sha"],
            "status": "completed",
            "conclusion": "success",
        },
    )
    assert run.status == 201, run.body
    merged = await sandbox.call("dev", "PUT", f"/repos/{FULL}/pulls/{pr['number']}/merge", {})
    assert merged.status == 200, merged.body
    assert await ref_sha(sandbox, "heads/rc/1.5") == merged.body["sha"]


async def test_only_the_app_updates_the_production_branch(sandbox: World) -> None:
    main = await team_repo(sandbox)
    await seed.create_branch(sandbox, "alice", FULL, "production", main)
    await seed.create_ruleset(
        sandbox,
        FULL,
        "production",
        include=["refs/heads/production"],
        rules=[{"type": "update"}, {"type": "deletion"}, {"type": "non_fast_forward"}],
        bypass_app_ids=[seed.app_id_of(sandbox, "release-train")],
    )
    release = await child_commit(sandbox, "alice", main, "Release")
    for login in ("dev", "alice"):  # a writer, and an admin the ruleset does not list
        refused = await sandbox.call(login, "PATCH", f"/repos/{FULL}/git/refs/heads/production", {"sha": release})
        assert (refused.status, refused.body["message"]) == (422, VIOLATION + "Cannot update this protected ref.\n\n")
    deleted = await sandbox.call("dev", "DELETE", f"/repos/{FULL}/git/refs/heads/production")
    assert (deleted.status, deleted.body["message"]) == (422, VIOLATION + "Cannot delete this protected ref.\n\n")
    assert await ref_sha(sandbox, "heads/production") == main
    # Control: the app, a bypass actor, fast-forwards it.
    token = await installation_token(sandbox, "acme")
    moved = await as_app(sandbox, token, "PATCH", f"/repos/{FULL}/git/refs/heads/production", {"sha": release})
    assert moved.status == 200, moved.body
    assert await ref_sha(sandbox, "heads/production") == release
    listed = await as_app(
        sandbox,
        token,
        "GET",
        f"/repos/{FULL}/rulesets/{(await sandbox.call('alice', 'GET', f'/repos/{FULL}/rulesets')).body[0]['id']}",
    )
    assert listed.body["current_user_can_bypass"] == "always"


async def test_only_the_app_makes_release_tags(sandbox: World) -> None:
    main = await team_repo(sandbox)
    await seed.create_ruleset(
        sandbox,
        FULL,
        "release tags",
        target="tag",
        include=["refs/tags/v*"],
        rules=[{"type": "creation"}, {"type": "update"}, {"type": "deletion"}],
        bypass_app_ids=[seed.app_id_of(sandbox, "release-train")],
    )
    # The attack: a developer tags the RC head as a release, through the refs API and as a release.
    tagged = await sandbox.call("dev", "POST", f"/repos/{FULL}/git/refs", {"ref": "refs/tags/v1.5.0", "sha": main})
    assert (tagged.status, tagged.body["message"]) == (
        422,
        VIOLATION + "Cannot create ref due to creations being restricted.\n\n",
    )
    released = await sandbox.call(
        "dev", "POST", f"/repos/{FULL}/releases", {"tag_name": "v1.5.0", "target_commitish": "rc/1.5"}
    )
    assert released.status == 422
    assert released.body["errors"][0]["field"] == "pre_receive"
    assert await ref_sha(sandbox, "tags/v1.5.0") is None
    assert (await sandbox.call("dev", "GET", f"/repos/{FULL}/releases")).body == []
    # A tag the ruleset does not cover is anyone's to make.
    assert (
        await sandbox.call("dev", "POST", f"/repos/{FULL}/git/refs", {"ref": "refs/tags/nightly", "sha": main})
    ).status == 201
    # Control: the app makes the release and its tag.
    token = await installation_token(sandbox, "acme")
    made = await as_app(
        sandbox, token, "POST", f"/repos/{FULL}/releases", {"tag_name": "v1.5.0", "target_commitish": "rc/1.5"}
    )
    assert made.status == 201, made.body
    assert await ref_sha(sandbox, "tags/v1.5.0") == main


async def test_a_ruleset_names_refs_by_default_branch_and_exclusions(sandbox: World) -> None:
    main = await team_repo(sandbox)
    await seed.create_branch(sandbox, "alice", FULL, "rc/old", main)
    await seed.create_ruleset(
        sandbox,
        FULL,
        "no deletions",
        include=["~DEFAULT_BRANCH", "rc/**/*"],
        exclude=["refs/heads/rc/old"],
        rules=[{"type": "deletion"}],
    )
    assert [r["type"] for r in (await sandbox.call("dev", "GET", f"/repos/{FULL}/rules/branches/main")).body] == [
        "deletion"
    ]
    assert (await sandbox.call("dev", "DELETE", f"/repos/{FULL}/git/refs/heads/rc/1.5")).status == 422
    assert (await sandbox.call("dev", "DELETE", f"/repos/{FULL}/git/refs/heads/rc/old")).status == 204
    assert await ref_sha(sandbox, "heads/rc/1.5") is not None
