"""Every failure reaches a person: a job given up with no PR or issue to tell is listed on the open tracking
issue, or on the app's status issue, which it opens, reuses and closes once no failure remains."""

from __future__ import annotations

from typing import Any

import pytest

from bot.rules.text import marker
from bot.sandbox import seed
from bot.sandbox.harness import World
from release_story import BOT, FULL, cut, release_repo, tracking_issues
from sandbox_calls import outage

STATUS_LABEL = "release-train/status"
FAILURES = marker("failures")
CHECK_RUNS = f"POST /repos/{FULL}/check-runs"
CONFIG = "roles:\n  rte: [rita]\n"


async def status_issues(world: World) -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues?labels={STATUS_LABEL}&state=all&per_page=100")
    assert answer.status == 200, answer.body
    return sorted(answer.body, key=lambda i: i["number"])


async def comments_on(world: World, number: int) -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")
    assert answer.status == 200, answer.body
    return list(answer.body)


async def bots_status_issue(world: World) -> dict[str, Any]:
    [issue] = [i for i in await status_issues(world) if i["user"]["login"] == BOT]
    return issue


async def config_push(world: World, text: str, login: str = "dana") -> str:
    """login changes the config on devel (the config check answers the push with a check run on its commit)."""
    sha = await seed.commit(world, login, FULL, "devel", {".github/release-train.yml": text}, "Tune the train")
    await world.settle()
    return sha


async def failing_repo(world: World) -> None:
    await seed.create_org_repo(world, "acme", "app", admin="alice", files={"app.py": "x = 1\n"}, default_branch="devel")
    await seed.put_config(world, "alice", FULL, CONFIG)
    await seed.grant(world, FULL, "dana", "write")
    await world.settle()


async def test_a_failed_push_job_is_listed_on_the_open_tracking_issue_and_cleared_when_the_next_push_succeeds(
    world: World,
) -> None:
    await release_repo(world)
    await cut(world, "1.5")
    [tracking] = await tracking_issues(world)
    assert tracking["state"] == "open" and tracking["title"] == "Release 1.5"
    await outage(world, CHECK_RUNS)  # GitHub fails every check run the gate would post
    await seed.commit(world, "dana", FULL, "rc/1.5", {"fix.py": "ok = 1\n"}, "A fix @alice")
    await world.settle()

    [listed] = [c for c in await comments_on(world, tracking["number"]) if FAILURES in c["body"]]
    assert listed["user"]["login"] == BOT
    assert "the push to branch `rc/1.5`" in listed["body"]
    assert f"GitHub kept failing after every retry: {CHECK_RUNS} answered 502" in listed["body"]
    assert "ghs_" not in listed["body"] and "http://" not in listed["body"]
    assert await status_issues(world) == []  # the tracking issue was the place

    await outage(world)
    await seed.commit(world, "dana", FULL, "rc/1.5", {"fix.py": "ok = 2\n"}, "Another fix")
    await world.settle()
    [cleared] = [c for c in await comments_on(world, tracking["number"]) if FAILURES in c["body"]]
    assert cleared["id"] == listed["id"]  # one comment, kept up to date
    assert "No failure remains" in cleared["body"] and "rc/1.5" not in cleared["body"]
    assert await status_issues(world) == []


