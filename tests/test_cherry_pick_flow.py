"""Stories, end to end through the sandbox: a fix merged and verified by QA is picked into its RC exactly once."""

from __future__ import annotations

import subprocess
import tempfile
from typing import Any

from bot.rules import cherry_pick as rules
from bot.sandbox import seed
from bot.sandbox.common import GIT
from bot.sandbox.harness import World
from pick_story import (
    FULL,
    PICK_REPO_CONFIG,
    TEXT,
    app_client,
    check_states,
    comments,
    fix_pr,
    pick_prs,
    pull,
    release_repo,
    send_again,
)


def labels_of(issue: dict[str, Any]) -> set[str]:
    return {label["name"] for label in issue["labels"]}


def git_expected_tree(world: World, shas: list[str], mainline: bool, rc_branch: str = "rc/1.5") -> str | None:
    """The tree `git cherry-pick -x` makes of these commits on the RC, in a clone of the sandbox's repository."""
    bare = world.app[GIT].path(FULL)
    with tempfile.TemporaryDirectory() as tmp:

        def git(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
            return subprocess.run(["git", *args], cwd=tmp, capture_output=True, text=True, check=check)

        git("init", "-q")
        git("config", "user.name", "t")
        git("config", "user.email", "t@x")
        git("fetch", "-q", str(bare), "+refs/heads/*:refs/remotes/origin/*")
        git("switch", "-q", "-c", "expected", f"origin/{rc_branch}")
        if git("cherry-pick", "-x", *(["-m", "1"] if mainline else []), *shas, check=False).returncode != 0:
            return None
        return git("rev-parse", "HEAD^{tree}").stdout.strip()


async def tree_of(world: World, sha: str) -> str:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/commits/{sha}")
    assert answer.status == 200, answer.body
    return answer.body["commit"]["tree"]["sha"]


async def assert_one_pick(
    world: World, number: int, *, shas: list[str], mainline: bool = False, verifier: str = "quinn"
) -> dict[str, Any]:
    picks = [p for p in await pick_prs(world) if p["head"]["ref"].startswith(f"cherry-pick/{number}-")]
    assert len(picks) == 1, [p["title"] for p in picks]
    pick = picks[0]
    original = await pull(world, number)
    assert pick["head"]["ref"] == f"cherry-pick/{number}-to-rc-1.5"
    assert pick["title"] == f"[rc/1.5] {original['title']} (#{number})"
    assert pick["state"] == "open"
    assert "cherry-pick" in labels_of(pick)
    assert [a["login"] for a in pick["assignees"]] == [original["user"]["login"]]
    assert f"#{number}" in pick["body"] and verifier in pick["body"]
    assert f"@{verifier}" not in pick["body"], "naming the verifier must not ping them"
    for sha in shas:
        assert sha in pick["body"]
    assert await tree_of(world, pick["head"]["sha"]) == git_expected_tree(world, shas, mainline)
    link = f"Cherry-pick into `rc/1.5`: #{pick['number']}."
    links = [
        c for c in await comments(world, number) if link in c["body"] and c["user"]["login"] == "release-train[bot]"
    ]
    assert len(links) == 1
    states = await check_states(world, number)
    assert states["1.5"].state == rules.OPENED and states["1.5"].pr == pick["number"]
    return pick


async def test_verified_fix_is_picked_into_its_rc(world: World) -> None:
    await release_repo(world)
    number = await fix_pr(world, "fix/login", {"a.txt": TEXT.replace("line 3\n", "line three\n")})
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await world.settle()
    assert (await check_states(world, number))["1.5"].state == rules.WAIT_MERGE
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    assert (await check_states(world, number))["1.5"].state == rules.WAIT_QA
    assert await pick_prs(world) == []
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    merged = await pull(world, number)
    pick = await assert_one_pick(world, number, shas=[merged["merge_commit_sha"]])
    # People merge the pick; the original PR's check run records it for the RC gate.
    await seed.merge_pr(world, "rita", FULL, pick["number"], "merge")
    await world.settle()
    assert (await check_states(world, number))["1.5"] == rules.PickState(
        "1.5", rules.MERGED, "rc/1.5", pick["number"], head=pick["head"]["sha"]
    )


ORDERS = {
    "verify-target-merge": ("verify", "target", "merge"),
    "target-verify-merge": ("target", "verify", "merge"),
    "merge-target-verify": ("merge", "target", "verify"),
    "merge-verify-target": ("merge", "verify", "target"),
    "command-merge-verify": ("command", "merge", "verify"),
    "merge-verify-command": ("merge", "verify", "command"),
}


async def test_order_of_merge_verify_and_target_does_not_matter(world: World) -> None:
    await release_repo(world)
    numbers = {}
    for order in sorted(ORDERS):
        numbers[order] = await fix_pr(world, f"fix/{order}", {f"{order}.txt": f"{order}\n"}, title=f"Fix {order}")
    # Every PR takes its first step, then its second, then its third.
    for step_index in range(3):
        for number in numbers.values():
            step = ORDERS[order][step_index]
            if step == "verify":
                await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
            elif step == "target":
                await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
            elif step == "command":
                await seed.comment(world, "dana", FULL, number, "/cherry-pick 1.5")
            else:
                await seed.merge_pr(world, "alice", FULL, number, "squash")
        await world.settle()
        if step_index < 2:
            assert await pick_prs(world) == []
    for number in numbers.values():
        merged = await pull(world, number)
        await assert_one_pick(world, number, shas=[merged["merge_commit_sha"]])


async def test_repeats_never_open_a_second_pick(world: World) -> None:
    await release_repo(world)
    number = await fix_pr(world, "fix/repeat", {"a.txt": TEXT.replace("line 9\n", "line nine\n")})
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    merged = await pull(world, number)
    await assert_one_pick(world, number, shas=[merged["merge_commit_sha"]])
    # The target label removed and applied again, the verified label too, a repeated command.
    await seed.remove_label(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.remove_label(world, "quinn", FULL, number, "qa/verified")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.comment(world, "dana", FULL, number, "/cherry-pick 1.5")
    await seed.comment(world, "erin", FULL, number, "/cherry-pick 1.5")
    await world.settle()
    await assert_one_pick(world, number, shas=[merged["merge_commit_sha"]])
    # The same deliveries twice: the latest ones, redelivered through GitHub's API as the app.
    app_gh = app_client(world)
    deliveries = await app_gh.getitem("/app/hook/deliveries?per_page=12")
    assert len(deliveries) == 12
    for delivery in deliveries:
        await app_gh.post("/app/hook/deliveries/{delivery_id}/attempts", {"delivery_id": delivery["id"]}, data=b"")
    await world.settle()
    await assert_one_pick(world, number, shas=[merged["merge_commit_sha"]])
    # The same events again under new delivery ids, past the queue's de-duplication: the handler itself holds.
    for delivery in deliveries:
        full = await app_gh.getitem("/app/hook/deliveries/{delivery_id}", {"delivery_id": delivery["id"]})
        await send_again(world, full["event"], full["request"]["payload"])
    await world.settle()
    await assert_one_pick(world, number, shas=[merged["merge_commit_sha"]])


async def test_verified_label_from_someone_outside_qa_does_not_count(world: World) -> None:
    await release_repo(world)
    number = await fix_pr(world, "fix/not-qa", {"b.txt": "b2\n"})
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await seed.add_labels(world, "dana", FULL, number, "qa/verified")
    await world.settle()
    assert await pick_prs(world) == []
    assert (await check_states(world, number))["1.5"].state == rules.WAIT_QA
    # Asking for a target needs write access.
    await seed.grant(world, FULL, "mallory", "read")
    await seed.comment(world, "mallory", FULL, number, "/cherry-pick 1.4")
    await world.settle()
    assert "cherry-pick/1.4" not in labels_of(await pull(world, number))
    assert any("reserved for" in c["body"] and "/cherry-pick" in c["body"] for c in await comments(world, number))


async def test_rebase_merge_picks_every_rebased_commit_in_order(world: World) -> None:
    await release_repo(world)
    await seed.create_branch(world, "dana", FULL, "fix/three", "devel")
    words = ("one", "two", "three")
    for i in range(3):
        text = TEXT
        for j in range(i + 1):
            text = text.replace(f"line {j + 1}\n", f"line {words[j]}\n")
        await seed.commit(world, "dana", FULL, "fix/three", {"a.txt": text}, f"Step {i + 1}: line {words[i]}")
    pr = await seed.open_pr(world, "dana", FULL, head="fix/three", base="devel", title="Three steps")
    number = int(pr["number"])
    # Devel moves on, so the rebase writes new commits.
    await seed.commit(world, "alice", FULL, "devel", {"c.txt": "c\n"}, "Unrelated change")
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "rebase")
    await world.settle()
    merged = await pull(world, number)
    listing = await world.call("alice", "GET", f"/repos/{FULL}/commits?sha={merged['merge_commit_sha']}&per_page=3")
    shas = [c["sha"] for c in reversed(listing.body)]
    assert [c["commit"]["message"].split(":")[0] for c in reversed(listing.body)] == ["Step 1", "Step 2", "Step 3"]
    pick = await assert_one_pick(world, number, shas=shas)
    commits = await world.call("alice", "GET", f"/repos/{FULL}/pulls/{pick['number']}/commits")
    assert [c["commit"]["message"] for c in commits.body] == [
        f"{c['commit']['message']}\n\n(cherry picked from commit {c['sha']})" for c in reversed(listing.body)
    ]


async def test_squash_of_several_commits_picks_the_one_squash_commit(world: World) -> None:
    await release_repo(world)
    number = await fix_pr(world, "fix/squash", {"a.txt": TEXT.replace("line 6\n", "line six\n")})
    await seed.commit(
        world, "dana", FULL, "fix/squash", {"a.txt": TEXT.replace("line 6\n", "line six!\n")}, "Second thought"
    )
    await seed.commit(world, "alice", FULL, "devel", {"c.txt": "c\n"}, "Devel moves on")
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    merged = await pull(world, number)
    assert merged["commits"] == 2
    pick = await assert_one_pick(world, number, shas=[merged["merge_commit_sha"]])
    commits = await world.call("alice", "GET", f"/repos/{FULL}/pulls/{pick['number']}/commits")
    assert len(commits.body) == 1


async def test_merge_commit_is_picked_against_its_first_parent(world: World) -> None:
    await release_repo(world)
    await seed.put_config(world, "alice", FULL, PICK_REPO_CONFIG + "cherry_pick:\n  auto_merge: true\n")
    number = await fix_pr(world, "fix/merge", {"a.txt": TEXT.replace("line 15\n", "line fifteen\n")})
    await seed.commit(world, "dana", FULL, "fix/merge", {"d.txt": "d\n"}, "Second commit")
    await seed.commit(world, "alice", FULL, "devel", {"c.txt": "c\n"}, "Devel moves on")
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "merge")
    await world.settle()
    merged = await pull(world, number)
    pick = await assert_one_pick(world, number, shas=[merged["merge_commit_sha"]], mainline=True)
    # The PR says auto-merge was asked for (the outcome is tested in tests/test_cherry_pick_auto_merge.py).
    assert "auto_merge` is on" in pick["body"] and "auto-merge (squash)" in pick["body"]


