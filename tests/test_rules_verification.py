"""QA's verification record and what a push does to it: pure decisions in tables."""

from __future__ import annotations

import dataclasses

import pytest

from bot.rules import verification as rules
from bot.rules.verification import FileChange, UpdateFacts, Verification

V, PUSHED, BASE = "a" * 40, "b" * 40, "c" * 40


def update(**changes: object) -> UpdateFacts:
    """An honest "Update branch": the base brought b.txt, the PR had changed a.txt."""
    facts = UpdateFacts(
        verified_head=V,
        pushed=PUSHED,
        parents=(V, BASE),
        second_parent_on_base=True,
        from_verified=(FileChange("b.txt", "blob-b"),),
        from_base_side=(FileChange("a.txt", "blob-a"),),
        base_changes=(FileChange("b.txt", "blob-b"),),
        pr_changes=(FileChange("a.txt", "blob-a"),),
    )
    return dataclasses.replace(facts, **changes)  # type: ignore[arg-type]


UPDATE_CASES = [
    ("an update from the base", update(), True),
    ("parents the other way round", update(parents=(BASE, V)), False),
    ("not a merge", update(parents=(V,)), False),
    ("an octopus", update(parents=(V, BASE, "d" * 40)), False),
    ("the second parent is not on the base", update(second_parent_on_base=False), False),
    (
        "a file of its own slipped in",
        update(from_verified=(FileChange("b.txt", "blob-b"), FileChange("x", "y"))),
        False,
    ),
    ("the base's change altered", update(from_verified=(FileChange("b.txt", "other"),)), False),
    ("the base's change dropped", update(from_verified=()), False),
    ("the PR's change altered", update(from_base_side=(FileChange("a.txt", "other"),)), False),
    (
        "a path both sides changed differently (a real merge)",
        update(
            base_changes=(FileChange("a.txt", "base-a"), FileChange("b.txt", "blob-b")),
            from_base_side=(FileChange("a.txt", "merged-a"),),
        ),
        False,
    ),
    (
        "a path both sides changed the same way",
        update(
            base_changes=(FileChange("a.txt", "blob-a"), FileChange("b.txt", "blob-b")),
            pr_changes=(FileChange("a.txt", "blob-a"),),
            from_base_side=(),
        ),
        True,
    ),
    ("a listing cut short", update(complete=False), False),
    (
        "the base removed a file",
        update(base_changes=(FileChange("b.txt", None),), from_verified=(FileChange("b.txt", None),)),
        True,
    ),
]


@pytest.mark.parametrize("name,facts,expected", UPDATE_CASES, ids=[c[0] for c in UPDATE_CASES])
def test_is_update_merge(name: str, facts: UpdateFacts, expected: bool) -> None:
    assert rules.is_update_merge(facts) is expected


def push(**changes: object) -> rules.PushFacts:
    base = dict(
        number=7,
        label="qa/verified",
        pushed=PUSHED,
        pusher="dana",
        before=V,
        verified=Verification(V, "quinn", 7),
        pushed_is_verified=False,
        update=False,
    )
    return rules.PushFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_a_push_drops_the_verification_and_says_whose_push_and_which_commits() -> None:
    decision = rules.decide_push(push())
    assert decision.action == rules.DROP
    assert "`quinn`" in decision.note and "`dana`" in decision.note
    assert f"`{V[:7]}`" in decision.note and f"`{PUSHED[:7]}`" in decision.note
    # It answers QA, whose label it removed, and mentions nobody else.
    assert decision.note.startswith("@quinn, I removed") and "@dana" not in decision.note
    assert "@" not in rules.decide_push(push(verified=None)).note.replace("@\u200d", "")


def test_an_update_from_the_base_carries_the_verification_to_the_new_head() -> None:
    decision = rules.decide_push(push(update=True))
    assert decision.action == rules.CARRY
    assert decision.carried == Verification(PUSHED, "quinn", 7, carried_from=V)


def test_a_push_the_bot_already_handled_changes_nothing() -> None:
    assert rules.decide_push(push(pushed_is_verified=True)).action == rules.KEEP


def test_a_label_no_record_covers_is_dropped_too() -> None:
    decision = rules.decide_push(push(verified=None, update=True))
    assert decision.action == rules.DROP and "no QA verification covers it" in decision.note


def test_the_record_round_trips_through_the_check_run_text() -> None:
    for verified in (Verification(V, "quinn", 7), Verification(PUSHED, "quinn", 7, carried_from=V)):
        output = rules.check_output(verified, "qa/verified")
        assert rules.decode("words\n" + output.text, verified.sha) == verified
    assert rules.decode(None, V) is None
    assert rules.decode("<!-- release-train:verified {broken -->", V) is None
    assert rules.decode('<!-- release-train:verified {"by": 3, "pr": 7} -->', V) is None
