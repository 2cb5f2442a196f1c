"""Stories in the sandbox: the release-train/merge-rules check passing, failing and flipping as the world changes."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from bot.sandbox import seed
from bot.sandbox.common import STORE
from bot.sandbox.harness import WEBHOOK_SECRET, World

REPO = "acme/app"
CHECK = "release-train/merge-rules"
REFERENCE = Path(__file__).parent / "reference" / "webhook-examples.json"
CONFIG = """\
branches:
  devel: devel
roles:
  pdm: ["@acme/pdm"]
  rte: ["@acme/rte"]
  qa: ["@acme/qa"]
"""


async def given_a_repository(world: World, config: str = CONFIG) -> None:
    await seed.create_org_repo(
        world, "acme", "app", admin="alice", files={"README.md": "hello\n"}, default_branch="devel"
    )
    await seed.put_config(world, "alice", REPO, config)
    for login in ("bob", "pat", "quinn"):
        await seed.grant(world, REPO, login, "write")
    await seed.add_team_member(world, "acme", "pdm", "pat")
    await seed.add_team_member(world, "acme", "qa", "quinn")
    await world.settle()


async def head_of(world: World, number: int) -> str:
    answer = await world.call("alice", "GET", f"/repos/{REPO}/pulls/{number}")
    assert answer.status == 200, answer.body
    return answer.body["head"]["sha"]


async def check(world: World, number: int, name: str = CHECK) -> dict[str, Any] | None:
    """The newest check run of that name on the PR's current head, as people see it."""
    sha = await head_of(world, number)
    answer = await world.call("alice", "GET", f"/repos/{REPO}/commits/{sha}/check-runs?per_page=100")
    assert answer.status == 200, answer.body
    runs = [r for r in answer.body["check_runs"] if r["name"] == name]
    return max(runs, key=lambda r: r["id"]) if runs else None


def verdict(run: dict[str, Any] | None) -> tuple[str, str | None, str]:
    assert run is not None, "no check run"
    return run["status"], run["conclusion"], run["output"]["title"]


async def fr_branch_with_pr(world: World, fr: str = "fr/FR-123-login") -> int:
    await seed.create_branch(world, "alice", REPO, fr, "devel")
    await seed.commit(world, "alice", REPO, fr, {"login.py": "def login(): ...\n"}, "Start the login FR")
    pr = await seed.open_pr(world, "alice", REPO, head=fr, base="devel", title="FR-123: login")
    await world.settle()
    return pr["number"]


async def test_fr_into_devel_flips_as_children_merge_devel_moves_and_pdm_signs_off(world: World) -> None:
    await given_a_repository(world)
    parent = await fr_branch_with_pr(world)
    assert verdict(await check(world, parent)) == ("completed", "failure", "2 of 3 rules pass: not signed off")

    # A child PR into the FR branch: it needs the ticket, and it blocks its parent.
    await seed.create_branch(world, "bob", REPO, "feature/form", "fr/FR-123-login")
    await seed.commit(world, "bob", REPO, "feature/form", {"form.py": "FORM = 1\n"}, "Form")
    child = (await seed.open_pr(world, "bob", REPO, head="feature/form", base="fr/FR-123-login", title="Add the form"))[
        "number"
    ]
    await world.settle()
    assert verdict(await check(world, child)) == (
        "completed",
        "failure",
        "0 of 1 rules pass: title does not name FR-123",
    )
    _status, conclusion, title = verdict(await check(world, parent))
    assert (conclusion, title) == ("failure", "1 of 3 rules pass: 1 open PR into fr/FR-123-login (+1 more)")
    summary = (await check(world, parent))["output"]["summary"]
    assert f"/pull/{child}" in summary and "| rule | state | how to fix |" in summary

    await world.call("bob", "PATCH", f"/repos/{REPO}/pulls/{child}", {"title": "FR-123: add the form"})
    await world.settle()
    assert verdict(await check(world, child)) == ("completed", "success", "1 of 1 rules pass")

    # The child merges: the parent has no open child any more (and a new head).
    await seed.merge_pr(world, "bob", REPO, child)
    await world.settle()
    assert verdict(await check(world, parent)) == ("completed", "failure", "2 of 3 rules pass: not signed off")

    # devel moves: the FR branch is behind.
    await seed.commit(world, "alice", REPO, "devel", {"other.py": "X = 1\n"}, "Elsewhere on devel")
    await world.settle()
    run = await check(world, parent)
    assert verdict(run) == ("completed", "failure", "1 of 3 rules pass: behind devel by 1 commit (+1 more)")
    assert "git merge origin/devel" in run["output"]["summary"]

    # devel merged into the FR branch: up to date again.
    answer = await world.call("alice", "POST", f"/repos/{REPO}/merges", {"base": "fr/FR-123-login", "head": "devel"})
    assert answer.status == 201, answer.body
    await world.settle()
    assert verdict(await check(world, parent)) == ("completed", "failure", "2 of 3 rules pass: not signed off")

    # The ready label from someone who is not PdM or RTE does not count (the guard removes it).
    await seed.add_labels(world, "bob", REPO, parent, "fr/ready")
    await world.settle()
    labels = (await world.call("alice", "GET", f"/repos/{REPO}/issues/{parent}/labels")).body
    assert "fr/ready" not in [label["name"] for label in labels]
    assert verdict(await check(world, parent)) == ("completed", "failure", "2 of 3 rules pass: not signed off")

    # A PdM team member signs off.
    await seed.add_labels(world, "pat", REPO, parent, "fr/ready")
    await world.settle()
    assert verdict(await check(world, parent)) == ("completed", "success", "3 of 3 rules pass")