async def test_conflict_tells_people_how_to_finish_and_retry_succeeds(world: World) -> None:
    await release_repo(world)
    # A prerequisite lands on devel only; the fix builds on it.
    await seed.commit(
        world, "alice", FULL, "devel", {"a.txt": TEXT.replace("line 4\n", "line 4 (prerequisite)\n")}, "Prerequisite"
    )
    prereq = await pull_head(world, "devel")
    number = await fix_pr(world, "fix/conflict", {"a.txt": TEXT.replace("line 4\n", "line 4 (prerequisite) fixed\n")})
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    assert await pick_prs(world) == []
    original = await pull(world, number)
    assert "cherry-pick-conflict" in labels_of(original)
    sha = original["merge_commit_sha"]
    bot_comments = [c for c in await comments(world, number) if "conflicts" in c["body"]]
    assert len(bot_comments) == 1
    body = bot_comments[0]["body"]
    for command in (
        "git fetch origin",
        f"git switch -c cherry-pick/{number}-to-rc-1.5 origin/rc/1.5",
        f"git cherry-pick -x {sha}",
        f"git push origin cherry-pick/{number}-to-rc-1.5",
    ):
        assert command in body
    assert "`a.txt`" in body
    assert git_expected_tree(world, [sha], False) is None, "git must agree that this conflicts"
    states = await check_states(world, number)
    assert states["1.5"].state == rules.CONFLICT
    # No temporary refs left behind.
    branches = await world.call("alice", "GET", f"/repos/{FULL}/branches?per_page=100")
    assert sorted(b["name"] for b in branches.body) == ["devel", "fix/conflict", "rc/1.5"]
    # The prerequisite is picked into the RC by hand; then the command tries again.
    await seed.commit(
        world,
        "alice",
        FULL,
        "rc/1.5",
        {"a.txt": TEXT.replace("line 4\n", "line 4 (prerequisite)\n")},
        f"Prerequisite (cherry picked from commit {prereq})",
    )
    await seed.comment(world, "dana", FULL, number, "/cherry-pick 1.5")
    await world.settle()
    await assert_one_pick(world, number, shas=[sha])
    assert "cherry-pick-conflict" not in labels_of(await pull(world, number))


