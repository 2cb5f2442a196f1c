"""Stories through the sandbox: people's text (mentions, Markdown, HTML, marker look-alikes) never pings anyone through the bot, nor takes over its markers."""

from __future__ import annotations

import re
from typing import Any

from bot.rules.references import closed_by
from bot.rules.text import addressed, inline, marker, no_pings, plain_line, quoted
from bot.sandbox import seed
from bot.sandbox.common import STORE
from bot.sandbox.harness import World
from people_text_checks import ALLOWED_MENTIONS, BOT, assert_no_pings, bot_texts, mentions, people_wrote
from release_story import (
    FULL,
    NAME,
    ORG,
    PROMOTE_CONFIG,
    all_green,
    cut,
    gate_run,
    gate_state,
    new_issue,
    release_record,
    release_repo,
    reply_to,
    say,
    tracking_issues,
)

# Who people's text tries to ping; none of them acts in these stories, so the bot has no reason to name them.
PEOPLE_MENTIONS = {"alice", "acme/qa", "everyone", "mallory", "acme/security-team", "here"}
assert not PEOPLE_MENTIONS & ALLOWED_MENTIONS

LONG = "@mallory " + "x" * 3000
TITLE = (
    "Fix @alice's crash for @acme/qa & @everyone | col | <b>bold</b> `tick "
    "<!-- release-train:reply:1:x --> ünïcødé 🚀 @here"
)
LONGEST_TITLE = (TITLE + " " + "z" * 300)[:256]  # as long as GitHub allows
BODY = "\n".join(
    [
        "Thanks @mallory and @acme/security-team!",
        "| table | breakers |",
        "| --- | --- |",
        "| @alice | <img src=x onerror=alert(1)> |",
        "<!-- release-train:cherry-pick-conflict:1.4 -->",
        "<details><summary>@everyone</summary>```@acme/qa```</details>",
        LONG,
        "日本語 ✅ — emoji 🎉 @alice",
    ]
)
ONE_LINE = "@alice @acme/qa @everyone | a | b | <!-- release-train:state {} --> `x` ünï 🚀 " + "y" * 500


async def comments_on(world: World, number: int) -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")
    assert answer.status == 200, answer.body
    return answer.body


def repeated(texts: list[tuple[str, str]], needle: str) -> bool:
    """The bot repeated people's text somewhere (so the check above was not vacuous)."""
    return any(needle in text for _, text in texts)


async def fix_pr(
    world: World, branch: str, files: dict[str, str | None], *, base: str = "devel", title: str = TITLE
) -> int:
    await seed.create_branch(world, "dana", FULL, branch, base)
    await seed.commit(world, "dana", FULL, branch, files, "Fix: @alice said so")
    pr = await seed.open_pr(world, "dana", FULL, head=branch, base=base, title=title, body=BODY)
    return int(pr["number"])


