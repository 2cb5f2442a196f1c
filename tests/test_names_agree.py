"""Stories: the picker, the gate and the commands read one version grammar, so `cherry-pick/01.5` is no target to any of them."""

from __future__ import annotations

from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World
from pick_story import check_states, comments, pick_prs
from release_story import FULL, cut, gate_run, release_repo, reply_to, say, tracking_issues

CONFIG = """\
roles:
  qa: [quinn]
  rte: [rita]
gate:
  required_checks: [sanity]
"""


async def head_of(world: World, branch: str) -> str:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/{branch}")
    assert answer.status == 200, answer.body
    return str(answer.body["object"]["sha"])


async def gate_rows(world: World, sha: str) -> dict[str, str]:
    """requirement -> its cell, read back from the gate check's summary table."""
    run = await gate_run(world, sha)
    assert run is not None
    rows = {}
    for line in run["output"]["summary"].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 2 and cells[0] not in ("requirement", "---"):
            rows[cells[0]] = cells[1]
    return rows


async def merged_verified_fix(world: World, label: str) -> int:
    """dana's fix into devel, labelled `label`, squash-merged and verified by QA."""
    await seed.create_branch(world, "dana", FULL, "fix/login", "devel")
    await seed.commit(world, "dana", FULL, "fix/login", {"login.py": "ok = True\n"}, "Fix login")
    pr = await seed.open_pr(world, "dana", FULL, head="fix/login", base="devel", title="Fix login")
    await seed.add_labels(world, "dana", FULL, pr["number"], label)
    await seed.merge_pr(world, "alice", FULL, pr["number"], "squash")
    await seed.add_labels(world, "quinn", FULL, pr["number"], "qa/verified")
    await world.settle()
    return int(pr["number"])


def bot_comments(listed: list[dict[str, Any]]) -> list[str]:
    return [c["body"] for c in listed if c["user"]["login"] == "release-train[bot]"]


async def test_a_leading_zero_target_is_no_target_for_the_picker_nor_the_gate(world: World) -> None:
    await release_repo(world, CONFIG)
    await cut(world)  # rc/1.5, cut by the RTE
    # someone pushes a branch that looks like an RC for "01.5": it is no RC, so it gets no gate
    await seed.create_branch(world, "dana", FULL, "rc/01.5", "devel")
    lookalike = await seed.commit(world, "dana", FULL, "rc/01.5", {"x.py": "x = 0\n"}, "Not an RC")
    await world.settle()
    rc_head = await head_of(world, "rc/1.5")

    number = await merged_verified_fix(world, "cherry-pick/01.5")

    # the picker: no pick into either branch, no per-target state, and one comment saying the label names no RC
    assert await pick_prs(world, "rc/1.5") == [] and await pick_prs(world, "rc/01.5") == []
    assert set(await check_states(world, number)) == set()
    notes = [body for body in bot_comments(await comments(world, number)) if "names no RC" in body]
    assert len(notes) == 1 and "`cherry-pick/01.5`" in notes[0] and "`cherry-pick/1.5`" in notes[0]
    # the gate: rc/1.5 owes no pick for it and lists nothing waiting, and rc/01.5 has no gate at all
    await seed.commit(world, "rita", FULL, "rc/1.5", {"notes.md": "1.5\n"}, "RC notes")
    await world.settle()
    rc_head = await head_of(world, "rc/1.5")
    rows = await gate_rows(world, rc_head)
    assert rows["no failed cherry-picks"].startswith("✅") and "picks waiting for QA" not in rows
    assert f"#{number}" not in (await gate_run(world, rc_head) or {})["output"]["summary"]
    assert await gate_run(world, lookalike) is None
    [tracking] = await tracking_issues(world)
    assert f"#{number}]" not in tracking["body"]
    # the commands read it the same way: no pick asked, no RC cut
    asked = await say(world, "dana", number, "/cherry-pick 01.5")
    assert "MAJOR.MINOR" in await reply_to(world, number, asked)
    assert await pick_prs(world, "rc/1.5") == []
    refused = await say(world, "rita", tracking["number"], "/cut-rc 01.5")
    assert "did not understand" in await reply_to(world, tracking["number"], refused)
    assert len(await tracking_issues(world)) == 1

    # control: the label written as the grammar writes it is a target for both
    await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.5")
    await world.settle()
    [pick] = await pick_prs(world, "rc/1.5")
    assert pick["head"]["ref"] == f"cherry-pick/{number}-to-rc-1.5" and pick["state"] == "open"
    assert (await check_states(world, number))["1.5"].state == "opened"
    rows = await gate_rows(world, rc_head)
    assert rows["no open PRs into the RC"].startswith("⏳") and f"#{pick['number']}" in rows["no open PRs into the RC"]