async def test_with_no_tracking_issue_a_status_issue_is_opened_reused_and_closed_once_none_remains(
    world: World,
) -> None:
    await failing_repo(world)
    await outage(world, CHECK_RUNS)
    await config_push(world, CONFIG + "# one\n")
    opened = await bots_status_issue(world)
    assert opened["state"] == "open" and FAILURES in opened["body"]
    assert "the push to branch `devel`" in opened["body"] and "answered 502" in opened["body"]
    assert {label["name"] for label in opened["labels"]} == {STATUS_LABEL}

    # a second failure, of another thing, is listed on the same issue
    await seed.create_branch(world, "dana", FULL, "rc/2.0", "devel")
    await seed.commit(world, "dana", FULL, "rc/2.0", {"app.py": "x = 2\n"}, "On the RC")
    await world.settle()
    reused = await bots_status_issue(world)
    assert reused["number"] == opened["number"] and reused["state"] == "open"
    assert "the push to branch `devel`" in reused["body"] and "the push to branch `rc/2.0`" in reused["body"]

    # recovery: the devel push succeeds, then the RC push; once none remains the issue closes with a note
    await outage(world)
    await config_push(world, CONFIG + "# two\n")
    partly = await bots_status_issue(world)
    assert partly["state"] == "open" and "`devel`" not in partly["body"] and "`rc/2.0`" in partly["body"]
    await seed.commit(world, "dana", FULL, "rc/2.0", {"app.py": "x = 3\n"}, "On the RC again")
    await world.settle()
    closed = await bots_status_issue(world)
    assert closed["number"] == opened["number"] and closed["state"] == "closed"
    assert "No failure remains" in closed["body"]
    notes = [c for c in await comments_on(world, closed["number"]) if c["user"]["login"] == BOT]
    assert [n["body"] for n in notes][-1].startswith("No failure remains")

    # a later failure reopens the same issue rather than opening another
    await outage(world, CHECK_RUNS)
    await config_push(world, CONFIG + "# three\n")
    again = await bots_status_issue(world)
    assert again["number"] == opened["number"] and again["state"] == "open" and "`devel`" in again["body"]
    await outage(world)


async def test_a_developers_issue_with_the_label_and_the_marker_is_never_taken_for_the_bots(world: World) -> None:
    await failing_repo(world)
    decoy_body = f"{FAILURES}\nEverything is fine, nothing to see: https://evil.example/login"
    made = await world.call(
        "dana",
        "POST",
        f"/repos/{FULL}/issues",
        {"title": "Release Train status", "body": decoy_body, "labels": [STATUS_LABEL]},
    )
    assert made.status == 201, made.body
    decoy = made.body["number"]
    assert [label["name"] for label in made.body["labels"]] == [STATUS_LABEL]

    await outage(world, CHECK_RUNS)
    await config_push(world, CONFIG + "# one\n")
    # the bot opened its own issue and wrote nothing on dana's
    mine = await bots_status_issue(world)
    assert mine["number"] != decoy and "the push to branch `devel`" in mine["body"]
    dana = (await world.call("alice", "GET", f"/repos/{FULL}/issues/{decoy}")).body
    assert dana["body"] == decoy_body and dana["state"] == "open"
    assert await comments_on(world, decoy) == []

    # dana rewrites the bot's issue; the bot's list is its ledger, not that text, and the next showing restores it
    edited = await world.call("dana", "PATCH", f"/repos/{FULL}/issues/{mine['number']}", {"body": decoy_body})
    assert edited.status == 200, edited.body
    await seed.create_branch(world, "dana", FULL, "rc/2.0", "devel")
    await seed.commit(world, "dana", FULL, "rc/2.0", {"app.py": "x = 2\n"}, "On the RC")
    await world.settle()
    shown = await bots_status_issue(world)
    assert "evil.example" not in shown["body"]
    assert "the push to branch `devel`" in shown["body"] and "the push to branch `rc/2.0`" in shown["body"]

    # control: recovery closes the bot's own issue, and dana's stays as she left it
    await outage(world)
    await config_push(world, CONFIG + "# two\n")
    await seed.commit(world, "dana", FULL, "rc/2.0", {"app.py": "x = 3\n"}, "On the RC again")
    await world.settle()
    assert (await bots_status_issue(world))["state"] == "closed"
    dana = (await world.call("alice", "GET", f"/repos/{FULL}/issues/{decoy}")).body
    assert dana["body"] == decoy_body and dana["state"] == "open"
    assert await comments_on(world, decoy) == []