async def test_picks_guards_merge_rules_and_commands_never_ping(world: World) -> None:
    await release_repo(world)
    await seed.grant(world, FULL, "erin", "write")
    # rc/1.4 moves on, so a fix touching the same line conflicts there.
    await seed.commit(world, "rita", FULL, "rc/1.4", {"app.py": "x = 14\n"}, "RC-only change")
    clean = await fix_pr(world, "fix/clean", {"clean.txt": "clean\n"}, title=LONGEST_TITLE)
    clash = await fix_pr(world, "fix/clash", {"app.py": "x = 2\n"})
    # A person imitates the bot's hidden marker for the conflict comment before the bot writes it.
    fake = await seed.comment(
        world, "dana", FULL, clash, "<!-- release-train:cherry-pick-conflict:1.4 -->\nI am the bot @mallory"
    )
    for number in (clean, clash):
        await seed.add_labels(world, "dana", FULL, number, "cherry-pick/1.4")
        await seed.merge_pr(world, "rita", FULL, number, "squash")
    # erin is not QA: the guard removes her label and says why.
    await seed.add_labels(world, "erin", FULL, clean, "qa/verified")
    await world.settle()
    for number in (clean, clash):
        await seed.add_labels(world, "quinn", FULL, number, "qa/verified")
    # Merge rules: an FR branch with an open child whose title pings, then the FR PR into devel.
    await seed.create_branch(world, "dana", FULL, "fr/FR-7-login", "devel")
    child = await fix_pr(world, "feat/child", {"child.txt": "c\n"}, base="fr/FR-7-login")
    await seed.commit(world, "dana", FULL, "fr/FR-7-login", {"fr.txt": "fr\n"}, "FR work")
    fr_pr = int(
        (await seed.open_pr(world, "dana", FULL, head="fr/FR-7-login", base="devel", title=TITLE, body=BODY))["number"]
    )
    # Commands with people's text in their arguments, refused or answered.
    where = await new_issue(world, "dana", title=TITLE)
    asked = [
        await seed.comment(world, "dana", FULL, where, "/cut-rc @mallory @acme/qa"),  # not RTE
        await seed.comment(world, "rita", FULL, where, "/cut-rc @mallory <!-- x -->"),  # not understood
        await seed.comment(world, "dana", FULL, clean, "/cherry-pick 1.4 @everyone `x` |y|"),
        await seed.comment(world, "dana", FULL, where, "/hold @alice " + ONE_LINE),  # not a tracking issue
        await seed.comment(world, "dana", FULL, where, "/help @mallory"),
    ]
    written = people_wrote(world)
    await world.settle()

    texts = assert_no_pings(world, written)
    # The bot did repeat people's text, defused: the checks above saw it.
    assert repeated(texts, "@\u200dalice")
    assert repeated(texts, "@\u200dacme/qa")
    # The clean pick: title as people wrote it behind the RC prefix, body defused.
    picks = [p for p in (await world.call("alice", "GET", f"/repos/{FULL}/pulls?base=rc/1.4&state=all")).body]
    [pick] = [p for p in picks if p["head"]["ref"] == f"cherry-pick/{clean}-to-rc-1.4"]
    assert not mentions(pick["body"]) - ALLOWED_MENTIONS
    # GitHub refuses titles over 256 characters: the pick's is cut, and still names its source.
    assert len(pick["title"]) <= 256 and pick["title"].startswith("[rc/1.4] Fix @\u200dalice")
    assert pick["title"].endswith(f"… (#{clean})")
    assert "<!-- release-train:reply:1:x -->" not in pick["body"]
    # The conflict: the bot wrote its own comment next to the imitation, which stays untouched.
    on_clash = await comments_on(world, clash)
    conflict = [
        c
        for c in on_clash
        if c["user"]["login"] == BOT and "<!-- release-train:cherry-pick-conflict:1.4 -->" in c["body"]
    ]
    assert len(conflict) == 1 and "conflicts" in conflict[0]["body"]
    [still_fake] = [c for c in on_clash if c["id"] == fake["id"]]
    assert still_fake["body"] == fake["body"]
    # The guard removed erin's label and said so, answering her (a mention); quinn's label stays.
    clean_labels = {
        label["name"] for label in (await world.call("alice", "GET", f"/repos/{FULL}/issues/{clean}")).body["labels"]
    }
    assert "qa/verified" in clean_labels
    assert any(
        c["user"]["login"] == BOT and c["body"].count("@erin, only QA") == 1 for c in await comments_on(world, clean)
    )
    # Merge rules listed the open child by its title, defused.
    fr_head = (await world.call("alice", "GET", f"/repos/{FULL}/pulls/{fr_pr}")).body["head"]["sha"]
    runs = (
        await world.call(
            "alice", "GET", f"/repos/{FULL}/commits/{fr_head}/check-runs?check_name=release-train/merge-rules"
        )
    ).body
    summary = max(runs["check_runs"], key=lambda r: r["id"])["output"]["summary"]
    assert f"#{child}" in summary and "@\u200dalice" in summary
    # Every command got exactly one answer.
    for made in asked:
        await reply_to(world, int(made["issue_url"].rsplit("/", 1)[1]), made)


