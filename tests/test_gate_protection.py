"""Stories: the gate's protection row reads what guards the RC, the production branch and the release tags, as the app may.

With `gate.require_protection`, a repository that is not set up as the README says has no passing
gate: a half-made setup (a check any app could satisfy, rulesets the app may not bypass) counts for
nothing, and the README's own `gh api` calls make the row pass and the promotion go through.
"""

from __future__ import annotations

from bot.rules.protection import SETUP_URL
from bot.sandbox import seed
from bot.sandbox.harness import World
from release_story import (
    FULL,
    PROMOTE_CONFIG,
    all_green,
    cut,
    gate_rows,
    gate_run,
    gate_state,
    release_repo,
    reply_to,
    say,
    tracking_issues,
)
from security_setup import apply_readme_setup

REQUIRED = PROMOTE_CONFIG.replace("  require_signoff: true\n", "  require_signoff: true\n  require_protection: true\n")
ROW = "branch and tag protection"


async def protection_line(world: World, sha: str) -> str:
    run = await gate_run(world, sha)
    assert run is not None
    [line] = [line for line in run["output"]["summary"].splitlines() if line.startswith(f"| {ROW} |")]
    return line


async def green_rc(world: World, config: str) -> tuple[int, str]:
    """rc/1.5 cut with a production branch, every other requirement met; (tracking issue, head)."""
    await release_repo(world, config)
    await seed.create_branch(world, "alice", FULL, "production", "rc/1.4")
    await cut(world)
    [issue] = await tracking_issues(world)
    number = int(issue["number"])
    head = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.5")).body["object"]["sha"]
    await all_green(world, number, head)
    return number, head


async def delete_rulesets(world: World) -> None:
    for ruleset in (await world.call("alice", "GET", f"/repos/{FULL}/rulesets")).body:
        assert (await world.call("alice", "DELETE", f"/repos/{FULL}/rulesets/{ruleset['id']}")).status == 204


async def test_without_the_readmes_protection_the_gate_does_not_pass(world: World) -> None:
    number, head = await green_rc(world, REQUIRED)
    rows = await gate_rows(world, head)
    assert rows[ROW] == "fail" and await gate_state(world, head) == "failure"
    line = await protection_line(world, head)
    assert "changes reach `rc/1.5` without a pull request" in line
    assert "`release-train/merge-rules` is not required from this app" in line
    assert "no ruleset restricts who updates `production`" in line and "no tag ruleset covers `v1.5.0`" in line
    # The dashboard says the same, with the way to the setup.
    [issue] = await tracking_issues(world)
    assert SETUP_URL in issue["body"] and "no tag ruleset covers `v1.5.0`" in issue["body"]
    refused = await say(world, "rita", number, "/promote")
    assert "branch and tag protection" in await reply_to(world, number, refused)
    tags = (await world.call("alice", "GET", f"/repos/{FULL}/git/matching-refs/tags/v1.5")).body
    assert tags == []

    # A half-made setup: merge-rules required from anyone, production and tags guarded against the app too.
    await seed.create_ruleset(
        world,
        FULL,
        "rc, any source",
        include=["refs/heads/rc/*"],
        rules=[seed.pull_request_rule(), seed.required_checks_rule("release-train/merge-rules")],
    )
    await seed.create_ruleset(
        world, FULL, "production, nobody", include=["refs/heads/production"], rules=[{"type": "update"}]
    )
    await seed.create_ruleset(
        world,
        FULL,
        "tags, nobody",
        target="tag",
        include=["refs/tags/v*"],
        rules=[{"type": "creation"}, {"type": "update"}, {"type": "deletion"}],
    )
    await say(world, "dana", number, "/refresh")
    line = await protection_line(world, head)
    assert "❌" in line and "without a pull request" not in line
    assert "`release-train/merge-rules` is not required from this app" in line
    assert "this app may not bypass it to promote" in line and "this app may not bypass it to tag" in line
    assert await gate_state(world, head) == "failure"

    # Control: the README's own calls; the row passes, the gate opens and the RTE promotes.
    await delete_rulesets(world)
    await apply_readme_setup(world, FULL)
    await say(world, "dana", number, "/refresh")
    assert (await gate_rows(world, head))[ROW] == "pass"
    assert await gate_state(world, head) == "success"
    promoted = await say(world, "rita", number, "/promote")
    assert "v1.5.0" in await reply_to(world, number, promoted)
    tag = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/tags/v1.5.0")).body
    assert tag["object"]["sha"]
    production = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/production")).body
    assert production["object"]["sha"] == head


async def test_classic_protection_counts_for_the_rc_only_when_merge_rules_is_pinned_to_the_app(world: World) -> None:
    number, head = await green_rc(world, REQUIRED)
    await seed.protect_branch(world, FULL, "rc/1.5", checks=["release-train/merge-rules"])
    await say(world, "dana", number, "/refresh")
    line = await protection_line(world, head)
    assert "`release-train/merge-rules` is not required from this app" in line
    app_id = seed.app_id_of(world, "release-train")
    await seed.protect_branch(world, FULL, "rc/1.5", checks=[("release-train/merge-rules", app_id)])
    await say(world, "dana", number, "/refresh")
    line = await protection_line(world, head)
    assert "rc/1.5" not in line.split("|")[2]  # the RC's requirement is met; production and tags are not
    assert "no tag ruleset covers" in line


async def test_unless_required_the_row_only_says_what_is_missing(world: World) -> None:
    _, head = await green_rc(world, PROMOTE_CONFIG)
    assert (await gate_rows(world, head))[ROW] == "info"
    assert "anyone with write can get around this gate" in await protection_line(world, head)
    assert await gate_state(world, head) == "success"