async def test_a_child_retargeted_or_reopened_moves_its_parents_verdict(world: World) -> None:
    await given_a_repository(world)
    parent = await fr_branch_with_pr(world)
    await seed.create_branch(world, "bob", REPO, "feature/form", "fr/FR-123-login")
    await seed.commit(world, "bob", REPO, "feature/form", {"form.py": "FORM = 1\n"}, "Form")
    child = (await seed.open_pr(world, "bob", REPO, head="feature/form", base="fr/FR-123-login", title="FR-123 form"))[
        "number"
    ]
    await world.settle()
    assert verdict(await check(world, parent))[2].startswith("1 of 3 rules pass: 1 open PR into fr/FR-123-login")

    answer = await world.call("bob", "PATCH", f"/repos/{REPO}/pulls/{child}", {"base": "devel"})
    assert answer.status == 200, answer.body
    await world.settle()
    assert verdict(await check(world, parent)) == ("completed", "failure", "2 of 3 rules pass: not signed off")

    await world.call("bob", "PATCH", f"/repos/{REPO}/pulls/{child}", {"base": "fr/FR-123-login"})
    await world.call("bob", "PATCH", f"/repos/{REPO}/pulls/{child}", {"state": "closed"})
    await world.settle()
    assert verdict(await check(world, parent)) == ("completed", "failure", "2 of 3 rules pass: not signed off")
    await world.call("bob", "PATCH", f"/repos/{REPO}/pulls/{child}", {"state": "open"})
    await world.settle()
    assert verdict(await check(world, parent))[2].startswith("1 of 3 rules pass: 1 open PR into fr/FR-123-login")


async def test_rc_rules_verified_label_bug_reference_and_fr_into_rc(world: World) -> None:
    await given_a_repository(world)
    await seed.create_branch(world, "alice", REPO, "rc/1.5", "devel")
    await seed.create_branch(world, "bob", REPO, "fix/crash", "rc/1.5")
    await seed.commit(world, "bob", REPO, "fix/crash", {"crash.py": "FIXED = True\n"}, "Fix the crash")
    fix = (await seed.open_pr(world, "bob", REPO, head="fix/crash", base="rc/1.5", title="Fix the crash"))["number"]
    await world.settle()
    assert verdict(await check(world, fix)) == (
        "completed",
        "failure",
        "1 of 3 rules pass: not verified by QA (+1 more)",
    )

    await world.call("bob", "PATCH", f"/repos/{REPO}/pulls/{fix}", {"body": "Fixes #1"})
    await seed.add_labels(world, "quinn", REPO, fix, "qa/verified")
    await world.settle()
    assert verdict(await check(world, fix)) == ("completed", "success", "3 of 3 rules pass")

    # An FR branch opened into both devel and an RC: each PR gets its own verdict on the shared head.
    fr_pr = await fr_branch_with_pr(world, "fr/FR-9-search")
    into_rc = (await seed.open_pr(world, "alice", REPO, head="fr/FR-9-search", base="rc/1.5", title="FR-9 #1"))[
        "number"
    ]
    await world.settle()
    rc_run = await check(world, into_rc, f"{CHECK} (rc/1.5)")
    assert verdict(rc_run)[1] == "failure"
    assert "features reach an RC only through `devel` and a new cut" in rc_run["output"]["summary"]
    assert verdict(await check(world, fr_pr, f"{CHECK} (devel)"))[2] == "2 of 3 rules pass: not signed off"
    assert verdict(await check(world, fr_pr)) == (
        "completed",
        "failure",
        f"Blocked by #{fr_pr} into devel, #{into_rc} into rc/1.5",
    )

    # Closing the FR → RC PR gives the plain check back to the PR into devel alone.
    await world.call("alice", "PATCH", f"/repos/{REPO}/pulls/{into_rc}", {"state": "closed"})
    await world.settle()
    assert verdict(await check(world, fr_pr)) == ("completed", "failure", "2 of 3 rules pass: not signed off")
    # The per-base checks left on the commit say they no longer apply.
    assert verdict(await check(world, fr_pr, f"{CHECK} (rc/1.5)")) == (
        "completed",
        "neutral",
        "No open PR into rc/1.5 on this commit",
    )
    assert verdict(await check(world, fr_pr, f"{CHECK} (devel)"))[1] == "neutral"


