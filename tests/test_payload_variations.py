"""Every routed event in the shapes GitHub's schema allows, signed, through the real server and worker: no job crashes.

Each route starts from GitHub's real example payload (tests/reference/webhook-examples.json), moved onto a
sandbox repository with a real PR, issue and commits. The variations follow the `x-webhooks` schemas
(tests/reference/webhook-schemas.json) for every field the bot's records read: an optional key absent, a
nullable value null. Each variation is one delivery to each routed action whose schema allows it. Every route is also sent by a bot, by the app itself and by `ghost` (a
deleted account). A job may fail on GitHub's answer (a 404 for a number the example names); it may not die
of a programming error: `release_train_job_crashes_total` stays 0.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bot.handlers import build_router, handled_routes
from bot.sandbox import render, seed
from bot.sandbox.common import STORE
from bot.sandbox.harness import WEBHOOK_SECRET, World
from bot.server import METRICS
from fake_repo import example_payload
from fault_scenarios import BOT, CONFIG, ORG
from webhook_schemas import check_records

REPO = "vary"
FULL = f"{ORG}/{REPO}"
GHOST = {"login": "ghost", "id": 10137, "node_id": "MDQ6VXNlcjEwMTM3", "type": "User"}
OTHER_BOT = {"login": "dependabot[bot]", "id": 49699333, "node_id": "MDM6Qm90NDk2OTkzMzM=", "type": "Bot"}


def variations() -> dict[tuple[str, str, str], set[str | None]]:
    """(event, path, "drop" | "null") for every field a record reads where GitHub's schema lets it be absent or
    null, with the actions whose schema allows that."""
    found: dict[tuple[str, str, str], set[str | None]] = {}
    for uses in check_records().uses.values():
        for use in uses:
            route, path = use.where.split(" ", 1)
            event, action = route.split(":", 1)
            if not use.required:
                found.setdefault((event, path, "drop"), set()).add(action or None)
            if use.nullable:
                found.setdefault((event, path, "null"), set()).add(action or None)
    return dict(sorted(found.items(), key=lambda item: item[0]))


def _parents(payload: Any, steps: list[str]) -> Iterator[tuple[dict[str, Any], str]]:
    """The objects holding the field at `steps` (every element of a list on the way), with the field's name."""
    if not isinstance(payload, dict):
        return
    head, rest = steps[0], steps[1:]
    name, many = (head[:-2], True) if head.endswith("[]") else (head, False)
    if not rest:
        if name in payload:
            yield payload, name
        return
    inner = payload.get(name)
    for item in (inner if isinstance(inner, list) else []) if many else [inner]:
        yield from _parents(item, rest)


def varied(payload: dict[str, Any], path: str, kind: str) -> dict[str, Any] | None:
    """The payload with the field at `path` ($.a.b, $.list[].c) absent or null; None when it holds no such field."""
    changed = copy.deepcopy(payload)
    holders = list(_parents(changed, path.removeprefix("$.").split(".")))
    for holder, name in holders:
        if kind == "drop":
            del holder[name]
        else:
            holder[name] = None
    return changed if holders else None