async def test_release_commands_and_the_dashboard_never_ping(world: World) -> None:
    await release_repo(world)
    # An open PR aimed at 1.5 (its RC label), listed by /cut-rc as not in the RC.
    await seed.create_branch(world, "dana", FULL, "feat/late", "devel")
    await seed.commit(world, "dana", FULL, "feat/late", {"late.txt": "late\n"}, "Late")
    late = int(
        (await seed.open_pr(world, "dana", FULL, head="feat/late", base="devel", title=TITLE, body=BODY))["number"]
    )
    await seed.add_labels(world, "dana", FULL, late, "rc/1.5")
    where, cut_comment = await cut(world)
    cut_reply = await reply_to(world, where, cut_comment)
    assert f"#{late}" in cut_reply and "@\u200dalice" in cut_reply
    [tracking] = await tracking_issues(world)
    number = int(tracking["number"])
    # A blocker bug with a pinging title, QA's failed regression with a pinging summary, a hold with one.
    bug = await world.call(
        "dana", "POST", f"/repos/{FULL}/issues", {"title": TITLE, "body": BODY, "labels": ["release-blocker", "rc/1.5"]}
    )
    assert bug.status == 201, bug.body
    await world.settle()
    failed = await say(world, "quinn", number, "/regression fail " + ONE_LINE)
    held = await say(world, "rita", number, "/hold " + ONE_LINE)
    refused = await say(world, "dana", number, "/promote @mallory")  # not RTE
    helped = await say(world, "dana", number, "/help")
    written = people_wrote(world)  # the tracking issue and the regression bug are the bot's, so not in here
    await world.settle()

    texts = assert_no_pings(world, written)
    body = (await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}")).body["body"]
    # The dashboard lists the blocker and the hold, defused; the record keeps the reason as written.
    assert f"#{bug.body['number']}" in body and "@\u200dalice" in body
    record = await release_record(world, "1.5")
    assert record is not None and record.hold is not None
    assert record.hold.reason == ONE_LINE and record.hold.by == "rita"
    # The regression bug is the bot's, quotes the summary defused, and keeps its one hidden marker.
    bugs = (await world.call("alice", "GET", f"/repos/{FULL}/issues?labels=bug&state=all")).body
    [mine] = [b for b in bugs if b["user"]["login"] == BOT]
    assert f"<!-- release-train:regression-bug:{failed['id']} -->" in mine["body"]
    assert "<!-- release-train:state" not in mine["body"]
    assert "@\u200dacme/qa" in mine["body"]
    # Its title is plain text on GitHub: defused, not escaped for Markdown (which would show as `\|` and `&lt;`).
    assert mine["title"].startswith("Regression on rc/1.5: @\u200dalice @\u200dacme/qa @\u200deveryone | a | b | <!-")
    assert "\\\\|" not in body and "&amp;" not in body  # the dashboard escapes the title once, not twice
    for made in (failed, held, refused, helped):
        await reply_to(world, number, made)
    assert repeated(texts, "@\u200deveryone")
    rc_head = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.5")).body["object"]["sha"]
    gate = await gate_run(world, rc_head)
    assert gate is not None and "@\u200dalice" in gate["output"]["summary"]


async def test_a_persons_issue_with_the_bots_marker_is_not_taken_for_the_regression_bug(world: World) -> None:
    await release_repo(world)
    await cut(world)
    [tracking] = await tracking_issues(world)
    number = int(tracking["number"])
    # Deliveries wait while QA's command is posted, so a person can copy its marker into an issue first.
    assert (await world.call(None, "POST", "/_sandbox/pause", {"paused": True})).status == 200
    failed = await seed.comment(world, "quinn", FULL, number, "/regression fail login broken")
    lookalike = await world.call(
        "dana",
        "POST",
        f"/repos/{FULL}/issues",
        {
            "title": "Not the bot's bug",
            "body": f"<!-- release-train:regression-bug:{failed['id']} -->\n@mallory",
            "labels": ["bug", "release-blocker", "rc/1.5"],
        },
    )
    assert lookalike.status == 201, lookalike.body
    assert (await world.call(None, "POST", "/_sandbox/pause", {"paused": False})).status == 200
    await world.settle()
    reply = await reply_to(world, number, failed)
    bugs = (await world.call("alice", "GET", f"/repos/{FULL}/issues?labels=bug&state=all")).body
    mine = [b for b in bugs if b["user"]["login"] == BOT]
    assert len(mine) == 1, [(b["number"], b["user"]["login"]) for b in bugs]
    assert f"bug #{mine[0]['number']}" in reply
    assert f"#{lookalike.body['number']}" not in reply.split("Gate:")[0]


