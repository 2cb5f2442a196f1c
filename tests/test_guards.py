"""Role-guarded labels: pure decisions in tables, then stories through the sandbox with the bot."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import RepoConfig, parse_config
from bot.handlers import guards as handler
from bot.rules import guards as rules
from bot.sandbox import seed
from bot.sandbox.harness import World
from guard_story import FULL, NAME, ORG, bot_comments, bot_context, labels_on, open_fix

CONFIG = """\
roles:
  qa: ["@acme/qa"]
  rte: [rita]
  pdm: ["@acme/pdm"]
"""

# -- pure -----------------------------------------------------------------------------------------


def labeled(event_id: int, kind: str, label: str, actor: str) -> rules.LabelEvent:
    return rules.LabelEvent(event_id, kind, label, actor)


APPLIED_BY_CASES = [
    ([], None),
    ([labeled(1, "labeled", "qa/verified", "quinn")], "quinn"),
    ([labeled(1, "labeled", "QA/Verified", "quinn")], "quinn"),  # names compare without case
    ([labeled(1, "labeled", "qa/verified", "quinn"), labeled(2, "unlabeled", "qa/verified", "dana")], None),
    (
        [
            labeled(1, "labeled", "qa/verified", "dana"),
            labeled(2, "unlabeled", "qa/verified", "bot"),
            labeled(3, "labeled", "qa/verified", "quinn"),
        ],
        "quinn",
    ),
    ([labeled(1, "labeled", "qa/verified", "quinn"), labeled(2, "labeled", "bug", "dana")], "quinn"),
    ([labeled(1, "labeled", "qa/verified", "quinn"), labeled(2, "unlabeled", "bug", "dana")], "quinn"),
    # pages out of order: ids decide
    (
        [
            labeled(3, "labeled", "qa/verified", "quinn"),
            labeled(2, "unlabeled", "qa/verified", "dana"),
            labeled(1, "labeled", "qa/verified", "dana"),
        ],
        "quinn",
    ),
    ([rules.LabelEvent(1, "assigned", actor="x"), labeled(2, "labeled", "qa/verified", "quinn")], "quinn"),
]


@pytest.mark.parametrize("events,who", APPLIED_BY_CASES)
def test_applied_by(events, who):
    assert rules.applied_by(events, "qa/verified") == who


def test_guarded_labels_follow_the_config():
    config = parse_config("labels:\n  verified: qa-ok\n  fr_ready: ready\n").config
    assert rules.guard_for(config, "QA-OK").roles == ("qa",)
    assert rules.guard_for(config, "ready").roles == ("pdm", "rte")
    assert rules.guard_for(config, "qa/verified") is None
    assert rules.guard_for(RepoConfig(), "bug") is None


VERIFIED = rules.guard_for(RepoConfig(), "qa/verified")
READY = rules.guard_for(RepoConfig(), "fr/ready")


def facts(**changes: Any) -> rules.LabelFacts:
    base = dict(
        label="qa/verified",
        sender="dana",
        sender_is_bot=False,
        sender_holds_role=False,
        config_usable=True,
        latest_applier="dana",
        latest_applier_holds_role=False,
    )
    return rules.LabelFacts(**{**base, **changes})


DECIDE_CASES = [
    ("QA applied it", VERIFIED, facts(sender="quinn", sender_holds_role=True, latest_applier="quinn"), False),
    ("not QA", VERIFIED, facts(), True),
    ("the bot's own change", VERIFIED, facts(sender_is_bot=True), False),
    ("not a guarded label", None, facts(label="bug"), False),
    ("already gone", VERIFIED, facts(latest_applier=None), False),
    ("QA applied it again since", VERIFIED, facts(latest_applier="quinn", latest_applier_holds_role=True), False),
    ("someone else without the role since", VERIFIED, facts(latest_applier="erin"), True),
    ("no usable config", VERIFIED, facts(sender="quinn", sender_holds_role=True, config_usable=False), True),
    ("ready by a developer", READY, facts(label="fr/ready"), True),
]


def test_a_retry_after_the_removal_still_owes_the_comment():
    # The first attempt removed the label, then failed before commenting.
    retry = rules.decide(VERIFIED, facts(latest_applier=None, removed_by_bot=True), "members of `@acme/qa`")
    assert not retry.remove and "only QA may apply" in retry.comment


def test_applied_after_merge():
    merged = rules.LabelEvent(5, "merged", actor="alice")
    assert rules.applied_after_merge([merged, labeled(6, "labeled", "qa/verified", "quinn")], "qa/verified")
    assert not rules.applied_after_merge([labeled(4, "labeled", "qa/verified", "quinn"), merged], "qa/verified")
    assert not rules.applied_after_merge([labeled(6, "labeled", "qa/verified", "quinn")], "qa/verified")
    assert not rules.applied_after_merge([merged, labeled(6, "labeled", "bug", "quinn")], "qa/verified")


def test_last_label_event():
    events = [
        labeled(1, "labeled", "qa/verified", "dana"),
        labeled(2, "unlabeled", "qa/verified", "release-train[bot]"),
    ]
    assert rules.last_label_event(events, "qa/verified") == ("unlabeled", "release-train[bot]")
    assert rules.last_label_event(events, "bug") is None


@pytest.mark.parametrize("name,guard,label_facts,removed", DECIDE_CASES, ids=[c[0] for c in DECIDE_CASES])
def test_decide(name, guard, label_facts, removed):
    decision = rules.decide(guard, label_facts, "members of `@acme/qa`", "it is broken (line 2)")
    assert decision.remove is removed
    assert (decision.comment is not None) is removed


def test_the_comment_says_who_may_and_pings_only_the_person_whose_label_it_removed():
    decision = rules.decide(VERIFIED, facts(sender="dana"), "members of `@acme/qa`")
    assert decision.comment == (
        "@dana, only QA may apply the `qa/verified` label (it marks a fix as validated by QA): "
        "members of `@acme/qa`. I removed it; nothing else was changed."
    )
    ready = rules.decide(READY, facts(label="fr/ready"), "`@rita` or members of `@acme/pdm`")
    assert ready.comment.startswith("@dana, only PdM or RTE may apply the `fr/ready` label")
    broken = rules.decide(
        VERIFIED, facts(config_usable=False), "x", "`.github/release-train.yml` is invalid (line 2: x)."
    )
    assert broken.comment.startswith("@dana, I removed the `qa/verified` label")
    assert "cannot tell who holds the QA role: `.github/release-train.yml` is invalid (line 2: x)." in broken.comment


# -- through the sandbox ----------------------------------------------------------------------------


async def head_of(world: World, number: int) -> str:
    return str((await world.call("alice", "GET", f"/repos/{FULL}/pulls/{number}")).body["head"]["sha"])


async def team_repo(world: World, config: str = CONFIG) -> None:
    """acme/app: QA team quinn, PdM team pam, RTE rita; dana is a developer with write access."""
    await seed.create_org_repo(world, ORG, NAME, admin="alice", files={"README.md": "# app\n"}, default_branch="devel")
    await seed.put_config(world, "alice", FULL, config)
    for login in ("dana", "quinn", "pam", "rita"):
        await seed.grant(world, FULL, login, "write")
    await seed.add_team_member(world, ORG, "qa", "quinn")
    await seed.add_team_member(world, ORG, "pdm", "pam")
    await world.settle()


async def test_verified_label_by_a_developer_is_removed_with_a_comment(world: World):
    await team_repo(world)
    number = await open_fix(world)
    await seed.add_labels(world, "dana", FULL, number, "qa/verified")
    await world.settle()
    assert "qa/verified" not in await labels_on(world, number)
    comments = await bot_comments(world, number)
    guard_comments = [c for c in comments if "only QA may apply" in c]
    assert len(guard_comments) == 1
    assert "@dana, only QA may apply the `qa/verified` label" in guard_comments[0]
    assert "members of `@acme/qa`" in guard_comments[0]
    ctx = await bot_context(world)
    assert await handler.label_applied_by(ctx, number, "qa/verified") is None
    assert await handler.verified_by(ctx, number, await labels_on(world, number), await head_of(world, number)) is None


async def test_verified_label_by_a_qa_team_member_stays(world: World):
    await team_repo(world)
    number = await open_fix(world)
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    assert "qa/verified" in await labels_on(world, number)
    assert not [c for c in await bot_comments(world, number) if "only QA may apply" in c]
    ctx = await bot_context(world)
    labels = await labels_on(world, number)
    assert await handler.label_applied_by(ctx, number, "qa/verified") == "quinn"
    assert await handler.verified_by(ctx, number, labels, await head_of(world, number)) == "quinn"
    assert await handler.ready_by(ctx, number, labels) is None  # no ready label


async def test_verified_on_an_issue_is_guarded_too(world: World):
    await team_repo(world)
    issue = (await world.call("dana", "POST", f"/repos/{FULL}/issues", {"title": "Login broken"})).body
    await seed.add_labels(world, "dana", FULL, issue["number"], "qa/verified", "bug")
    await world.settle()
    assert await labels_on(world, issue["number"]) == {"bug"}
    assert len([c for c in await bot_comments(world, issue["number"]) if "only QA may apply" in c]) == 1


async def test_ready_label_only_from_pdm_or_rte(world: World):
    await team_repo(world)
    first = await open_fix(world, "fr/FR-1-login")
    await seed.add_labels(world, "dana", FULL, first, "fr/ready")
    second = await open_fix(world, "fr/FR-2-search")
    await seed.add_labels(world, "pam", FULL, second, "fr/ready")
    third = await open_fix(world, "fr/FR-3-export")
    await seed.add_labels(world, "rita", FULL, third, "fr/ready")
    await world.settle()
    assert "fr/ready" not in await labels_on(world, first)
    [refusal] = [c for c in await bot_comments(world, first) if "may apply" in c]
    assert "only PdM or RTE may apply the `fr/ready` label" in refusal
    assert "members of `@acme/pdm` or `@rita`" in refusal
    assert "fr/ready" in await labels_on(world, second)
    assert "fr/ready" in await labels_on(world, third)
    ctx = await bot_context(world)
    assert await handler.ready_by(ctx, second, {"fr/ready"}) == "pam"
    assert await handler.ready_by(ctx, third, [{"name": "fr/ready"}]) == "rita"
    assert await handler.ready_by(ctx, first, set()) is None


async def test_the_bots_own_labels_are_not_guarded(world: World):
    await team_repo(world)
    number = await open_fix(world)
    ctx = await bot_context(world)
    await ctx.gh.post(
        "/repos/{owner}/{repo}/issues/{issue_number}/labels",
        {**ctx.repo_vars, "issue_number": number},
        data={"labels": ["qa/verified"]},
    )
    await world.settle()
    assert "qa/verified" in await labels_on(world, number)
    assert not [c for c in await bot_comments(world, number) if "may apply" in c]
    # ...but it does not count as QA's verification either.
    assert await handler.label_applied_by(ctx, number, "qa/verified") == "release-train[bot]"
    assert await handler.verified_by(ctx, number, {"qa/verified"}, await head_of(world, number)) is None


async def test_empty_qa_role_means_admins_and_maintainers(world: World):
    await team_repo(world, config="roles:\n  rte: [rita]\n")
    await seed.grant(world, FULL, "mia", "maintain")
    number = await open_fix(world)
    await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    await world.settle()
    assert "qa/verified" not in await labels_on(world, number)
    [refusal] = [c for c in await bot_comments(world, number) if "may apply" in c]
    assert "the repository's admins and maintainers" in refusal
    await seed.add_labels(world, "mia", FULL, number, "qa/verified")
    await world.settle()
    assert "qa/verified" in await labels_on(world, number)
    ctx = await bot_context(world)
    assert await handler.verified_by(ctx, number, {"qa/verified"}, await head_of(world, number)) == "mia"


async def test_guards_hold_under_failing_answers_and_duplicate_deliveries(world: World):
    await team_repo(world)
    numbers = [await open_fix(world, f"fix-{i}") for i in range(3)]
    # A fifth of the bot's calls fail (some after the change was made); deliveries come twice and out of order.
    answer = await world.call(
        None,
        "POST",
        "/_sandbox/faults",
        {"api": 0.2, "after": 0.5, "seed": 3, "retry_after": 0, "duplicate": 0.3, "reorder": 0.3},
    )
    assert answer.status == 200, answer.body
    for number in numbers:
        await seed.add_labels(world, "dana", FULL, number, "qa/verified")
    await seed.add_labels(world, "quinn", FULL, numbers[0], "fr/ready")
    await world.settle()
    await world.call(None, "POST", "/_sandbox/faults", {})
    for number in numbers:
        assert "qa/verified" not in await labels_on(world, number)
        assert len([c for c in await bot_comments(world, number) if "only QA may apply" in c]) == 1
    assert "fr/ready" not in await labels_on(world, numbers[0])
    assert len([c for c in await bot_comments(world, numbers[0]) if "only PdM or RTE may apply" in c]) == 1
