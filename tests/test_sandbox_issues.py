"""The sandbox's issues, labels, comments, reactions and issue events, driven over real HTTP as people and as the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.sandbox.harness import Answer, World
from bot.sandbox.runner import start_sandbox
from sandbox_calls import HookLog, as_app, installation_token, make_repo, settle_hooks


async def grant(world: World, full_name: str, login: str, permission: str) -> None:
    answer = await world.call("alice", "PUT", f"/repos/{full_name}/collaborators/{login}", {"permission": permission})
    assert answer.status in (201, 204), answer.body


# --- issues ---------------------------------------------------------------------------------


async def test_an_issue_is_opened_edited_closed_and_reopened(sandbox: World, hook_log: HookLog) -> None:
    await make_repo(sandbox)
    opened = await sandbox.call(
        "alice",
        "POST",
        "/repos/acme/app/issues",
        {"title": "Login fails", "body": "steps...", "labels": ["bug", "rc/1.5"]},
    )
    assert opened.status == 201, opened.body
    issue = opened.body
    n = issue["number"]
    assert issue["state"] == "open" and issue["user"]["login"] == "alice"
    assert [lab["name"] for lab in issue["labels"]] == ["bug", "rc/1.5"]
    assert issue["html_url"].endswith(f"/acme/app/issues/{n}")
    assert "pull_request" not in issue
    assert issue["author_association"] == "MEMBER"  # alice administers the acme organisation

    # Labels named on an issue come into being, as on GitHub.
    label = await sandbox.call("bob", "GET", "/repos/acme/app/labels/rc%2F1.5")
    assert label.status == 200 and label.body["name"] == "rc/1.5"

    edited = await sandbox.call("alice", "PATCH", f"/repos/acme/app/issues/{n}", {"title": "Login fails on Safari"})
    assert edited.status == 200 and edited.body["title"] == "Login fails on Safari"
    closed = await sandbox.call(
        "alice", "PATCH", f"/repos/acme/app/issues/{n}", {"state": "closed", "state_reason": "not_planned"}
    )
    assert closed.body["state"] == "closed" and closed.body["state_reason"] == "not_planned"
    assert closed.body["closed_by"]["login"] == "alice" and closed.body["closed_at"]
    reopened = await sandbox.call("alice", "PATCH", f"/repos/acme/app/issues/{n}", {"state": "open"})
    assert reopened.body["state"] == "open" and reopened.body["closed_at"] is None
    assert reopened.body["state_reason"] == "reopened"

    got = await sandbox.call("bob", "GET", f"/repos/acme/app/issues/{n}")
    assert got.status == 200 and got.body["title"] == "Login fails on Safari"
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/issues/999")).status == 404

    await settle_hooks(sandbox)
    actions = [p["action"] for p in hook_log.of("issues")]
    assert actions == ["opened", "labeled", "labeled", "edited", "closed", "reopened"]
    edited_hook = hook_log.of("issues", "edited")[0]
    assert edited_hook["changes"] == {"title": {"from": "Login fails"}}
    assert edited_hook["issue"]["title"] == "Login fails on Safari"
    labeled = hook_log.of("issues", "labeled")
    assert [p["label"]["name"] for p in labeled] == ["bug", "rc/1.5"]
    assert all(p["sender"]["login"] == "alice" and p["repository"]["full_name"] == "acme/app" for p in labeled)

    events = await sandbox.call("bob", "GET", f"/repos/acme/app/issues/{n}/events")
    kinds = [(e["event"], e["actor"]["login"]) for e in events.body]
    assert kinds == [
        ("labeled", "alice"),
        ("labeled", "alice"),
        ("renamed", "alice"),
        ("closed", "alice"),
        ("reopened", "alice"),
    ]
    assert events.body[0]["label"]["name"] == "bug"
    assert events.body[2]["rename"] == {"from": "Login fails", "to": "Login fails on Safari"}


async def test_validation_and_access_on_issues(sandbox: World) -> None:
    await make_repo(sandbox)
    missing_title = await sandbox.call("alice", "POST", "/repos/acme/app/issues", {"body": "no title"})
    assert missing_title.status == 422
    assert missing_title.body["errors"][0]["field"] == "title"
    assert (await sandbox.call(None, "POST", "/repos/acme/app/issues", {"title": "x"})).status == 401
    assert (await sandbox.call("alice", "POST", "/repos/acme/nothing/issues", {"title": "x"})).status == 404

    # A reader of a public repository may open an issue, but its labels and assignees are dropped.
    by_reader = await sandbox.call(
        "bob",
        "POST",
        "/repos/acme/app/issues",
        {"title": "Crash", "labels": ["release-blocker"], "assignees": ["alice"]},
    )
    assert by_reader.status == 201
    assert by_reader.body["labels"] == [] and by_reader.body["assignees"] == []
    n = by_reader.body["number"]
    # ... may edit their own issue, but not someone else's.
    assert (await sandbox.call("bob", "PATCH", f"/repos/acme/app/issues/{n}", {"body": "more detail"})).status == 200
    theirs = await sandbox.call("alice", "POST", "/repos/acme/app/issues", {"title": "Alice's"})
    forbidden = await sandbox.call(
        "bob", "PATCH", f"/repos/acme/app/issues/{theirs.body['number']}", {"title": "mine now"}
    )
    assert forbidden.status == 403
    bad_state = await sandbox.call("alice", "PATCH", f"/repos/acme/app/issues/{n}", {"state": "done"})
    assert bad_state.status == 422


async def test_listing_issues_filters_like_github(sandbox: World) -> None:
    await make_repo(sandbox)
    await grant(sandbox, "acme/app", "carol", "push")
    made = []
    for title, labels, who in [
        ("one", ["bug", "rc/1.5"], "alice"),
        ("two", ["bug"], "carol"),
        ("three", ["rc/1.5", "release-blocker", "bug"], "carol"),
        ("four", [], "alice"),
    ]:
        answer = await sandbox.call(who, "POST", "/repos/acme/app/issues", {"title": title, "labels": labels})
        made.append(answer.body["number"])
    await sandbox.call("alice", "PATCH", f"/repos/acme/app/issues/{made[3]}", {"state": "closed"})
    await sandbox.call("alice", "PATCH", f"/repos/acme/app/issues/{made[1]}", {"assignees": ["carol"]})

    def titles(answer: Answer) -> list[str]:
        return [i["title"] for i in answer.body]

    assert titles(await sandbox.call("bob", "GET", "/repos/acme/app/issues")) == ["three", "two", "one"]
    assert titles(await sandbox.call("bob", "GET", "/repos/acme/app/issues?state=closed")) == ["four"]
    assert titles(await sandbox.call("bob", "GET", "/repos/acme/app/issues?state=all&direction=asc")) == [
        "one",
        "two",
        "three",
        "four",
    ]
    # Every listed label must be on the issue.
    assert titles(await sandbox.call("bob", "GET", "/repos/acme/app/issues?labels=bug,RC/1.5")) == ["three", "one"]
    assert titles(await sandbox.call("bob", "GET", "/repos/acme/app/issues?labels=release-blocker")) == ["three"]
    assert titles(await sandbox.call("bob", "GET", "/repos/acme/app/issues?creator=carol")) == ["three", "two"]
    assert titles(await sandbox.call("bob", "GET", "/repos/acme/app/issues?assignee=carol")) == ["two"]
    assert titles(await sandbox.call("bob", "GET", "/repos/acme/app/issues?assignee=none")) == ["three", "one"]

    first_page = await sandbox.call("bob", "GET", "/repos/acme/app/issues?state=all&per_page=2")
    assert len(first_page.body) == 2
    assert 'rel="next"' in first_page.headers["Link"] and 'rel="last"' in first_page.headers["Link"]
    second_page = await sandbox.call("bob", "GET", "/repos/acme/app/issues?state=all&per_page=2&page=2")
    assert titles(first_page) + titles(second_page) == ["four", "three", "two", "one"]
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/issues?state=weird")).status == 422
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/issues?since=yesterday")).status == 422


# --- labels ---------------------------------------------------------------------------------


async def test_labels_are_added_set_and_removed_with_who_did_it(sandbox: World, hook_log: HookLog) -> None:
    await make_repo(sandbox)
    await grant(sandbox, "acme/app", "qa-lead", "triage")
    created = await sandbox.call(
        "alice",
        "POST",
        "/repos/acme/app/labels",
        {"name": "qa/verified", "color": "0E8A16", "description": "QA checked it"},
    )
    assert created.status == 201
    assert created.body == {
        **created.body,
        "name": "qa/verified",
        "color": "0E8A16",  # as given: GitHub keeps the case (octokit-fixtures' labels scenario, "BADA55")
        "description": "QA checked it",
        "default": False,
    }
    duplicate = await sandbox.call("alice", "POST", "/repos/acme/app/labels", {"name": "QA/Verified"})
    assert duplicate.status == 422 and duplicate.body["errors"][0]["code"] == "already_exists"
    assert (await sandbox.call("bob", "POST", "/repos/acme/app/labels", {"name": "mine"})).status == 403
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/labels/nothing")).status == 404

    n = (await sandbox.call("alice", "POST", "/repos/acme/app/issues", {"title": "Fix"})).body["number"]
    added = await sandbox.call(
        "qa-lead", "POST", f"/repos/acme/app/issues/{n}/labels", {"labels": ["qa/verified", "cherry-pick/1.5"]}
    )
    assert added.status == 200
    assert [lab["name"] for lab in added.body] == ["qa/verified", "cherry-pick/1.5"]
    # Adding what is already there changes nothing and sends nothing.
    again = await sandbox.call("qa-lead", "POST", f"/repos/acme/app/issues/{n}/labels", ["qa/verified"])
    assert [lab["name"] for lab in again.body] == ["qa/verified", "cherry-pick/1.5"]
    assert (await sandbox.call("bob", "POST", f"/repos/acme/app/issues/{n}/labels", {"labels": ["x"]})).status == 403

    listed = await sandbox.call("bob", "GET", "/repos/acme/app/labels?per_page=100")
    names = [lab["name"] for lab in listed.body]
    assert {"cherry-pick/1.5", "qa/verified", "bug"} <= set(names)  # with GitHub's default labels
    assert names == sorted(names, key=str.lower)

    set_answer = await sandbox.call(
        "alice", "PUT", f"/repos/acme/app/issues/{n}/labels", {"labels": ["cherry-pick/1.5", "cherry-pick/1.4"]}
    )
    assert [lab["name"] for lab in set_answer.body] == ["cherry-pick/1.5", "cherry-pick/1.4"]
    missing = await sandbox.call("alice", "DELETE", f"/repos/acme/app/issues/{n}/labels/qa%2Fverified")
    assert missing.status == 404 and missing.body["message"] == "Label does not exist"
    removed = await sandbox.call("alice", "DELETE", f"/repos/acme/app/issues/{n}/labels/cherry-pick%2F1.4")
    assert removed.status == 200 and [lab["name"] for lab in removed.body] == ["cherry-pick/1.5"]
    on_issue = await sandbox.call("bob", "GET", f"/repos/acme/app/issues/{n}/labels")
    assert [lab["name"] for lab in on_issue.body] == ["cherry-pick/1.5"]
    cleared = await sandbox.call("alice", "DELETE", f"/repos/acme/app/issues/{n}/labels")
    assert cleared.status == 204

    events = (await sandbox.call("bob", "GET", f"/repos/acme/app/issues/{n}/events")).body
    assert [(e["event"], e["label"]["name"], e["actor"]["login"]) for e in events] == [
        ("labeled", "qa/verified", "qa-lead"),
        ("labeled", "cherry-pick/1.5", "qa-lead"),
        ("unlabeled", "qa/verified", "alice"),
        ("labeled", "cherry-pick/1.4", "alice"),
        ("unlabeled", "cherry-pick/1.4", "alice"),
        ("unlabeled", "cherry-pick/1.5", "alice"),
    ]
    await settle_hooks(sandbox)
    assert [(p["action"], p["label"]["name"]) for p in hook_log.of("issues") if p["action"] != "opened"] == [
        (e["event"], e["label"]["name"]) for e in events
    ]


# --- comments and reactions -----------------------------------------------------------------


async def test_comments_and_reactions(sandbox: World, hook_log: HookLog) -> None:
    await make_repo(sandbox)
    n = (await sandbox.call("alice", "POST", "/repos/acme/app/issues", {"title": "Release 1.5"})).body["number"]
    first = await sandbox.call("bob", "POST", f"/repos/acme/app/issues/{n}/comments", {"body": "/cut-rc 1.5"})
    assert first.status == 201
    comment = first.body
    assert comment["user"]["login"] == "bob" and comment["body"] == "/cut-rc 1.5"
    assert comment["issue_url"].endswith(f"/repos/acme/app/issues/{n}")
    second = await sandbox.call("alice", "POST", f"/repos/acme/app/issues/{n}/comments", {"body": "ok"})
    assert (await sandbox.call("alice", "POST", f"/repos/acme/app/issues/{n}/comments", {"body": ""})).status == 422
    assert (await sandbox.call("alice", "POST", "/repos/acme/app/issues/404/comments", {"body": "x"})).status == 404

    listed = await sandbox.call("carol", "GET", f"/repos/acme/app/issues/{n}/comments")
    assert [c["body"] for c in listed.body] == ["/cut-rc 1.5", "ok"]
    assert (await sandbox.call("carol", "GET", f"/repos/acme/app/issues/{n}")).body["comments"] == 2
    later = await sandbox.call("carol", "GET", f"/repos/acme/app/issues/{n}/comments?since=2999-01-01T00:00:00Z")
    assert later.body == []

    edited = await sandbox.call(
        "bob", "PATCH", f"/repos/acme/app/issues/comments/{comment['id']}", {"body": "/cut-rc 1.6"}
    )
    assert edited.status == 200 and edited.body["body"] == "/cut-rc 1.6"
    assert (
        await sandbox.call("carol", "PATCH", f"/repos/acme/app/issues/comments/{comment['id']}", {"body": "hijack"})
    ).status == 403
    assert (await sandbox.call("carol", "GET", f"/repos/acme/app/issues/comments/{comment['id']}")).body[
        "body"
    ] == "/cut-rc 1.6"

    eyes = await sandbox.call(
        "alice", "POST", f"/repos/acme/app/issues/comments/{comment['id']}/reactions", {"content": "eyes"}
    )
    assert eyes.status == 201 and eyes.body["content"] == "eyes" and eyes.body["user"]["login"] == "alice"
    same = await sandbox.call(
        "alice", "POST", f"/repos/acme/app/issues/comments/{comment['id']}/reactions", {"content": "eyes"}
    )
    assert same.status == 200 and same.body["id"] == eyes.body["id"]
    await sandbox.call("carol", "POST", f"/repos/acme/app/issues/comments/{comment['id']}/reactions", {"content": "+1"})
    assert (
        await sandbox.call(
            "alice", "POST", f"/repos/acme/app/issues/comments/{comment['id']}/reactions", {"content": "party"}
        )
    ).status == 422
    reactions = await sandbox.call("bob", "GET", f"/repos/acme/app/issues/comments/{comment['id']}/reactions")
    assert [(r["user"]["login"], r["content"]) for r in reactions.body] == [("alice", "eyes"), ("carol", "+1")]
    only_eyes = await sandbox.call(
        "bob", "GET", f"/repos/acme/app/issues/comments/{comment['id']}/reactions?content=eyes"
    )
    assert len(only_eyes.body) == 1
    rollup = (await sandbox.call("bob", "GET", f"/repos/acme/app/issues/comments/{comment['id']}")).body["reactions"]
    assert rollup["total_count"] == 2 and rollup["eyes"] == 1 and rollup["+1"] == 1
    assert (
        await sandbox.call(
            "bob", "DELETE", f"/repos/acme/app/issues/comments/{comment['id']}/reactions/{eyes.body['id']}"
        )
    ).status == 403
    assert (
        await sandbox.call(
            "alice", "DELETE", f"/repos/acme/app/issues/comments/{comment['id']}/reactions/{eyes.body['id']}"
        )
    ).status == 204

    repo_wide = await sandbox.call("carol", "GET", "/repos/acme/app/issues/comments")
    assert [c["id"] for c in repo_wide.body] == [comment["id"], second.body["id"]]

    assert (await sandbox.call("carol", "DELETE", f"/repos/acme/app/issues/comments/{comment['id']}")).status == 403
    assert (await sandbox.call("bob", "DELETE", f"/repos/acme/app/issues/comments/{comment['id']}")).status == 204
    assert (await sandbox.call("bob", "GET", f"/repos/acme/app/issues/comments/{comment['id']}")).status == 404

    await settle_hooks(sandbox)
    hooks = hook_log.of("issue_comment")
    assert [p["action"] for p in hooks] == ["created", "created", "edited", "deleted"]
    assert hooks[0]["comment"]["body"] == "/cut-rc 1.5" and hooks[0]["issue"]["number"] == n
    assert hooks[2]["changes"] == {"body": {"from": "/cut-rc 1.5"}}
    assert hooks[3]["comment"]["id"] == comment["id"]


# --- as the app -----------------------------------------------------------------------------


async def test_the_app_comments_and_labels_as_its_bot(sandbox: World) -> None:
    await make_repo(sandbox)
    token = await installation_token(sandbox, "acme")
    n = (await sandbox.call("alice", "POST", "/repos/acme/app/issues", {"title": "Bug"})).body["number"]
    labelled = await as_app(
        sandbox, token, "POST", f"/repos/acme/app/issues/{n}/labels", {"labels": ["cherry-pick-conflict"]}
    )
    assert labelled.status == 200
    said = await as_app(sandbox, token, "POST", f"/repos/acme/app/issues/{n}/comments", {"body": "Picked."})
    assert said.status == 201 and said.body["user"]["login"] == "release-train[bot]"
    assert said.body["user"]["type"] == "Bot"
    own_edit = await as_app(
        sandbox, token, "PATCH", f"/repos/acme/app/issues/comments/{said.body['id']}", {"body": "Picked again."}
    )
    assert own_edit.status == 200
    events = (await sandbox.call("bob", "GET", f"/repos/acme/app/issues/{n}/events")).body
    assert events[0]["actor"]["login"] == "release-train[bot]"


async def test_an_app_without_the_issues_permission_is_refused(tmp_path: Path, session: Any) -> None:
    manifest = tmp_path / "narrow.yml"
    manifest.write_text(
        "name: Narrow\ndefault_events: [issues]\ndefault_permissions:\n  metadata: read\n  contents: write\n"
    )
    from bot.sandbox.harness import World as SandboxWorld

    running = await start_sandbox(state_dir=tmp_path / "narrow", manifest=manifest)
    world = SandboxWorld(running, session)
    try:
        await make_repo(world)
        n = (await world.call("alice", "POST", "/repos/acme/app/issues", {"title": "x"})).body["number"]
        token = await installation_token(world, "acme")
        refused = await as_app(world, token, "POST", f"/repos/acme/app/issues/{n}/comments", {"body": "hi"})
        assert refused.status == 403 and refused.body["message"] == "Resource not accessible by integration"
        assert (await as_app(world, token, "GET", f"/repos/acme/app/issues/{n}")).status == 403
    finally:
        await world.close()


# --- pull requests are issues too -----------------------------------------------------------


async def test_a_pull_request_answers_as_an_issue_and_its_label_changes_are_pull_request_events(
    sandbox: World, hook_log: HookLog
) -> None:
    from bot.sandbox import seed

    await make_repo(sandbox)
    await seed.create_branch(sandbox, "alice", "acme/app", "fix/crash", "main")
    await seed.commit(sandbox, "alice", "acme/app", "fix/crash", {"crash.py": "fixed\n"}, "Fix crash")
    pr = await seed.open_pr(sandbox, "alice", "acme/app", head="fix/crash", base="main", title="Fix crash")
    n = pr["number"]
    as_issue = await sandbox.call("bob", "GET", f"/repos/acme/app/issues/{n}")
    assert as_issue.status == 200
    assert as_issue.body["pull_request"]["url"].endswith(f"/repos/acme/app/pulls/{n}")
    assert as_issue.body["pull_request"]["merged_at"] is None
    listed = await sandbox.call("bob", "GET", "/repos/acme/app/issues")
    assert [i["number"] for i in listed.body if "pull_request" in i] == [n]

    await seed.add_labels(sandbox, "alice", "acme/app", n, "cherry-pick/1.5")
    await seed.comment(sandbox, "alice", "acme/app", n, "/cherry-pick 1.4")
    await seed.remove_label(sandbox, "alice", "acme/app", n, "cherry-pick/1.5")
    await seed.merge_pr(sandbox, "alice", "acme/app", n)
    merged = await sandbox.call("bob", "GET", f"/repos/acme/app/issues/{n}")
    assert merged.body["state"] == "closed" and merged.body["pull_request"]["merged_at"]
    reopen = await sandbox.call("alice", "PATCH", f"/repos/acme/app/issues/{n}", {"state": "open"})
    assert reopen.status == 422  # a merged pull request stays closed

    await settle_hooks(sandbox)
    assert hook_log.of("issues") == []
    labeled = hook_log.of("pull_request", "labeled")
    assert (
        len(labeled) == 1
        and labeled[0]["label"]["name"] == "cherry-pick/1.5"
        and labeled[0]["pull_request"]["number"] == n
    )
    assert hook_log.of("pull_request", "unlabeled")[0]["label"]["name"] == "cherry-pick/1.5"
    said = hook_log.of("issue_comment", "created")[0]
    assert said["issue"]["pull_request"]["html_url"].endswith(f"/acme/app/pull/{n}")
    events = [e["event"] for e in (await sandbox.call("bob", "GET", f"/repos/acme/app/issues/{n}/events")).body]
    assert events[:2] == ["labeled", "unlabeled"] and "merged" in events and "closed" in events


async def test_the_pull_requests_permission_reaches_labels_and_comments_on_pull_requests_only(
    tmp_path: Path, session: Any
) -> None:
    from bot.sandbox import seed

    manifest = tmp_path / "prs-only.yml"
    manifest.write_text(
        "name: PRs only\ndefault_events: []\ndefault_permissions:\n  metadata: read\n  contents: read\n  pull_requests: write\n"
    )
    running = await start_sandbox(state_dir=tmp_path / "prs-only", manifest=manifest)
    world = World(running, session)
    try:
        await make_repo(world)
        await seed.create_branch(world, "alice", "acme/app", "topic", "main")
        await seed.commit(world, "alice", "acme/app", "topic", {"a.txt": "a\n"}, "A")
        pr = await seed.open_pr(world, "alice", "acme/app", head="topic", base="main", title="Topic")
        issue = (await world.call("alice", "POST", "/repos/acme/app/issues", {"title": "An issue"})).body
        token = await installation_token(world, "acme")
        on_pr = await as_app(
            world, token, "POST", f"/repos/acme/app/issues/{pr['number']}/labels", {"labels": ["fr/ready"]}
        )
        assert on_pr.status == 200
        said = await as_app(world, token, "POST", f"/repos/acme/app/issues/{pr['number']}/comments", {"body": "hi"})
        assert said.status == 201
        edited = await as_app(
            world, token, "PATCH", f"/repos/acme/app/issues/comments/{said.body['id']}", {"body": "hello"}
        )
        assert edited.status == 200
        on_issue = await as_app(
            world, token, "POST", f"/repos/acme/app/issues/{issue['number']}/labels", {"labels": ["x"]}
        )
        assert on_issue.status == 403 and on_issue.body["message"] == "Resource not accessible by integration"
    finally:
        await world.close()


async def test_milestones_gather_issues(sandbox: World, hook_log: HookLog) -> None:
    await make_repo(sandbox)
    made = await sandbox.call(
        "alice", "POST", "/repos/acme/app/milestones", {"title": "Release 1.5", "due_on": "2030-01-01T00:00:00Z"}
    )
    assert made.status == 201 and made.body["number"] == 1 and made.body["open_issues"] == 0
    assert (await sandbox.call("alice", "POST", "/repos/acme/app/milestones", {"title": "Release 1.5"})).status == 422
    assert (await sandbox.call("alice", "POST", "/repos/acme/app/milestones", {})).status == 422
    assert (await sandbox.call("bob", "POST", "/repos/acme/app/milestones", {"title": "Bob's"})).status == 403
    n = (await sandbox.call("alice", "POST", "/repos/acme/app/issues", {"title": "Ship it", "milestone": 1})).body[
        "number"
    ]
    other = (await sandbox.call("alice", "POST", "/repos/acme/app/issues", {"title": "Later"})).body["number"]
    assert (await sandbox.call("alice", "PATCH", f"/repos/acme/app/issues/{other}", {"milestone": 7})).status == 422
    moved = await sandbox.call("alice", "PATCH", f"/repos/acme/app/issues/{other}", {"milestone": 1})
    assert moved.body["milestone"]["title"] == "Release 1.5"

    in_milestone = await sandbox.call("bob", "GET", "/repos/acme/app/issues?milestone=1")
    assert sorted(i["number"] for i in in_milestone.body) == [n, other]
    await sandbox.call("alice", "PATCH", f"/repos/acme/app/issues/{other}", {"milestone": None})
    assert [i["number"] for i in (await sandbox.call("bob", "GET", "/repos/acme/app/issues?milestone=none")).body] == [
        other
    ]
    listed = await sandbox.call("bob", "GET", "/repos/acme/app/milestones?state=open")
    assert [(m["title"], m["open_issues"]) for m in listed.body] == [("Release 1.5", 1)]
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/milestones/1")).body["title"] == "Release 1.5"
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/milestones/9")).status == 404

    events = [
        (e["event"], e["milestone"]["title"])
        for e in (await sandbox.call("bob", "GET", f"/repos/acme/app/issues/{other}/events")).body
    ]
    assert events == [("milestoned", "Release 1.5"), ("demilestoned", "Release 1.5")]
    await settle_hooks(sandbox)
    assert [p["action"] for p in hook_log.of("issues") if p["issue"]["number"] == other] == [
        "opened",
        "milestoned",
        "demilestoned",
    ]