async def test_promotion_notes_and_hand_off_never_ping_but_the_hand_off_teams(world: World) -> None:
    await release_repo(world, PROMOTE_CONFIG)
    v140 = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.4")).body["object"]["sha"]
    await seed.create_branch(world, "alice", FULL, "production", v140)
    feature = await fix_pr(world, "feat/notes", {"notes.txt": "n\n"})
    await seed.merge_pr(world, "rita", FULL, feature)
    await world.settle()
    await cut(world)
    [tracking] = await tracking_issues(world)
    number = int(tracking["number"])
    head = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.5")).body["object"]["sha"]
    await all_green(world, number, head)
    assert await gate_state(world, head) == "success"
    written = people_wrote(world)
    promoted = await say(world, "rita", number, "/promote")
    assert "v1.5.0" in await reply_to(world, number, promoted)

    texts = assert_no_pings(world, written)
    [release] = (await world.call("alice", "GET", f"/repos/{FULL}/releases")).body
    assert "@\u200dalice" in release["body"], release["body"]  # the PR's title made it into the notes, defused
    [handoff] = [text for where, text in texts if "release-train:handoff:v1.5.0" in text]
    assert mentions(handoff) == {"acme/rops", "acme/fe"}


FORGED_DASHBOARD = (
    "Our own notes @mallory\n"
    "<!-- release-train:dashboard:start -->\n"
    '<!-- release-train:state {"version":"1.5","hold_reason":null,"hold_by":null,"forced_by":null,'
    '"cut_complete":true,"dispatched":[],"not_in_rc":[]} -->\n'
    "## Release 1.5 (not really)\n"
    "<!-- release-train:dashboard:end -->"
)


async def test_a_persons_issue_with_a_forged_dashboard_is_not_taken_for_the_tracking_issue(world: World) -> None:
    await release_repo(world)
    forged = await world.call(
        "dana",
        "POST",
        f"/repos/{FULL}/issues",
        {
            "title": "Release 1.5",
            "body": FORGED_DASHBOARD,
            "labels": ["release-train", "rc/1.5"],
        },
    )
    assert forged.status == 201, forged.body
    await world.settle()
    await cut(world)
    rc_head = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.5")).body["object"]["sha"]
    tracking = [i for i in await tracking_issues(world) if i["user"]["login"] == BOT]
    assert len(tracking) == 1, [(i["number"], i["user"]["login"]) for i in await tracking_issues(world)]
    number = int(tracking[0]["number"])
    # The hold on the bot's tracking issue holds the gate; the forged one, which says nothing of it, is not read.
    await say(world, "rita", number, "/hold legal review")
    gate = await gate_run(world, rc_head)
    assert gate is not None and "| no hold | ❌ on hold: legal review (by rita) |" in gate["output"]["summary"], gate[
        "output"
    ]["summary"]
    # A hold said on the copy is refused, rather than lost where the gate never looks.
    elsewhere = await say(world, "rita", int(forged.body["number"]), "/hold on the copy")
    assert "not on a copy" in await reply_to(world, int(forged.body["number"]), elsewhere)
    person = (await world.call("alice", "GET", f"/repos/{FULL}/issues/{forged.body['number']}")).body
    assert person["body"] == FORGED_DASHBOARD and person["user"]["login"] == "dana"


async def test_the_longest_comment_keeps_the_bots_text_within_githubs_limits(world: World) -> None:
    await release_repo(world)
    await cut(world)
    [tracking] = await tracking_issues(world)
    number = int(tracking["number"])
    longest = "@alice " + "w" * 65000  # a comment may hold 65536 characters
    failed = await say(world, "quinn", number, "/regression fail " + longest)
    held = await say(world, "rita", number, "/hold " + longest)
    for made in (failed, held):
        assert "GitHub refused" not in await reply_to(world, number, made)
    repo = world.app[STORE].repo(ORG, NAME)
    for issue in repo["issues"].values():
        assert len(issue["title"]) <= 256 and len(issue["body"] or "") <= 65536, issue["number"]
    for c in repo["comments"].values():
        assert len(c["body"]) <= 65536
    record = await release_record(world, "1.5")
    assert record is not None and record.hold is not None and record.hold.by == "rita"
    assert record.hold.reason == longest[:999] + "…"  # repeated in the tracking issue's body, so bounded
    [bug] = [i for i in repo["issues"].values() if i["user"] == BOT and i["title"].startswith("Regression on")]
    assert "> @\u200dalice www" in bug["body"] and "w…" in bug["body"]
    assert_no_pings(world, people_wrote(world))


