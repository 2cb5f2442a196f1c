"""Attack stories: which check runs and statuses count for the gate's required checks, told through the sandbox."""

from __future__ import annotations

from bot.sandbox import seed
from bot.sandbox.harness import World
from release_story import (
    FULL,
    ci_check,
    cut,
    gate_rows,
    gate_run,
    release_repo,
    say,
    status,
    tracking_issues,
)

# regression as the defaults have it (no app), sanity pinned to CI, nightly unpinned.
CONFIG = """\
roles:
  qa: [quinn]
  rte: [rita]
  pdm: [pam]
gate:
  required_checks:
    - {name: sanity, app: ci}
    - regression
    - nightly
"""


async def cut_15(world: World) -> tuple[int, str]:
    await release_repo(world, CONFIG)
    await cut(world)
    [issue] = await tracking_issues(world)
    head = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.5")).body["object"]["sha"]
    return int(issue["number"]), head


async def gate_conclusion(world: World, sha: str) -> str:
    run = await gate_run(world, sha)
    assert run is not None
    return run["conclusion"] if run["status"] == "completed" else run["status"]


async def test_another_apps_regression_run_never_counts(world: World) -> None:
    number, head = await cut_15(world)
    await ci_check(world, head, "sanity")
    await ci_check(world, head, "nightly")
    failed = await say(world, "quinn", number, "/regression fail Checkout crashes")
    [bug] = (await world.call("alice", "GET", f"/repos/{FULL}/issues?labels=bug")).body
    # The bug is fixed elsewhere and QA closes it; QA has not passed regression again.
    assert (
        await world.call("quinn", "PATCH", f"/repos/{FULL}/issues/{bug['number']}", {"state": "closed"})
    ).status == 200
    await world.settle()
    assert failed["id"]

    # Attack: a workflow posts a `regression` check run as github-actions, and a developer a status.
    await ci_check(world, head, "regression", app="github-actions")
    await status(world, "dana", head, "regression")
    rows = await gate_rows(world, head)
    assert rows["check `regression`"] == "fail", rows
    assert await gate_conclusion(world, head) == "failure"

    # Control: QA passes regression; the gate opens, and another app's failing run does not close it.
    await say(world, "quinn", number, "/regression pass")
    assert await gate_conclusion(world, head) == "success"
    await ci_check(world, head, "regression", conclusion="failure", app="github-actions")
    await status(world, "dana", head, "regression", state="failure")
    assert await gate_conclusion(world, head) == "success"


async def test_a_pinned_check_counts_only_its_apps_latest_run(world: World) -> None:
    number, head = await cut_15(world)
    await ci_check(world, head, "nightly")
    await say(world, "quinn", number, "/regression pass")
    # Attack: another app's run and a developer's status named sanity.
    await ci_check(world, head, "sanity", app="github-actions")
    await status(world, "dana", head, "sanity")
    assert (await gate_rows(world, head))["check `sanity`"] == "pending"
    assert await gate_conclusion(world, head) == "in_progress"
    # Control: CI's own run fails, then its re-run succeeds: the latest result of the pinned app counts.
    await ci_check(world, head, "sanity", conclusion="failure")
    assert await gate_conclusion(world, head) == "failure"
    await ci_check(world, head, "sanity")
    assert await gate_conclusion(world, head) == "success"
    # Another app's failing run of the same name changes nothing for a pinned check.
    await ci_check(world, head, "sanity", conclusion="failure", app="github-actions")
    assert await gate_conclusion(world, head) == "success"


async def test_an_unpinned_check_needs_every_source_to_pass(world: World) -> None:
    number, head = await cut_15(world)
    await ci_check(world, head, "sanity")
    await say(world, "quinn", number, "/regression pass")
    await ci_check(world, head, "nightly", conclusion="failure")
    assert await gate_conclusion(world, head) == "failure"

    # Attack: another app and a developer post a later success under the same name.
    await ci_check(world, head, "nightly", app="github-actions")
    await status(world, "dana", head, "nightly")
    rows = await gate_rows(world, head)
    assert rows["check `nightly`"] == "fail", rows
    assert await gate_conclusion(world, head) == "failure"

    # Control: CI re-runs nightly and it passes; every source of the name now passes.
    await ci_check(world, head, "nightly")
    assert await gate_conclusion(world, head) == "success"


async def test_the_gate_says_which_required_checks_any_writer_can_post(world: World) -> None:
    number, head = await cut_15(world)
    await ci_check(world, head, "sanity")
    await ci_check(world, head, "nightly")
    await say(world, "quinn", number, "/regression pass")
    summary = (await gate_run(world, head))["output"]["summary"]
    [nightly] = [line for line in summary.splitlines() if line.startswith("| check `nightly`")]
    [sanity] = [line for line in summary.splitlines() if line.startswith("| check `sanity`")]
    [regression] = [line for line in summary.splitlines() if line.startswith("| check `regression`")]
    assert "any writer can post" in nightly
    assert "any writer can post" not in sanity and "any writer can post" not in regression
    # The config check on the default branch says the same.
    config = CONFIG.replace("    - nightly\n", "    - nightly\n    - smoke\n")
    sha = await seed.commit(world, "alice", FULL, "devel", {".github/release-train.yml": config}, "Require smoke")
    await world.settle()
    runs = (await world.call("alice", "GET", f"/repos/{FULL}/commits/{sha}/check-runs")).body["check_runs"]
    [check] = [r for r in runs if r["name"] == "release-train/config"]
    text = check["output"]["summary"]
    assert check["conclusion"] == "success"
    [warning] = [paragraph for paragraph in text.split("\n\n") if "any writer can post" in paragraph]
    assert "`nightly`" in warning and "`smoke`" in warning
    assert "`sanity`" not in warning and "`regression`" not in warning
