"""Attack stories through the sandbox: only QA or the RTE lifts a release blocker; a developer's close or unlabel is undone."""

from __future__ import annotations

from typing import Any

from bot.rules.gate import BlockerLift, blocker_undo
from bot.sandbox import seed
from bot.sandbox.harness import World
from release_story import BOT, FULL, gate_rows, gate_state, green_rc, labels_of, reply_to, say
from test_forged_records import nothing_released, promoted


async def bug_of(world: World, number: int) -> dict[str, Any]:
    return (await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}")).body


async def notes_on(world: World, number: int) -> list[str]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")
    return [c["body"] for c in answer.body if c["user"]["login"] == BOT]


async def test_a_developer_cannot_lift_a_release_blocker(world: World) -> None:
    tracking, head = await green_rc(world)
    filed = await world.call(
        "quinn", "POST", f"/repos/{FULL}/issues", {"title": "Payments fail", "labels": ["release-blocker", "rc/1.5"]}
    )
    assert filed.status == 201
    number = int(filed.body["number"])
    await world.settle()
    assert await gate_state(world, head) == "failure"

    # Attack: dana (write, no role) takes the blocker label off, then the RC's label, then closes the bug.
    for label in ("release-blocker", "rc/1.5"):
        await seed.remove_label(world, "dana", FULL, number, label)
        await world.settle()
        assert labels_of(await bug_of(world, number)) >= {"release-blocker", "rc/1.5"}
        assert await gate_state(world, head) == "failure"
    closed = await world.call("dana", "PATCH", f"/repos/{FULL}/issues/{number}", {"state": "closed"})
    assert closed.status == 200
    await world.settle()
    assert (await bug_of(world, number))["state"] == "open"
    assert await gate_state(world, head) == "failure" and (await gate_rows(world, head))["no blocker bugs"] == "fail"
    [note] = await notes_on(world, number)
    assert "\n@dana, " in note and "only QA or the RTE may lift a release blocker" in note
    made = await say(world, "rita", tracking, "/promote")
    assert "I did not promote" in await reply_to(world, tracking, made)
    await nothing_released(world)

    # Control: QA closes the bug; it stays closed, the gate opens, and the RTE's /promote publishes.
    closed = await world.call("quinn", "PATCH", f"/repos/{FULL}/issues/{number}", {"state": "closed"})
    assert closed.status == 200
    await world.settle()
    assert (await bug_of(world, number))["state"] == "closed"
    assert await gate_state(world, head) == "success"
    made = await say(world, "rita", tracking, "/promote")
    assert "v1.5.0" in await reply_to(world, tracking, made)
    await promoted(world, head)


def test_who_may_lift_a_blocker_and_how_it_is_put_back() -> None:
    def lift(**changes: Any) -> BlockerLift:
        fields: dict[str, Any] = {"number": 5, "by": "dana", "may_lift": False, "blocker_label": "release-blocker"}
        return BlockerLift(**{**fields, "rc_labels": ("rc/1.5",), **changes})

    assert blocker_undo(lift(closed=True, may_lift=True)) is None  # QA or the RTE
    assert blocker_undo(lift(closed=True, rc_labels=())) is None  # not a blocker of any RC
    closed = blocker_undo(lift(closed=True))
    assert closed is not None and (closed.reopen, closed.put_back) == (True, None)
    assert closed.note.startswith("@dana, you closed this bug") and "`rc/1.5`" in closed.note
    for label in ("release-blocker", "rc/1.5"):
        undone = blocker_undo(lift(removed=label))
        assert undone is not None and (undone.reopen, undone.put_back) == (False, label)
        assert f"took the `{label}` label off" in undone.note