async def test_no_rule_applies_and_config_change_reevaluates_every_open_pr(world: World) -> None:
    await given_a_repository(world)
    await seed.create_branch(world, "bob", REPO, "fix/typo", "devel")
    await seed.commit(world, "bob", REPO, "fix/typo", {"README.md": "hello!\n"}, "Typo")
    into_devel = (await seed.open_pr(world, "bob", REPO, head="fix/typo", base="devel", title="Typo"))["number"]
    await seed.create_branch(world, "alice", REPO, "main", "devel")
    into_main = (await seed.open_pr(world, "alice", REPO, head="fix/typo", base="main", title="Typo"))["number"]
    await world.call("alice", "PATCH", f"/repos/{REPO}/pulls/{into_main}", {"state": "closed"})
    await world.settle()
    assert verdict(await check(world, into_devel)) == (
        "completed",
        "success",
        "Every merge rule that applies is turned off",
    )

    await seed.put_config(world, "alice", REPO, CONFIG + "merge_rules:\n  require_ticket_into_devel: true\n")
    await world.settle()
    assert verdict(await check(world, into_devel)) == (
        "completed",
        "failure",
        "0 of 1 rules pass: no bug or ticket reference",
    )


async def test_refresh_writes_nothing_when_the_verdict_is_unchanged(world: World) -> None:
    await given_a_repository(world)
    parent = await fr_branch_with_pr(world)
    before = await check(world, parent)
    since = world.last_seq()
    await seed.comment(world, "alice", REPO, parent, "/refresh")
    await world.settle()
    writes = [r for r in world.app_requests(since) if "check-runs" in r["path"] and r["method"] in ("POST", "PATCH")]
    assert writes == []
    assert (await check(world, parent))["id"] == before["id"]
    comments = await world.call("alice", "GET", f"/repos/{REPO}/issues/{parent}/comments")
    assert any("Merge rules: 2 of 3 rules pass: not signed off." in c["body"] for c in comments.body)


def _merge_group_payload(sha: str, number: int, installation_id: int, repository: dict[str, Any]) -> dict[str, Any]:
    events = json.loads(REFERENCE.read_text())
    payload = copy.deepcopy(next(e for e in events if e["name"] == "merge_group")["examples"][0])
    payload["merge_group"]["head_sha"] = sha
    payload["merge_group"]["head_ref"] = f"refs/heads/gh-readonly-queue/devel/pr-{number}-{sha}"
    payload["merge_group"]["base_ref"] = "refs/heads/devel"
    payload["repository"] = repository
    payload["installation"] = {"id": installation_id, "node_id": "x"}
    return payload


