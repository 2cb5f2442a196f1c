"""Chain of custody for picks, as attack stories through the sandbox: each performs the attack as its actor would
and asserts the harm is absent, next to a control where the rightful actor succeeds."""

from __future__ import annotations

from typing import Any

from bot.rules import cherry_pick as rules
from bot.sandbox import seed
from bot.sandbox.harness import World
from pick_story import FULL, TEXT, check_states, comments, fix_pr, pick_prs, pull, release_repo
from release_story import all_green, cut, gate_state, tracking_issues
from release_story import release_repo as cut_repo

BOT = "release-train[bot]"
GATE_CONFIG = """\
roles:
  qa: [quinn]
  rte: [rita]
  pdm: [pam]
gate:
  required_checks:
    - {name: sanity, app: ci}
    - nightly
    - {name: regression, app: release-train}
  require_signoff: true
"""
FIXED_LOGIN = TEXT.replace("line 3\n", "line three\n")


async def head_of(world: World, branch: str) -> str:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/branches/{branch}")
    assert answer.status == 200, answer.body
    return str(answer.body["commit"]["sha"])


async def merge_rules_run(world: World, sha: str) -> dict[str, Any]:
    answer = await world.call(
        "alice", "GET", f"/repos/{FULL}/commits/{sha}/check-runs?check_name=release-train/merge-rules"
    )
    runs = [r for r in answer.body["check_runs"] if r["app"]["slug"] == "release-train"]
    assert runs, f"no merge-rules check on {sha}"
    return max(runs, key=lambda r: r["id"])


def verdict(run: dict[str, Any]) -> str:
    return str(run["conclusion"] if run["status"] == "completed" else run["status"])


async def bot_comments(world: World, number: int) -> list[str]:
    return [c["body"] for c in await comments(world, number) if c["user"]["login"] == BOT]


async def files_of_pick(world: World, pick_number: int) -> set[str]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/pulls/{pick_number}/files?per_page=100")
    assert answer.status == 200, answer.body
    return {f["filename"] for f in answer.body}


async def the_pick(world: World, number: int, rc_branch: str = "rc/1.5") -> dict[str, Any]:
    picks = [p for p in await pick_prs(world, rc_branch) if p["head"]["ref"].startswith(f"cherry-pick/{number}-")]
    assert len(picks) == 1, [(p["number"], p["user"]["login"]) for p in picks]
    return picks[0]


async def verified_fix(world: World, branch: str = "fix/login", files: dict[str, str] | None = None) -> int:
    """dana's fix PR into devel with its target label, verified by QA (quinn), not merged yet."""
    number = await fix_pr(world, branch, files or {"a.txt": FIXED_LOGIN})
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    return number