class Target:
    """The sandbox repository the examples are moved onto."""

    def __init__(self) -> None:
        self.repository: dict[str, Any] = {}
        self.installation: dict[str, Any] = {}
        self.dana: dict[str, Any] = {}
        self.pr: dict[str, Any] = {}
        self.issue = 0
        self.devel: tuple[str, str] = ("", "")  # (parent, head)
        self.app_itself: dict[str, Any] = {}
        self.api_url = ""

    async def build(self, world: World) -> None:
        await seed.create_org_repo(
            world, ORG, REPO, admin="alice", files={"README.md": "# vary\n"}, default_branch="devel"
        )
        await seed.put_config(world, "alice", FULL, CONFIG)
        await seed.grant(world, FULL, "dana", "write")
        await seed.create_branch(world, "alice", FULL, "rc/1.5", "devel")
        await seed.create_branch(world, "dana", FULL, "fix/one", "devel")
        await seed.commit(world, "dana", FULL, "fix/one", {"fix.txt": "fixed\n"}, "Fix one")
        self.pr = await seed.open_pr(world, "dana", FULL, head="fix/one", base="devel", title="Fix one")
        await seed.add_labels(world, "dana", FULL, int(self.pr["number"]), "cherry-pick/1.5")
        issue = await world.call("dana", "POST", f"/repos/{FULL}/issues", {"title": "A bug", "labels": ["bug"]})
        self.issue = int(issue.body["number"])
        before = (await world.call("alice", "GET", f"/repos/{FULL}/branches/devel")).body["commit"]["sha"]
        after = await seed.commit(world, "alice", FULL, "devel", {"notes.txt": "notes\n"}, "Notes")
        self.devel = (before, after)
        self.pr = (await world.call("alice", "GET", f"/repos/{FULL}/pulls/{self.pr['number']}")).body
        self.repository = (await world.call("alice", "GET", f"/repos/{FULL}")).body
        installation = world.app[STORE].installation_for(ORG)
        self.installation = {"id": installation["id"], "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
        self.dana = render.user(world.app[STORE], "dana")
        app_itself = world.app[STORE].find_user(BOT)
        assert app_itself is not None
        self.app_itself = render.user(world.app[STORE], BOT)
        self.api_url = world.api_url

    def payload(self, event: str, action: str | None) -> dict[str, Any]:
        """GitHub's example of the route, on this repository's PR, issue and commits, sent by dana."""
        head_sha, number = self.pr["head"]["sha"], int(self.pr["number"])
        where = {"repository": self.repository, "installation": self.installation, "sender": self.dana}
        if event == "deployment_protection_rule":
            # GitHub describes this event by its schema alone, with no example payload.
            return {
                "action": "requested",
                "environment": "production",
                "event": "push",
                "sha": head_sha,
                "ref": "refs/heads/devel",
                "deployment_callback_url": f"{self.api_url}/repos/{FULL}/actions/runs/1/deployment_protection_rule",
                **where,
            }
        pull = {
            "number": number,
            "head": {"ref": "fix/one", "sha": head_sha, "repo": self.repository},
            "base": {"ref": "devel", "sha": self.devel[1], "repo": self.repository},
            "labels": self.pr["labels"],
        }
        changes: dict[str, Any] = {}
        having = ""
        if event == "pull_request":
            changes = {"number": number, "pull_request": pull}
        elif event in ("issues", "issue_comment"):
            changes = {"issue": {"number": self.issue}}
            if event == "issue_comment":
                changes["comment"] = {"body": "/help"}
        elif event == "push":
            having = "commits"
            changes = {"ref": "refs/heads/devel", "before": self.devel[0], "after": self.devel[1]}
        elif event == "create":
            changes = {"ref": "rc/1.5", "ref_type": "branch"}
        elif event == "check_run":
            changes = {"check_run": {"head_sha": head_sha}}
        elif event == "check_suite":
            changes = {"check_suite": {"head_sha": head_sha}}
        elif event == "status":
            changes = {"sha": head_sha}
        elif event == "merge_group":
            changes = {
                "merge_group": {"head_sha": head_sha, "head_ref": f"refs/heads/gh-readonly-queue/devel/pr-{number}-x"}
            }
        try:
            payload = example_payload(event, action, having=having, **changes)
        except StopIteration:
            # GitHub gives no example of this action (issues closed, pull_request edited): another action's, renamed.
            like = {"issues": "reopened", "pull_request": "reopened"}[event]
            payload = {**example_payload(event, like, having=having, **changes), "action": action}
            if action == "edited":
                payload["changes"] = {"title": {"from": "An older title"}}
        if event == "push":
            payload["repository"] = {**payload["repository"], **self.repository, "pushed_at": 1700000000}
            return {**payload, "installation": self.installation, "sender": self.dana}
        return {**payload, **where}


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.slow
async def test_every_route_in_every_shape_githubs_schema_allows_runs_without_a_crash(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="release_train")
    target = Target()
    await target.build(world)
    await world.settle()
    routes = sorted(handled_routes(build_router()), key=lambda r: (r[0], r[1] or ""))
    actions_of = {event: [a for e, a in routes if e == event] for event, _ in routes}
    sent: list[tuple[str, str | None, str, dict[str, Any]]] = []
    for event, action in routes:
        base = target.payload(event, action)
        sent.append((event, action, "as GitHub's example", base))
        for name, sender in (("by a bot", OTHER_BOT), ("by the app itself", target.app_itself), ("by ghost", GHOST)):
            sent.append((event, action, name, {**base, "sender": sender}))
    for (event, path, kind), allowed in variations().items():
        for action in actions_of[event]:
            changed = varied(target.payload(event, action), path, kind) if action in allowed else None
            if changed is not None:
                sent.append((event, action, f"{path} {'absent' if kind == 'drop' else 'null'}", changed))

    assert world.bot_url is not None
    # The bot answers a command once per comment: each comment delivery names a comment of its own. The
    # sandbox then tells nobody of them, so the bot hears only the deliveries below.
    world.point_webhooks_at(None)
    for index, (event, action, what, payload) in enumerate(sent):
        if event == "issue_comment":
            made = await seed.comment(world, "dana", FULL, target.issue, "/help")
            comment = {**payload["comment"], "id": made["id"], "node_id": made["node_id"]}
            sent[index] = (event, action, what, {**payload, "comment": comment})
    bot_url = world.bot_url
    answers: dict[int, list[str]] = {}
    told: dict[str, str] = {}  # delivery id -> which variation it is
    for event, action, what, payload in sent:
        body = json.dumps(payload).encode()
        delivery = str(uuid.uuid4())
        told[delivery] = f"{event} {action or ''}: {what}"
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": sign(body),
        }
        async with world.session.post(bot_url, data=body, headers=headers) as resp:
            answer = await resp.json()
            answers.setdefault(resp.status, []).append(f"{event} {action or ''}: {what} -> {answer}")
    await world.settle(timeout=120)

    metrics = world.bot_app[METRICS] if world.bot_app is not None else None
    assert metrics is not None
    crashes = [
        f"{told.get(r.getMessage().split()[4], r.getMessage()[:80])}: {r.exc_info[1]!r}"
        for r in caplog.records
        if r.exc_info and getattr(r, "job_failure", None) == "crash"
    ]
    crashed = sum(
        sample.value
        for family in metrics.job_crashes.collect()
        for sample in family.samples
        if sample.name.endswith("_total")
    )
    outcomes = {
        kind: metrics.value("release_train_jobs_total", {"outcome": kind}) for kind in ("done", "ignored", "failed")
    }
    print(json.dumps({"deliveries": len(sent), "answers": {k: len(v) for k, v in answers.items()}, "jobs": outcomes}))
    # Every variation is one GitHub's schema allows: the door takes each of them.
    assert set(answers) == {202}, "\n".join(v for k, vs in answers.items() if k != 202 for v in vs[:40])
    assert crashed == 0, "\n".join(crashes)
    assert len(sent) >= 150
    comments = world.app[STORE].repo(ORG, REPO)["comments"].values()
    helped = sum(1 for c in comments if c["user"] == BOT and "/cherry-pick" in c["body"])
    by_people = sum(
        1 for e, _, _, p in sent if e == "issue_comment" and p["sender"]["type"] != "Bot" and "installation" in p
    )
    assert helped == by_people  # every comment a person sent (for an installation) got its /help answer
    done = metrics.value("release_train_jobs_total", {"outcome": "done"})
    assert done >= len(routes) * 2  # the handlers ran, not just the door