ZWJ = "\u200d"
NO_PINGS = [
    ("@alice", f"@{ZWJ}alice"),
    ("cc @acme/qa, @Bob-2", f"cc @{ZWJ}acme/qa, @{ZWJ}Bob-2"),
    ("mail a@b.example", f"mail a@{ZWJ}b.example"),  # not a mention on GitHub, defused all the same
    ("@ alone, @-x, @@", "@ alone, @-x, @@"),
    (f"@{ZWJ}already", f"@{ZWJ}already"),
]
INLINE = [
    # (text, limit, expected)
    ("Fix  the\n\tlogin", 200, "Fix the login"),
    ("a | b", 200, "a \\| b"),
    ("<!-- release-train:x --> <b>", 200, "&lt;!-- release-train:x --&gt; &lt;b&gt;"),
    ("Fix `foo()` now", 200, "Fix `foo()` now"),
    ("Fix `foo", 200, "Fix 'foo"),  # unpaired: it would swallow the bot's text after it
    ("Fix `foo()` and `bar()`", 20, "Fix 'foo()' and 'ba…"),  # the cut leaves one unpaired
    ("x" * 10, 5, "xxxx…"),
    ("@alice | ünï 🚀", 200, f"@{ZWJ}alice \\| ünï 🚀"),
]
PLAIN_LINE = [
    ("a | <b> `c", 200, "a | <b> `c"),
    ("@alice\nsecond line", 200, f"@{ZWJ}alice second line"),
    ("y" * 300, 10, "y" * 9 + "…"),
]
QUOTED = [
    ("one", 4000, "> one"),
    ("one\ntwo @bob", 4000, f"> one\n> two @{ZWJ}bob"),
    ("<!-- release-train:regression-bug:1 -->", 4000, "> &lt;!-- release-train:regression-bug:1 --&gt;"),
    ("", 4000, "> "),
    ("z" * 50, 10, "> " + "z" * 9 + "…"),
]
MARKERS = [
    ("cherry-pick:12:rc/1.5", "<!-- release-train:cherry-pick:12:rc/1.5 -->"),
    ("handoff:v1.5.0", "<!-- release-train:handoff:v1.5.0 -->"),
    ("x-->y", "<!-- release-train:x--&gt;y -->"),
    ("x--!>y", "<!-- release-train:x--!&gt;y -->"),
]


ADDRESSED = [
    # (login, message, reply): the mention leads; a plain capitalised first word reads on in lower case.
    ("dana", "`/cut-rc` is reserved for the RTE role.", "@dana, `/cut-rc` is reserved for the RTE role."),
    ("dana", "The version is not one.", "@dana, the version is not one."),
    ("dana", "Usage: `/regression pass`.", "@dana, usage: `/regression pass`."),
    ("dana", "I did not promote `rc/1.5`.", "@dana, I did not promote `rc/1.5`."),
    ("dana", "GitHub refused a step.", "@dana, GitHub refused a step."),
    ("dana", "PdM signs off.", "@dana, PdM signs off."),
    ("dana", "only QA may apply it.", "@dana, only QA may apply it."),
]


def test_text_rules() -> None:
    for login, message, reply in ADDRESSED:
        assert addressed(login, message) == reply, message
        assert mentions(reply) == {login}
    for text, expected in NO_PINGS:
        assert no_pings(text) == expected, text
    for text, limit, expected in INLINE:
        assert inline(text, limit) == expected, text
    for text, limit, expected in PLAIN_LINE:
        assert plain_line(text, limit) == expected, text
    for text, limit, expected in QUOTED:
        assert quoted(text, limit) == expected, text
    for key, expected in MARKERS:
        assert marker(key) == expected, key
        assert marker(key).count("-->") == 1 and marker(key).endswith(" -->")