async def picked_fix_on_a_cut_rc(world: World) -> tuple[int, int, dict[str, Any]]:
    """rc/1.5 cut by rita (with its tracking issue and gate); dana's fix merged, verified and picked.

    (tracking issue, source PR, pick PR).
    """
    await cut_repo(world, GATE_CONFIG)
    await cut(world)
    [issue] = await tracking_issues(world)
    await seed.create_branch(world, "dana", FULL, "fix/login", "devel")
    await seed.commit(world, "dana", FULL, "fix/login", {"login.py": "fixed = True\n"}, "Fix login")
    fix = await seed.open_pr(world, "dana", FULL, head="fix/login", base="devel", title="Fix login", body="#1")
    await seed.add_labels(world, "dana", FULL, fix["number"], "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, fix["number"], "qa/verified")
    await seed.merge_pr(world, "alice", FULL, fix["number"], "squash")
    await world.settle()
    return int(issue["number"]), int(fix["number"]), await the_pick(world, fix["number"])


# -- 3. the pick PR holds only what the bot picked -----------------------------------------------------


async def test_a_developers_push_to_the_pick_branch_fails_merge_rules_and_holds_the_gate(world: World) -> None:
    tracking, number, pick = await picked_fix_on_a_cut_rc(world)
    branch = pick["head"]["ref"]
    assert verdict(await merge_rules_run(world, pick["head"]["sha"])) == "success"  # the bot's own pick passes
    # dana (write access, no role) slips a commit of her own into the bot's pick PR.
    pushed = await seed.commit(world, "dana", FULL, branch, {"backdoor.py": "open = True\n"}, "Tidy the pick")
    await world.settle()
    run = await merge_rules_run(world, pushed)
    assert verdict(run) == "failure"
    assert pushed[:7] in run["output"]["summary"] and "dana" in run["output"]["summary"]
    # Merged anyway (this story's RC has no branch protection): the RC holds an unverified commit, so the gate holds.
    await seed.merge_pr(world, "rita", FULL, pick["number"], "merge")
    await world.settle()
    head = await head_of(world, "rc/1.5")
    await all_green(world, tracking, head)
    assert await gate_state(world, head) != "success"
    assert (await check_states(world, number))["1.5"].state not in (rules.OPENED, rules.MERGED)


async def test_qa_verifying_the_pick_pr_at_its_new_head_restores_it(world: World) -> None:
    tracking, number, pick = await picked_fix_on_a_cut_rc(world)
    pushed = await seed.commit(
        world, "dana", FULL, pick["head"]["ref"], {"login.py": "fixed = True  # reviewed\n"}, "Reword the fix"
    )
    await world.settle()
    # QA looks at the pick PR as it now is and verifies it: the rightful way past the push.
    await seed.add_labels(world, "quinn", FULL, pick["number"], "qa/verified")
    await world.settle()
    assert verdict(await merge_rules_run(world, pushed)) == "success"
    await seed.merge_pr(world, "rita", FULL, pick["number"], "merge")
    await world.settle()
    head = await head_of(world, "rc/1.5")
    await all_green(world, tracking, head)
    assert await gate_state(world, head) == "success"
    assert (await check_states(world, number))["1.5"].state == rules.MERGED


# -- 4. QA verifies commits, not a PR number ---------------------------------------------------------------


async def test_a_push_after_qas_verification_drops_it_and_nothing_unverified_is_picked(world: World) -> None:
    await release_repo(world)
    number = await verified_fix(world)
    verified_head = (await pull(world, number))["head"]["sha"]
    # dana pushes after QA looked: the label would otherwise vouch for a commit QA never saw.
    pushed = await seed.commit(world, "dana", FULL, "fix/login", {"b.txt": "unreviewed\n"}, "One more thing")
    await world.settle()
    labels = {label["name"] for label in (await pull(world, number))["labels"]}
    assert "qa/verified" not in labels
    [note] = [c for c in await bot_comments(world, number) if "qa/verified" in c and pushed[:7] in c]
    assert verified_head[:7] in note
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    assert await pick_prs(world) == []
    assert (await check_states(world, number))["1.5"].state == rules.WAIT_QA


async def test_qa_verifying_again_after_the_push_lets_the_pick_follow(world: World) -> None:
    await release_repo(world)
    number = await verified_fix(world)
    await seed.commit(world, "dana", FULL, "fix/login", {"b.txt": "reviewed\n"}, "One more thing")
    await world.settle()
    if "qa/verified" in {label["name"] for label in (await pull(world, number))["labels"]}:
        await seed.remove_label(world, "quinn", FULL, number, "qa/verified")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    pick = await the_pick(world, number)
    assert await files_of_pick(world, pick["number"]) == {"a.txt", "b.txt"}
    assert (await check_states(world, number))["1.5"].state == rules.OPENED


async def test_a_pr_merged_with_commits_beyond_the_verified_head_waits_for_qa(world: World) -> None:
    await release_repo(world)
    number = await verified_fix(world)
    # The bot is unreachable while dana pushes and the PR is merged: it never sees the push.
    assert (await world.call(None, "POST", "/_sandbox/pause", {"down": True})).status == 200
    await seed.commit(world, "dana", FULL, "fix/login", {"b.txt": "unreviewed\n"}, "One more thing")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    assert (await world.call(None, "POST", "/_sandbox/pause", {"down": False})).status == 200
    await seed.comment(world, "dana", FULL, number, "/cherry-pick 1.5")
    await world.settle()
    assert await pick_prs(world) == []
    assert (await check_states(world, number))["1.5"].state == rules.WAIT_QA
    # QA verifies the PR as merged: now its commits are the ones QA saw, and the pick follows.
    await seed.remove_label(world, "quinn", FULL, number, "qa/verified")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    assert await files_of_pick(world, (await the_pick(world, number))["number"]) == {"a.txt", "b.txt"}


async def update_branch(world: World, login: str, number: int, expected_head: str) -> None:
    answer = await world.call(
        login, "PUT", f"/repos/{FULL}/pulls/{number}/update-branch", {"expected_head_sha": expected_head}
    )
    assert answer.status == 202, answer.body
    await world.settle()


async def test_update_branch_from_the_base_keeps_qas_verification(world: World) -> None:
    await release_repo(world)
    number = await verified_fix(world)
    verified_head = (await pull(world, number))["head"]["sha"]
    await seed.commit(world, "alice", FULL, "devel", {"c.txt": "devel moves on\n"}, "Devel moves on")
    await update_branch(world, "dana", number, verified_head)
    updated = await pull(world, number)
    assert updated["head"]["sha"] != verified_head
    assert "qa/verified" in {label["name"] for label in updated["labels"]}
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    assert await files_of_pick(world, (await the_pick(world, number))["number"]) == {"a.txt"}


async def merge_commit_by(
    world: World, login: str, branch: str, parents: list[str], extra: dict[str, str] | None = None
) -> str:
    """login pushes a merge commit of parents onto branch, made by hand: git's merge of the trees, plus extra files."""
    first = (await world.call(login, "GET", f"/repos/{FULL}/git/commits/{parents[0]}")).body
    items = []
    for parent in parents[1:]:
        compare = (await world.call(login, "GET", f"/repos/{FULL}/compare/{parents[0]}...{parent}")).body
        items += [{"path": f["filename"], "mode": "100644", "type": "blob", "sha": f["sha"]} for f in compare["files"]]
    for path, text in (extra or {}).items():
        blob = (await world.call(login, "POST", f"/repos/{FULL}/git/blobs", {"content": text})).body
        items.append({"path": path, "mode": "100644", "type": "blob", "sha": blob["sha"]})
    tree = await world.call(
        login, "POST", f"/repos/{FULL}/git/trees", {"base_tree": first["tree"]["sha"], "tree": items}
    )
    assert tree.status == 201, tree.body
    made = await world.call(
        login,
        "POST",
        f"/repos/{FULL}/git/commits",
        {"message": "Merge branch 'devel' into fix/login", "tree": tree.body["sha"], "parents": parents},
    )
    assert made.status == 201, made.body
    moved = await world.call(login, "PATCH", f"/repos/{FULL}/git/refs/heads/{branch}", {"sha": made.body["sha"]})
    assert moved.status == 200, moved.body
    await world.settle()
    return str(made.body["sha"])


async def test_a_hand_made_update_merge_that_carries_a_change_of_its_own_drops_the_verification(world: World) -> None:
    await release_repo(world)
    number = await verified_fix(world)
    verified_head = (await pull(world, number))["head"]["sha"]
    await seed.commit(world, "alice", FULL, "devel", {"c.txt": "devel moves on\n"}, "Devel moves on")
    # Looks like "Update branch" (parents: the verified head, then devel's head), but slips in a file of its own.
    await merge_commit_by(
        world, "dana", "fix/login", [verified_head, await head_of(world, "devel")], {"sneaky.py": "x = 1\n"}
    )
    assert "qa/verified" not in {label["name"] for label in (await pull(world, number))["labels"]}
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    assert await pick_prs(world) == []


async def test_a_merge_of_a_branch_that_is_not_on_the_base_drops_the_verification(world: World) -> None:
    await release_repo(world)
    number = await verified_fix(world)
    verified_head = (await pull(world, number))["head"]["sha"]
    await seed.create_branch(world, "dana", FULL, "dana/side", "devel")
    side = await seed.commit(world, "dana", FULL, "dana/side", {"side.py": "side = 1\n"}, "Side work")
    await merge_commit_by(world, "dana", "fix/login", [verified_head, side])
    assert "qa/verified" not in {label["name"] for label in (await pull(world, number))["labels"]}


# -- 8. the bot links only its own PRs ------------------------------------------------------------------


async def test_a_pr_a_person_opened_from_the_pick_branch_is_never_the_pick(world: World) -> None:
    await cut_repo(world, GATE_CONFIG)
    await cut(world)
    [issue] = await tracking_issues(world)
    number = await fix_pr(world, "fix/login", {"login.py": "fixed = True\n"})
    branch = f"cherry-pick/{number}-to-rc-1.5"
    # dana opens her own PR into the RC from the branch name the bot would use, with her own content.
    await seed.create_branch(world, "dana", FULL, branch, "rc/1.5")
    await seed.commit(world, "dana", FULL, branch, {"login.py": "fixed = 'my way'\n"}, "My own pick")
    hers = await seed.open_pr(world, "dana", FULL, head=branch, base="rc/1.5", title="[rc/1.5] Fix login")
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    assert not [c for c in await bot_comments(world, number) if f"#{hers['number']}" in c and "Cherry-pick into" in c]
    assert (await check_states(world, number))["1.5"].pr != hers["number"]
    # Her PR merged: the gate does not take it for the verified fix's pick.
    await seed.merge_pr(world, "alice", FULL, hers["number"], "merge")
    await world.settle()
    head = await head_of(world, "rc/1.5")
    await all_green(world, int(issue["number"]), head)
    assert await gate_state(world, head) != "success"


async def test_once_the_persons_branch_is_gone_the_bot_opens_and_links_its_own_pick(world: World) -> None:
    await release_repo(world)
    number = await fix_pr(world, "fix/login", {"a.txt": FIXED_LOGIN})
    branch = f"cherry-pick/{number}-to-rc-1.5"
    await seed.create_branch(world, "dana", FULL, branch, "rc/1.5")
    await seed.commit(world, "dana", FULL, branch, {"a.txt": "my way\n"}, "My own pick")
    hers = await seed.open_pr(world, "dana", FULL, head=branch, base="rc/1.5", title="[rc/1.5] Fix login")
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    assert (
        await world.call("dana", "PATCH", f"/repos/{FULL}/pulls/{hers['number']}", {"state": "closed"})
    ).status == 200
    assert (await world.call("dana", "DELETE", f"/repos/{FULL}/git/refs/heads/{branch}")).status == 204
    await seed.comment(world, "dana", FULL, number, "/cherry-pick 1.5")
    await world.settle()
    pick = next(p for p in await pick_prs(world) if p["state"] == "open")
    assert pick["user"]["login"] == BOT and pick["number"] != hers["number"]
    assert [c for c in await bot_comments(world, number) if f"Cherry-pick into `rc/1.5`: #{pick['number']}." in c]
    assert (await check_states(world, number))["1.5"] == rules.PickState(
        "1.5", rules.OPENED, "rc/1.5", pick["number"], head=pick["head"]["sha"]
    )


# -- 9. a target label needs what /cherry-pick needs ------------------------------------------------------


async def test_a_target_label_from_a_triage_user_is_removed_with_a_note_that_pings_them(world: World) -> None:
    await release_repo(world)
    await seed.grant(world, FULL, "tia", "triage")
    number = await fix_pr(world, "fix/login", {"a.txt": FIXED_LOGIN})
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    # tia may triage (labels) but not run /cherry-pick: her label must not ask for a pick.
    await seed.add_labels(world, "tia", FULL, number, "cherry-pick/1.5")
    await world.settle()
    assert "cherry-pick/1.5" not in {label["name"] for label in (await pull(world, number))["labels"]}
    [note] = [c for c in await bot_comments(world, number) if "cherry-pick/1.5" in c and "@tia" in c]
    assert "@\u200dtia" not in note  # it pings her
    assert await pick_prs(world) == []


async def test_a_target_label_from_a_developer_with_write_access_picks(world: World) -> None:
    await release_repo(world)
    await seed.grant(world, FULL, "tia", "triage")
    number = await fix_pr(world, "fix/login", {"a.txt": FIXED_LOGIN})
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await world.settle()
    assert "cherry-pick/1.5" in {label["name"] for label in (await pull(world, number))["labels"]}
    assert await files_of_pick(world, (await the_pick(world, number))["number"]) == {"a.txt"}


# -- 13. a pick that touches .github/workflows/ ----------------------------------------------------------------

WORKFLOW = ".github/workflows/ci.yml"
CI_FIX = {WORKFLOW: "on: push\njobs: {}\n", "login.py": "fixed = True\n"}


async def workflow_fix_on_a_cut_rc(world: World) -> tuple[int, int]:
    """rc/1.5 cut by rita; dana's fix that also changes a workflow, merged and verified. (tracking issue, fix PR)."""
    await cut_repo(world, GATE_CONFIG)
    await cut(world)
    [issue] = await tracking_issues(world)
    await seed.create_branch(world, "dana", FULL, "fix/ci", "devel")
    await seed.commit(world, "dana", FULL, "fix/ci", CI_FIX, "Fix login and its CI job")
    fix = await seed.open_pr(world, "dana", FULL, head="fix/ci", base="devel", title="Fix login", body="#1")
    await seed.add_labels(world, "dana", FULL, fix["number"], "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, fix["number"], "qa/verified")
    await seed.merge_pr(world, "alice", FULL, fix["number"], "squash")
    await world.settle()
    return int(issue["number"]), int(fix["number"])


async def test_a_pick_that_changes_a_workflow_is_refused_as_github_does_and_explained(world: World) -> None:
    tracking, number = await workflow_fix_on_a_cut_rc(world)
    # GitHub answers the app's merge step 404, as it does any change to workflows from an app without `workflows`.
    refused = [r for r in world.app_requests() if r["path"] == f"/repos/{FULL}/merges" and r["status"] == 404]
    assert refused
    assert await pick_prs(world) == []
    branches = (await world.call("alice", "GET", f"/repos/{FULL}/branches?per_page=100")).body
    assert not [b for b in branches if b["name"].startswith("cherry-pick/")]
    [note] = [c for c in await bot_comments(world, number) if "`workflows` permission" in c]
    assert f"`{WORKFLOW}`" in note and "`rc/1.5`" in note and "git cherry-pick -x" in note
    assert (await check_states(world, number))["1.5"].state == rules.NO_WORKFLOWS
    head = await head_of(world, "rc/1.5")
    await all_green(world, tracking, head)
    assert await gate_state(world, head) != "success"


async def test_a_workflow_change_picked_by_hand_and_verified_by_qa_completes_the_pick(world: World) -> None:
    tracking, number = await workflow_fix_on_a_cut_rc(world)
    source = (await pull(world, number))["merge_commit_sha"]
    branch = f"cherry-pick/{number}-to-rc-1.5"
    # dana follows the bot's commands (people may change workflows); QA verifies her PR.
    await seed.create_branch(world, "dana", FULL, branch, "rc/1.5")
    await seed.commit(
        world, "dana", FULL, branch, CI_FIX, f"Fix login and its CI job\n\n(cherry picked from commit {source})"
    )
    by_hand = await seed.open_pr(world, "dana", FULL, head=branch, base="rc/1.5", title="[rc/1.5] Fix login", body="#1")
    await seed.add_labels(world, "quinn", FULL, by_hand["number"], "qa/verified")
    await world.settle()
    await seed.merge_pr(world, "rita", FULL, by_hand["number"], "merge")
    await world.settle()
    head = await head_of(world, "rc/1.5")
    await all_green(world, tracking, head)
    assert await gate_state(world, head) == "success"