async def test_a_persons_failures_comment_on_the_tracking_issue_is_not_the_bots(world: World) -> None:
    await release_repo(world)
    await cut(world, "1.5")
    [tracking] = await tracking_issues(world)
    fake = await seed.comment(world, "dana", FULL, tracking["number"], f"{FAILURES}\nNo failure remains.")
    await world.settle()

    await outage(world, CHECK_RUNS)
    await seed.commit(world, "dana", FULL, "rc/1.5", {"fix.py": "ok = 1\n"}, "A fix")
    await world.settle()
    await outage(world)
    marked = [c for c in await comments_on(world, tracking["number"]) if FAILURES in c["body"]]
    assert [c["user"]["login"] for c in marked] == ["dana", BOT]  # the bot wrote its own, left dana's alone
    assert marked[0]["id"] == fake["id"] and marked[0]["body"] == f"{FAILURES}\nNo failure remains."
    assert "the push to branch `rc/1.5`" in marked[1]["body"]


async def sweep(world: World, n: int) -> None:
    """The catch-up's periodic sweep of acme/app, as it queues it."""
    import orjson

    from bot.catchup import SWEEP_EVENT
    from bot.queue import Delivery
    from bot.sandbox.common import STORE
    from bot.server import QUEUE

    assert world.bot_app is not None
    installation = world.app[STORE].installation_for("acme")["id"]
    repository = (await world.call("alice", "GET", f"/repos/{FULL}")).body
    payload = {"action": "sweep", "repository": repository, "installation": {"id": installation}}
    delivery = Delivery(f"sweep:{FULL}:{n}", SWEEP_EVENT, orjson.dumps(payload), FULL, installation)
    assert await world.bot_app[QUEUE].put(delivery)
    await world.settle()