# -- the pings rule, over a whole release --------------------------------------------------------------------

HANDOFF = {"acme/rops", "acme/fe"}  # PROMOTE_CONFIG's release.handoff
_KEY = re.compile(r"<!-- release-train:(\S+) -->")


async def issue_events(world: World, number: int) -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/events?per_page=100")
    assert answer.status == 200, answer.body
    return answer.body


async def labels_undone(world: World, number: int) -> set[str]:
    """Who changed a label on the issue that the bot changed straight back (the people its label notes answer)."""
    people = set()
    last: dict[str, dict[str, Any]] = {}  # label -> its latest labeled/unlabeled event
    for event in await issue_events(world, number):
        if event["event"] not in ("labeled", "unlabeled"):
            continue
        name = event["label"]["name"].lower()
        before = last.get(name)
        if (
            before is not None
            and before["event"] != event["event"]
            and event["actor"]["login"] == BOT
            and before["actor"]["login"] != BOT
        ):
            people.add(before["actor"]["login"])
        last[name] = event
    return people


async def test_a_whole_release_pings_only_the_people_it_answers_and_the_hand_off_teams(world: World) -> None:
    await release_repo(world, PROMOTE_CONFIG)
    await seed.grant(world, FULL, "tia", "triage")
    v140 = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.4")).body["object"]["sha"]
    await seed.create_branch(world, "alice", FULL, "production", v140)
    refused: list[dict[str, Any]] = []  # the commands the bot refuses: their replies answer the commenter

    where = await new_issue(world, "dana", title="Plan 1.5")
    refused.append(await say(world, "dana", where, "/cut-rc"))  # dana is not RTE
    cut_made = await say(world, "rita", where, "/cut-rc")
    [tracking] = await tracking_issues(world)
    number = int(tracking["number"])
    await say(world, "quinn", number, "/regression fail Discount codes are ignored at checkout")
    [bug] = await bot_bugs(world, "bug")

    # The fix names the bug with a closing keyword, which does nothing on a PR into an RC branch.
    await seed.create_branch(world, "dana", FULL, "fix/discounts", "devel")
    await seed.commit(world, "dana", FULL, "fix/discounts", {"app.py": "x = 2\n"}, "Apply discount codes")
    fix = await seed.open_pr(
        world,
        "dana",
        FULL,
        head="fix/discounts",
        base="devel",
        title="Apply discount codes",
        body=f"Fixes #{bug['number']}.\n\nThanks @mallory for the report.",
    )
    fix_number = int(fix["number"])
    await seed.add_labels(world, "dana", FULL, fix_number, "cherry-pick/1.5")
    await seed.merge_pr(world, "rita", FULL, fix_number, "squash")
    await world.settle()
    await seed.add_labels(world, "dana", FULL, fix_number, "qa/verified")  # not QA: removed, and dana is answered
    await seed.add_labels(world, "tia", FULL, fix_number, "cherry-pick/1.4")  # triage: removed, tia is answered
    await world.settle()
    await seed.add_labels(world, "quinn", FULL, fix_number, "qa/verified")
    await world.settle()
    await seed.add_labels(world, "pam", FULL, number, "release-hold")  # a hold by label alone: taken off
    await world.settle()

    # The pick PR names the bug plainly and shows its commits short and linked.
    [pick] = (await world.call("alice", "GET", f"/repos/{FULL}/pulls?base=rc/1.5&state=open")).body
    assert f"Fixes in the source PR: #{bug['number']}" in pick["body"], pick["body"]
    assert closed_by(pick["body"], FULL) == ()  # a reference, no closing keyword
    html = pick["html_url"].rsplit("/pull/", 1)[0]
    commits = (await world.call("alice", "GET", f"/repos/{FULL}/pulls/{pick['number']}/commits")).body
    [picked] = commits
    assert f"[`{picked['sha'][:7]}`]({html}/commit/{picked['sha']})" in pick["body"]
    assert picked["sha"] not in pick["body"].replace(f"/commit/{picked['sha']}", "")
    # Replies show commits the same way.
    cut_at = (await release_record(world, "1.5")).cut.sha  # type: ignore[union-attr]
    assert f"Cut `rc/1.5` at [`{cut_at[:7]}`]({html}/commit/{cut_at})" in await reply_to(world, where, cut_made)

    # The gate's title says what fails and what it waits for; its links filter by this RC.
    rc_head = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.5")).body["object"]["sha"]
    gate = await gate_run(world, rc_head)
    assert gate is not None
    assert gate["output"]["title"] == (
        f"Blocked: regression failed, blocker #{bug['number']} open; "
        f"waiting for sanity, nightly, PR #{pick['number']} into the RC, PdM sign-off"
    )
    summary = gate["output"]["summary"]
    assert f"({html}/issues?q=is%3Aissue+is%3Aopen+label%3Arelease-blocker+label%3Arc%2F1.5)" in summary
    assert f"({html}/pulls?q=is%3Apr+is%3Aopen+base%3Arc%2F1.5)" in summary

    await seed.merge_pr(world, "rita", FULL, int(pick["number"]), "squash")
    closed = await world.call("quinn", "PATCH", f"/repos/{FULL}/issues/{bug['number']}", {"state": "closed"})
    assert closed.status == 200, closed.body
    await world.settle()
    head = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.5")).body["object"]["sha"]
    await all_green(world, number, head)
    refused.append(await say(world, "dana", number, "/promote"))  # dana is not RTE
    promoted = await say(world, "rita", number, "/promote")
    assert f"Promoted `rc/1.5` at [`{head[:7]}`]({html}/commit/{head}) as `v1.5.0`" in await reply_to(
        world, number, promoted
    )

    # Every comment the bot wrote: each mentions exactly whom it answers, the hand-off teams, or nobody.
    repo = world.app[STORE].repo(ORG, NAME)
    refused_ids = {c["id"] for c in refused}
    authors = {c["id"]: c["user"] for c in repo["comments"].values()}
    answered: dict[int, set[str]] = {}
    seen_kinds = set()
    for c in sorted(repo["comments"].values(), key=lambda c: c["id"]):
        if c["user"] != BOT:
            continue
        key = _KEY.search(c["body"])
        assert key is not None, c["body"]
        kind, _, rest = key.group(1).partition(":")
        said = mentions(c["body"])
        where_said = f"comment {c['id']} ({key.group(1)}) on #{c['issue_number']}: {c['body']!r}"
        seen_kinds.add(kind)
        if kind == "reply":
            commenter = authors[int(rest.split(":")[0])]
            assert said == ({commenter} if int(rest.split(":")[0]) in refused_ids else set()), where_said
        elif kind in ("guard", "hold-label"):
            number_of = int(c["issue_number"])
            if number_of not in answered:
                answered[number_of] = await labels_undone(world, number_of)
            assert len(said) == 1 and said <= answered[number_of], where_said
            answered[number_of] -= said
        elif kind == "handoff":
            assert said == HANDOFF, where_said
        else:
            assert said == set(), where_said
    assert {"reply", "guard", "hold-label", "handoff"} <= seen_kinds, seen_kinds
    assert all(not left for left in answered.values()), answered  # everyone whose label was undone was told
    # Everything else the bot wrote (issue and PR bodies, check runs, the release) mentions nobody.
    others = [(w, t) for w, t in bot_texts(world, people_wrote(world)) if not w.startswith("comment ")]
    assert len(others) > 20 and [(w, m) for w, t in others for m in mentions(t)] == []
    # The record speaks of the promotion in people's words, not its steps' names.
    record = await release_run(world, head)
    assert "released_label" not in record["output"]["summary"] and "handoff" not in record["output"]["summary"]
    assert "labelled released" in record["output"]["summary"]


async def bot_bugs(world: World, label: str) -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues?labels={label}&state=all&per_page=100")
    return [i for i in answer.body if "pull_request" not in i and i["user"]["login"] == BOT]


async def release_run(world: World, sha: str) -> dict[str, Any]:
    answer = await world.call(
        "alice", "GET", f"/repos/{FULL}/commits/{sha}/check-runs?check_name=release-train/release&filter=all"
    )
    mine = [r for r in answer.body["check_runs"] if r["app"]["slug"] == "release-train"]
    return max(mine, key=lambda r: r["id"])