async def test_merge_group_gets_the_verdict_of_the_pr_it_adds(world: World) -> None:
    await given_a_repository(world)
    parent = await fr_branch_with_pr(world)
    await seed.add_labels(world, "pat", REPO, parent, "fr/ready")
    await world.settle()
    assert verdict(await check(world, parent))[1] == "success"
    # The queue's group commit: devel with the FR merged, on a gh-readonly-queue branch.
    queue_branch = f"gh-readonly-queue/devel/pr-{parent}"
    await seed.create_branch(world, "alice", REPO, queue_branch, "fr/FR-123-login")
    group_sha = await seed.commit(world, "alice", REPO, queue_branch, {"queue.txt": "group\n"}, "Merge group")
    await world.settle()
    repository = (await world.call("alice", "GET", f"/repos/{REPO}")).body
    installation_id = world.app[STORE].installation_for("acme")["id"]
    body = json.dumps(_merge_group_payload(group_sha, parent, installation_id, repository)).encode()
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert world.bot_url is not None
    async with world.session.post(
        world.bot_url,
        data=body,
        headers={
            "content-type": "application/json",
            "x-github-event": "merge_group",
            "x-github-delivery": "merge-group-1",
            "x-hub-signature-256": signature,
        },
    ) as resp:
        assert resp.status == 202
    await world.settle()
    answer = await world.call("alice", "GET", f"/repos/{REPO}/commits/{group_sha}/check-runs")
    runs = [r for r in answer.body["check_runs"] if r["name"] == CHECK]
    assert len(runs) == 1
    assert (runs[0]["conclusion"], runs[0]["output"]["title"]) == ("success", f"#{parent}: 3 of 3 rules pass")


async def test_the_sweep_repairs_fr_prs_whose_events_were_missed(sandbox: World) -> None:
    # The PR is opened while the bot is away; the bot comes back without redelivery.
    await given_a_repository(sandbox)
    parent = await fr_branch_with_pr(sandbox)
    await sandbox.start_bot(sandbox.bot_settings(redelivery_interval_seconds=0, sweep_interval_seconds=0))
    assert await check(sandbox, parent) is None

    from bot.handlers import merge_rules
    from sweeps import sweep_context

    ctx = await sweep_context(sandbox, "app")
    await merge_rules.sweep(ctx)
    assert verdict(await check(sandbox, parent)) == ("completed", "failure", "2 of 3 rules pass: not signed off")
    # The bot handles the webhooks of the check it just wrote (asking for the tokens those jobs need): let it
    # finish, so the requests counted below are the second sweep's own.
    await sandbox.settle()
    since = sandbox.last_seq()
    await merge_rules.sweep(ctx)
    assert [e for e in sandbox.app_requests(since) if e["method"] != "GET"] == []


async def test_a_pr_the_bot_opened_into_an_rc_is_exempt_from_verified_and_bug_reference(world: World) -> None:
    from bot.server import SERVICES

    await given_a_repository(world)
    await seed.create_branch(world, "alice", REPO, "rc/1.5", "devel")
    await seed.create_branch(world, "alice", REPO, "release-train/pick-1-rc-1.5", "rc/1.5")
    await seed.commit(world, "alice", REPO, "release-train/pick-1-rc-1.5", {"fix.py": "OK = 1\n"}, "Picked fix")
    assert world.bot_app is not None
    services = world.bot_app[SERVICES]
    installation_id = world.app[STORE].installation_for("acme")["id"]
    token = await services.github.installation_token(installation_id)
    answer = await world.call(
        None,
        "POST",
        f"/repos/{REPO}/pulls",
        {
            "title": "[1.5] Picked fix",
            "head": "release-train/pick-1-rc-1.5",
            "base": "rc/1.5",
        },
        headers={"Authorization": f"token {token}"},
    )
    assert answer.status == 201, answer.body
    assert answer.body["user"]["login"] == "release-train[bot]"
    await world.settle()
    run = await check(world, answer.body["number"])
    assert verdict(run) == ("completed", "success", "1 of 1 rules pass")
    assert "opened by Release Train" in run["output"]["summary"]


async def test_a_broken_config_is_said_on_the_check(world: World) -> None:
    await given_a_repository(world)
    parent = await fr_branch_with_pr(world)
    await seed.put_config(world, "alice", REPO, CONFIG + "merge_rules:\n  no_such_rule: true\n")
    await world.settle()
    run = await check(world, parent)
    # The config commit moved devel (the default branch) too.
    assert verdict(run) == ("completed", "failure", "1 of 3 rules pass: behind devel by 1 commit (+1 more)")
    assert "`.github/release-train.yml` is invalid" in run["output"]["summary"]
    assert "no_such_rule" in run["output"]["summary"]
    assert "these rules follow the last valid configuration" in run["output"]["summary"]