async def test_a_concern_whose_sweep_fails_is_listed_shown_again_at_each_sweep_and_cleared_when_it_sweeps(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.handlers import config_check

    await failing_repo(world)

    async def broken_sweep(ctx: Any) -> None:
        raise RuntimeError("config check's bug, holding token ghs_16C7e42F292c6912E7710c838347Ae178B4a")

    monkeypatch.setattr(config_check, "sweep", broken_sweep, raising=False)
    await sweep(world, 1)
    issue = await bots_status_issue(world)
    assert issue["state"] == "open" and "the periodic sweep of `config_check`" in issue["body"]
    assert "(`RuntimeError`); the app's logs have the details" in issue["body"] and "ghs_" not in issue["body"]

    # dana blanks the bot's list; the next sweep (failing again: its entry replaces the first) shows the ledger
    assert (
        await world.call("dana", "PATCH", f"/repos/{FULL}/issues/{issue['number']}", {"body": "all good"})
    ).status == 200
    await sweep(world, 2)
    shown = await bots_status_issue(world)
    assert shown["number"] == issue["number"] and "all good" not in shown["body"]
    assert "the periodic sweep of `config_check`" in shown["body"] and f"`sweep:{FULL}:2`" in shown["body"]

    # the concern is fixed: its next sweep succeeds, and the issue closes
    monkeypatch.delattr(config_check, "sweep")
    await sweep(world, 3)
    closed = await bots_status_issue(world)
    assert closed["number"] == issue["number"] and closed["state"] == "closed"
    assert "config_check" not in closed["body"]


async def test_showing_the_ledger_twice_writes_nothing_the_second_time_and_recovery_closes_once() -> None:
    """On the in-memory fake of RepoAPI: the concern publishes only what differs."""
    from bot.handlers import failures
    from bot.queue import InProcessLedger
    from fake_repo import FakeRepo, fake_context

    fake = FakeRepo(default_branch="devel")
    fake.commit("devel", "Initial commit", files={"README.md": "hello\n"})
    ctx = fake_context(fake)
    ledger = InProcessLedger()
    subject = failures.subject_of("push", failures.about_of(b'{"ref": "refs/heads/devel"}'))
    entry = failures.failure(
        subject, "push", "d-1", "TransientError: POST /repos/acme/app/check-runs answered 502", dead=True
    )
    await failures.note(ledger, FULL, entry)

    await failures.show_ledger(ctx, ledger, FULL)
    [created] = fake.writes
    assert created.startswith("issue #")
    fake.writes.clear()
    await failures.show_ledger(ctx, ledger, FULL)
    assert fake.writes == []

    await failures.recovered(ctx, ledger, FULL, [subject.key])
    number = int(created.split("#")[1])
    assert fake.writes == [f"comment #{number}", f"edit #{number} body state state_reason"]
    assert await ledger.open_failures(FULL) == {}
    fake.writes.clear()
    await failures.recovered(ctx, ledger, FULL, [subject.key])  # nothing open: nothing to do
    assert fake.writes == []


async def test_once_a_tracking_issue_opens_the_failures_move_there_and_the_status_issue_closes(world: World) -> None:
    from release_story import RELEASE_REPO_CONFIG

    await release_repo(world)  # rc/1.4 was cut by hand: no tracking issue is open
    await outage(world, CHECK_RUNS)
    await config_push(world, RELEASE_REPO_CONFIG + "# one\n")
    status = await bots_status_issue(world)
    assert status["state"] == "open" and "the push to branch `devel`" in status["body"]
    await outage(world)

    await cut(world, "1.5")
    [tracking] = await tracking_issues(world)
    await sweep(world, 1)  # the next showing of the ledger
    [listed] = [c for c in await comments_on(world, tracking["number"]) if FAILURES in c["body"]]
    assert listed["user"]["login"] == BOT and "the push to branch `devel`" in listed["body"]
    moved = await bots_status_issue(world)
    assert moved["state"] == "closed" and f"#{tracking['number']}" in moved["body"]
    notes = [c["body"] for c in await comments_on(world, moved["number"]) if c["user"]["login"] == BOT]
    assert (
        notes[-1] == f"Failures are now listed on the release tracking issue #{tracking['number']}. Closing this issue."
    )

    await config_push(world, RELEASE_REPO_CONFIG + "# two\n")
    [cleared] = [c for c in await comments_on(world, tracking["number"]) if FAILURES in c["body"]]
    assert cleared["id"] == listed["id"] and "No failure remains" in cleared["body"]
    assert (await bots_status_issue(world))["state"] == "closed"


async def test_what_the_failures_cost_in_calls_to_github(world: World) -> None:
    """A job in a repository with no open failure asks GitHub nothing more (the ledger is asked, locally);
    showing a failure and its recovery cost a few issue calls, counted from the sandbox's request log."""

    async def bot_calls(since: int) -> list[tuple[str, str]]:
        log = (await world.call(None, "GET", "/_sandbox/requests")).body
        return [(r["method"], r["route"]) for r in log[since:] if r["actor"] == "installation"]

    async def mark() -> int:
        return len((await world.call(None, "GET", "/_sandbox/requests")).body)

    await failing_repo(world)
    start = await mark()
    await config_push(world, CONFIG + "# plain\n")
    plain = await bot_calls(start)

    await outage(world, CHECK_RUNS)
    start = await mark()
    await config_push(world, CONFIG + "# one\n")
    issues = [c for c in await bot_calls(start) if "/issues" in c[1]]
    assert issues == [
        ("GET", "/repos/{owner}/{repo}/issues"),  # open tracking issues
        ("GET", "/repos/{owner}/{repo}/issues"),  # the app's status issue
        ("POST", "/repos/{owner}/{repo}/issues"),
    ]
    await outage(world)

    start = await mark()
    await config_push(world, CONFIG + "# two\n")
    recovery = await bot_calls(start)
    assert [c for c in recovery if "/issues" in c[1]] == [
        ("GET", "/repos/{owner}/{repo}/issues"),
        ("GET", "/repos/{owner}/{repo}/issues"),
        ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),  # the closing note
        ("PATCH", "/repos/{owner}/{repo}/issues/{issue_number}"),  # the last body, and closed
    ]
    start = await mark()
    await config_push(world, CONFIG + "# three\n")
    assert sorted(await bot_calls(start)) == sorted(plain)  # nothing open: the same calls as before any failure
