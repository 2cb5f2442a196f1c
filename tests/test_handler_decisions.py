"""Handler decisions against the in-memory fake of RepoAPI: the many small cases, fast; the sandbox stories stay the tests that matter."""

from __future__ import annotations

import msgspec

from bot.config import CONFIG_PATH
from bot.handlers import commands, config_check, merge_rules
from bot.handlers.release import cut
from fake_repo import FakeRepo, example_payload, fake_context

CHECK = "release-train/merge-rules"
CONFIG = "branches:\n  devel: devel\nroles:\n  rte: ['@acme/rte']\n"


def repository() -> FakeRepo:
    fake = FakeRepo(default_branch="devel")
    fake.commit("devel", "Initial commit", files={"README.md": "hello\n", CONFIG_PATH: CONFIG})
    fake.grant("alice", "admin")
    fake.grant("dana", "write")
    return fake


def verdicts(fake: FakeRepo, sha: str) -> dict[str, tuple[str, str | None, str | None]]:
    return {name: (run.status, run.conclusion, run.output.title) for name, run in fake.runs_on_by_name(sha).items()}


async def test_a_pr_into_an_fr_branch_without_its_ticket_fails_and_a_second_round_writes_nothing() -> None:
    fake = repository()
    fake.branch_from("fr/FR-123-login", "devel")
    fake.commit("fr/FR-123-login", files={"login.py": "1\n"})
    fake.branch_from("fix", "fr/FR-123-login")
    head = fake.commit("fix", files={"login.py": "2\n"})
    fake.open_pull("fix", "fr/FR-123-login", title="Fix the login")
    ctx = fake_context(fake)
    await merge_rules.refresh_all(ctx)
    assert verdicts(fake, head)[CHECK][:2] == ("completed", "failure") and "FR-123" in (
        fake.latest_summary(head, CHECK) or ""
    )
    written = list(fake.writes)
    await merge_rules.refresh_all(fake_context(fake))
    assert fake.writes == written, "nothing changed, so nothing is written"
    fake.pulls_by_number[1] = msgspec.structs.replace(fake.pulls_by_number[1], title="FR-123: fix the login")
    await merge_rules.refresh_all(fake_context(fake))
    assert verdicts(fake, head)[CHECK][:2] == ("completed", "success")
    assert fake.writes[len(written) :] == [f"PATCH check-run {CHECK}"], "a completed verdict changes in place"


async def test_an_fr_branch_behind_devel_fails_until_it_is_brought_up_to_date() -> None:
    fake = repository()
    fake.branch_from("fr/FR-9-search", "devel")
    head = fake.commit("fr/FR-9-search", files={"search.py": "1\n"})
    fake.open_pull("fr/FR-9-search", "devel", title="FR-9 search")
    await merge_rules.refresh_all(fake_context(fake))
    assert "behind" not in (verdicts(fake, head)[CHECK][2] or "")
    fake.commit("devel", files={"other.py": "1\n"})
    await merge_rules.refresh_fr_into_devel(fake_context(fake))
    assert "behind devel by 1 commit" in (verdicts(fake, head)[CHECK][2] or "")


async def test_one_head_into_two_bases_gets_a_check_per_base_and_their_combination() -> None:
    fake = repository()
    fake.branch_from("rc/1.5", "devel")
    fake.branch_from("fix", "devel")
    head = fake.commit("fix", files={"bug.py": "fixed\n"})
    fake.open_pull("fix", "devel", title="Fix the bug")
    fake.open_pull("fix", "rc/1.5", title="Fix the bug on 1.5")
    await merge_rules.refresh_all(fake_context(fake))
    assert sorted(verdicts(fake, head)) == [CHECK, f"{CHECK} (devel)", f"{CHECK} (rc/1.5)"]


async def test_a_push_that_changes_the_config_gets_its_check_once() -> None:
    fake = repository()
    sha = fake.commit("devel", files={CONFIG_PATH: "labels:\n  verfied: qa/ok\n"})
    example = example_payload("push", None, having="commits")
    commit = {**example["commits"][0], "added": [], "modified": [CONFIG_PATH], "removed": []}
    push = example_payload(
        "push",
        None,
        ref="refs/heads/devel",
        after=sha,
        created=False,
        forced=False,
        repository={"full_name": fake.full_name, "default_branch": "devel"},
        commits=[commit],
    )
    await config_check.check_push(fake_context(fake, "push", push).event, fake_context(fake, "push", push))
    run = fake.runs_on_by_name(sha)["release-train/config"]
    assert (run.conclusion, run.output.title) == ("failure", "Configuration has 1 problem")
    written = list(fake.writes)
    await config_check.check_push(fake_context(fake, "push", push).event, fake_context(fake, "push", push))
    assert fake.writes == written


def comment_event(fake: FakeRepo, number: int, login: str, body: str) -> dict[str, object]:
    comment = fake.comment_as(login, number, body)
    issue = fake.issues_by_number[number]
    return example_payload(
        "issue_comment",
        "created",
        comment={"id": comment.id, "body": body, "user": {"login": login, "type": "User"}},
        issue={"number": number, "title": issue.title, "labels": [], "user": {"login": "dana"}},
        sender={"login": login, "type": "User"},
        repository={"full_name": fake.full_name},
    )


async def test_a_command_is_acknowledged_answered_once_and_refused_to_someone_without_the_role() -> None:
    fake = repository()
    fake.branch_from("fix", "devel")
    fake.commit("fix", files={"bug.py": "fixed\n"})
    number = fake.open_pull("fix", "devel", title="Fix").number
    router = commands.build_router(cut.commands)
    help_event = comment_event(fake, number, "dana", "/help")
    ctx = fake_context(fake, "issue_comment", help_event)
    await router.dispatch(ctx.event, ctx)
    [reply] = [c for c in fake.comments_on[number] if c.author == fake.bot_login]
    assert "`/cut-rc [X.Y] [--force] [--dry-run]`" in (reply.body or "")
    assert fake.reactions[int(help_event["comment"]["id"])] == ["eyes", "+1"]  # type: ignore[index]
    cut_event = comment_event(fake, number, "dana", "/cut-rc 1.5")
    ctx = fake_context(fake, "issue_comment", cut_event)
    await router.dispatch(ctx.event, ctx)
    refusal = fake.comments_on[number][-1]
    assert "reserved for the RTE" in (refusal.body or "") and "Nothing was changed" in (refusal.body or "")
    assert fake.reactions[int(cut_event["comment"]["id"])] == ["eyes", "-1"]  # type: ignore[index]
    assert set(fake.heads) == {"devel", "fix"}, "no RC branch was made"
    bots_own = comment_event(fake, number, fake.bot_login, "/help")
    ctx = fake_context(fake, "issue_comment", bots_own)
    await router.dispatch(ctx.event, ctx)
    assert int(bots_own["comment"]["id"]) not in fake.reactions  # type: ignore[index]