async def test_withdrawn_conflicting_target_clears_the_conflict(world: World) -> None:
    await release_repo(world)
    await seed.commit(world, "alice", FULL, "rc/1.5", {"a.txt": TEXT.replace("line 4\n", "line 4 (rc)\n")}, "RC hotfix")
    number = await fix_pr(world, "fix/withdrawn", {"a.txt": TEXT.replace("line 4\n", "line four\n")})
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    assert "cherry-pick-conflict" in labels_of(await pull(world, number))
    await seed.remove_label(world, "dana", FULL, number, "cherry-pick/1.5")
    await world.settle()
    assert "cherry-pick-conflict" not in labels_of(await pull(world, number))
    assert await check_states(world, number) == {}


async def pull_head(world: World, branch: str) -> str:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/branches/{branch}")
    return answer.body["commit"]["sha"]


async def test_change_already_on_the_rc_opens_no_empty_pr(world: World) -> None:
    await release_repo(world)
    fix = {"a.txt": TEXT.replace("line 7\n", "line seven\n")}
    await seed.commit(world, "alice", FULL, "rc/1.5", fix, "Fix line 7 on the RC directly")
    number = await fix_pr(world, "fix/present", fix)
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    assert await pick_prs(world) == []
    assert (await check_states(world, number))["1.5"].state == rules.PRESENT
    assert any("already on `rc/1.5`" in c["body"] for c in await comments(world, number))
    branches = await world.call("alice", "GET", f"/repos/{FULL}/branches?per_page=100")
    assert not [b for b in branches.body if b["name"].startswith("cherry-pick/")]


async def test_missing_rc_branch_is_said_once(world: World) -> None:
    await release_repo(world)
    number = await fix_pr(world, "fix/missing", {"b.txt": "b3\n"})
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.9")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await seed.comment(world, "dana", FULL, number, "/refresh")
    await world.settle()
    said = [
        c
        for c in await comments(world, number)
        if "asks for a cherry-pick into `rc/1.9`, but that branch does not exist" in c["body"]
    ]
    assert len(said) == 1
    assert (await check_states(world, number))["1.9"].state == rules.MISSING_RC
    # Once the RC branch is created, the waiting pick happens.
    await seed.create_branch(world, "alice", FULL, "rc/1.9", "rc/1.5")
    await world.settle()
    assert len(await pick_prs(world, "rc/1.9")) == 1
    assert (await check_states(world, number))["1.9"].state == rules.OPENED


async def test_closed_pick_stays_closed_until_asked_again(world: World) -> None:
    await release_repo(world)
    number = await fix_pr(world, "fix/closed", {"a.txt": TEXT.replace("line 2\n", "line two\n")})
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    first = (await pick_prs(world))[0]
    closed = await world.call("alice", "PATCH", f"/repos/{FULL}/pulls/{first['number']}", {"state": "closed"})
    assert closed.status == 200, closed.body
    await world.settle()
    assert (await check_states(world, number))["1.5"].state == rules.CLOSED
    await seed.remove_label(world, "quinn", FULL, number, "qa/verified")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    assert [p["state"] for p in await pick_prs(world)] == ["closed"]
    await seed.comment(world, "dana", FULL, number, "/cherry-pick 1.5")
    await world.settle()
    picks = await pick_prs(world)
    assert sorted(p["state"] for p in picks) == ["closed", "open"]
    fresh = next(p for p in picks if p["state"] == "open")
    assert (await check_states(world, number))["1.5"] == rules.PickState(
        "1.5", rules.OPENED, "rc/1.5", fresh["number"], head=fresh["head"]["sha"]
    )


async def test_branch_with_peoples_commits_is_never_overwritten(world: World) -> None:
    await release_repo(world)
    number = await fix_pr(world, "fix/taken", {"a.txt": TEXT.replace("line 11\n", "line eleven\n")})
    branch = f"cherry-pick/{number}-to-rc-1.5"
    await seed.create_branch(world, "erin", FULL, branch, "rc/1.5")
    erins = await seed.commit(world, "erin", FULL, branch, {"e.txt": "erin's work\n"}, "Erin's own pick attempt")
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await seed.merge_pr(world, "alice", FULL, number, "squash")
    await world.settle()
    assert await pick_prs(world) == []
    assert await pull_head(world, branch) == erins
    assert (await check_states(world, number))["1.5"].state == rules.BRANCH_TAKEN
    assert any(branch in c["body"] and "never overwrite" in c["body"] for c in await comments(world, number))
