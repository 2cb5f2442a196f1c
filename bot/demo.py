"""`release-train demo`: a whole release played in the sandbox, with every outcome checked.

The sandbox (a local GitHub backed by real git) and the bot run on loopback and talk over real HTTP:
the sandbox sends signed webhooks, the bot answers through the REST API. People are played by the
script, acting through the sandbox's API as themselves; devel is protected, so GitHub itself refuses
a merge that the merge rules fail. The demo exits non-zero when an outcome differs from what the
release process expects.

It prints the release as a story: each step says who did what ("rita (RTE) comments /cut-rc 1.5 on
#3"), what the bot answered, and each outcome checked. `--verbose` adds, after each step, the webhooks
the sandbox delivered and the bot's calls to the API.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

from bot.rules.names import label_names
from bot.sandbox import seed
from bot.sandbox.common import HOOKS
from bot.sandbox.harness import World, start_world

ORG = "acme"
REPO = "shop"
FULL = f"{ORG}/{REPO}"

CONFIG = """\
branches:
  devel: devel
  production: production
roles:
  qa: ["@acme/qa"]
  rte: ["@acme/release-engineers"]
  pdm: ["@acme/product"]
gate:
  required_checks:
    - {name: sanity, app: acme-ci}
    - {name: nightly, app: acme-ci}
    - regression
  require_signoff: true
release:
  handoff: ["@acme/rops", "@acme/frontend"]
  on_rc_created:
    - workflow: build-images.yml
      inputs: {version: "{version}", sha: "{sha}"}
"""

BUILD_WORKFLOW = """\
name: Build images
on:
  workflow_dispatch:
    inputs:
      version: {required: true}
      sha: {required: true}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo "quay.io/acme/shop:${{ inputs.version }}"
"""

# Who plays whom: (the role as a step names it, what the role is).
PEOPLE = {
    "alice": ("org admin", "owns the organisation and the repository"),
    "rita": ("RTE", "release train engineer"),
    "quinn": ("QA", "QA engineer"),
    "pam": ("PdM", "product manager"),
    "dev": ("developer", "writes the features and fixes"),
    "olga": ("ROPS", "operations, deploys production"),
    "fred": ("front-end", "front-end team"),
    "acme-ci": ("CI", "the team's CI app"),
}


_LINK = re.compile(r"\[([^\]]+)\]\((?:https?://[^)\s]+)\)")


def counted(n: int, one: str, many: str | None = None) -> str:
    """ "1 write", "3 writes"."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


class Demo:
    def __init__(self, world: World, *, quiet: bool = False, verbose: bool = False) -> None:
        self.world = world
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.failures: list[str] = []
        self.passed = 0
        self._delivery_mark = 0
        self._request_mark = 0

    # narration ----------------------------------------------------------------------------
    def say(self, text: str) -> None:
        print(text, flush=True)

    def act(self, who: str, text: str) -> None:
        """One step of the story: who did what ("rita (RTE) comments /cut-rc 1.5 on #3")."""
        role = PEOPLE[who][0] if who in PEOPLE else ""
        self.say(f"\n▶ {who}{f' ({role})' if role else ''} {text}")

    def expect(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
            self.say(f"  ✔ {what}")
        else:
            self.failures.append(what)
            self.say(f"  ✘ {what}")

    async def settle(self) -> None:
        await self.world.settle()
        hooks = self.world.app[HOOKS]
        new = hooks.deliveries[self._delivery_mark :]
        self._delivery_mark = len(hooks.deliveries)
        calls = self.world.app_requests(since=self._request_mark)
        self._request_mark = self.world.last_seq()
        if not self.verbose:
            return
        if new:
            names = []
            for record in new:
                action = record.get("action")
                names.append(f"{record['event']}.{action}" if action else record["event"])
            acknowledged = all(200 <= r["status_code"] < 300 for r in new)
            self.say(
                f"  · webhooks → bot: {', '.join(names)} ({'all 202' if acknowledged else 'NOT all acknowledged'})"
            )
        writes = [c for c in calls if c["method"] != "GET"]
        if calls:
            shown = ", ".join(f"{c['method']} {c['path'].replace('/repos/' + FULL, '')}" for c in writes[:8])
            more = f" (+{len(writes) - 8} more)" if len(writes) > 8 else ""
            self.say(
                f"  · bot → GitHub: {counted(len(calls), 'call')}, {counted(len(writes), 'write')}"
                f"{': ' + shown if shown else ''}{more}"
            )

    # reading GitHub -----------------------------------------------------------------------
    async def get(self, path: str) -> Any:
        answer = await self.world.call("alice", "GET", f"/repos/{FULL}{path}")
        return answer.body if answer.status == 200 else None

    async def head(self, branch: str) -> str | None:
        ref = await self.get(f"/git/ref/heads/{branch}")
        return ref["object"]["sha"] if ref else None

    async def check(self, sha: str, name: str) -> dict[str, Any] | None:
        runs = await self.get(f"/commits/{sha}/check-runs?check_name={name}")
        mine = [r for r in (runs or {}).get("check_runs", []) if r["app"]["slug"] == "release-train"]
        return max(mine, key=lambda r: r["id"]) if mine else None

    async def check_state(self, sha: str, name: str) -> str:
        run = await self.check(sha, name)
        if run is None:
            return "missing"
        return run["conclusion"] if run["status"] == "completed" else run["status"]

    async def comments(self, number: int) -> list[dict[str, Any]]:
        return await self.get(f"/issues/{number}/comments?per_page=100") or []

    async def last_bot_comment(self, number: int) -> str:
        bodies = [c["body"] for c in await self.comments(number) if c["user"]["login"] == "release-train[bot]"]
        return bodies[-1] if bodies else ""

    async def labels(self, number: int) -> set[str]:
        issue = await self.get(f"/issues/{number}")
        return set(label_names(issue)) if issue else set()

    async def issues(self, labels: str, state: str = "open") -> list[dict[str, Any]]:
        found = await self.get(f"/issues?labels={labels}&state={state}&per_page=100") or []
        return [i for i in found if "pull_request" not in i]

    async def pulls(self, base: str, state: str = "open") -> list[dict[str, Any]]:
        return await self.get(f"/pulls?base={base}&state={state}&per_page=100") or []

    def show(self, text: str, indent: str = "    │ ", limit: int = 14) -> None:
        if self.quiet:
            return
        # A terminal shows a Markdown link as its text: `a680e8f`, not the commit's whole address.
        lines = [_LINK.sub(r"\1", line) for line in text.splitlines() if line.strip() and not line.startswith("<!--")]
        for line in lines[:limit]:
            self.say(indent + line)
        if len(lines) > limit:
            self.say(indent + f"… ({counted(len(lines) - limit, 'more line')})")

    # people acting ------------------------------------------------------------------------
    async def comment(self, who: str, number: int, body: str) -> None:
        self.act(who, f"comments {body} on #{number}")
        await seed.comment(self.world, who, FULL, number, body)
        await self.settle()

    async def ci(self, sha: str, name: str, conclusion: str = "success") -> None:
        self.act("acme-ci", f"reports {name}: {conclusion} on {sha[:7]}")
        answer = await self.world.call(
            None,
            "POST",
            f"/_sandbox/ci/{FULL}/check-runs",
            {
                "name": name,
                "head_sha": sha,
                "status": "completed",
                "conclusion": conclusion,
                "app_slug": "acme-ci",
            },
        )
        assert answer.status == 201, answer.body
        await self.settle()


async def setting_up(demo: Demo) -> None:
    world = demo.world
    demo.say("━━ Setting up: organisation acme, repository acme/shop, teams and the bot's config")
    demo.say("  people: " + ", ".join(f"{who} ({role}: {what})" for who, (role, what) in PEOPLE.items()))
    demo.act("alice", "creates acme/shop with devel and production, gives the team write access, makes the teams")
    await seed.create_org_repo(
        world,
        ORG,
        REPO,
        admin="alice",
        default_branch="devel",
        files={
            "README.md": "# Shop\n",
            "src/checkout.py": "def total(items):\n    return sum(i.price for i in items)\n",
            "src/banner.txt": "Welcome to the shop\n",
            ".github/workflows/build-images.yml": BUILD_WORKFLOW,
        },
    )
    await seed.create_branch(world, "alice", FULL, "production", "devel")
    for login in ("rita", "quinn", "pam", "dev", "olga", "fred"):
        await seed.grant(world, FULL, login, "write")
    for team, login in (
        ("qa", "quinn"),
        ("release-engineers", "rita"),
        ("product", "pam"),
        ("rops", "olga"),
        ("frontend", "fred"),
    ):
        await seed.add_team_member(world, ORG, team, login)
        # The config check looks each role's team up: it must exist and have access to the repository.
        await seed.give_team_access(world, ORG, team, FULL, "triage")
    demo.act("alice", "commits .github/release-train.yml to devel: roles, gate, hand-off, the image build")
    await seed.put_config(world, "alice", FULL, CONFIG)
    await demo.settle()
    demo.act("alice", "protects devel: release-train/merge-rules, from the Release Train app only, must pass to merge")
    await seed.protect_branch(world, FULL, "devel", checks=[("release-train/merge-rules", world.sandbox.config.app_id)])
    protection = await world.call("alice", "GET", f"/repos/{FULL}/branches/devel/protection")
    demo.expect(protection.status == 200, "devel is protected")


async def feature_work(demo: Demo) -> None:
    world = demo.world
    demo.say("\n━━ 1. Feature work on an FR branch, kept out of devel until it is complete and signed off")
    await seed.create_branch(world, "dev", FULL, "fr/FR-7-coupons", "devel")
    await seed.commit(
        world,
        "dev",
        FULL,
        "fr/FR-7-coupons",
        {"src/coupons.py": "def apply(total, code):\n    return total\n"},
        "FR-7: coupon scaffold",
    )
    await seed.create_branch(world, "dev", FULL, "FR-7-percent-off", "fr/FR-7-coupons")
    await seed.commit(
        world,
        "dev",
        FULL,
        "FR-7-percent-off",
        {"src/coupons.py": "def apply(total, code):\n    return total * 0.9 if code == 'TEN' else total\n"},
        "FR-7: percent-off coupons",
    )
    demo.act(
        "dev",
        "pushes fr/FR-7-coupons and FR-7-percent-off, opens a child PR into the FR branch and the FR's PR into devel",
    )
    child = await seed.open_pr(
        world, "dev", FULL, head="FR-7-percent-off", base="fr/FR-7-coupons", title="FR-7: percent-off coupons"
    )
    fr_pr = await seed.open_pr(world, "dev", FULL, head="fr/FR-7-coupons", base="devel", title="FR-7: coupons")
    await demo.settle()
    fr_head = fr_pr["head"]["sha"]
    run = await demo.check(fr_head, "release-train/merge-rules")
    demo.expect(
        run is not None and run.get("conclusion") == "failure",
        "the FR's PR into devel is blocked by release-train/merge-rules",
    )
    if run:
        demo.say(f"    │ {run['output']['title']}")
    demo.expect(
        await demo.check_state(child["head"]["sha"], "release-train/merge-rules") == "success",
        "the child PR names the FR's ticket and passes",
    )
    demo.act("dev", f"tries to merge the FR's PR #{fr_pr['number']} into devel anyway")
    devel_before = await demo.head("devel")
    refused = await world.call("dev", "PUT", f"/repos/{FULL}/pulls/{fr_pr['number']}/merge", {"merge_method": "merge"})
    message = refused.body.get("message", "") if isinstance(refused.body, dict) else ""
    demo.expect(
        refused.status == 405 and "release-train/merge-rules" in message and await demo.head("devel") == devel_before,
        "GitHub refuses the merge: devel's protection requires release-train/merge-rules",
    )
    demo.show(message, limit=2)

    demo.act("dev", f"merges the child PR #{child['number']} into the FR branch")
    await seed.merge_pr(world, "dev", FULL, child["number"], "merge")
    await demo.settle()
    fr_head = await demo.head("fr/FR-7-coupons") or ""
    run = await demo.check(fr_head, "release-train/merge-rules")
    demo.expect(
        run is not None
        and run.get("conclusion") == "failure"
        and "ready" in (run["output"]["title"] + run["output"]["summary"]).lower(),
        "still blocked: the FR has no ready sign-off",
    )

    demo.act("dev", f"labels #{fr_pr['number']} fr/ready, though only PdM or the RTE may")
    await seed.add_labels(world, "dev", FULL, fr_pr["number"], "fr/ready")
    await demo.settle()
    demo.expect(
        "fr/ready" not in await demo.labels(fr_pr["number"]), "the bot removed fr/ready: only PdM or RTE may apply it"
    )
    demo.show(await demo.last_bot_comment(fr_pr["number"]), limit=3)

    demo.act("pam", f"signs off the FR: labels #{fr_pr['number']} fr/ready")
    await seed.add_labels(world, "pam", FULL, fr_pr["number"], "fr/ready")
    await demo.settle()
    demo.expect(
        await demo.check_state(fr_head, "release-train/merge-rules") == "success",
        "merge-rules passes: no open child PR, up to date, signed off",
    )

    demo.act("rita", f"merges the FR #{fr_pr['number']} into devel")
    await seed.merge_pr(world, "rita", FULL, fr_pr["number"], "merge")
    await demo.settle()


async def cut_rc(demo: Demo) -> int:
    world = demo.world
    demo.say("\n━━ 2. The RTE cuts rc/1.5 from devel; the image build is dispatched")
    planning = (await world.call("rita", "POST", f"/repos/{FULL}/issues", {"title": "Plan the 1.5 release"})).body
    demo.act("rita", f'opens #{planning["number"]} "Plan the 1.5 release"')
    await demo.settle()
    await demo.comment("dev", planning["number"], "/cut-rc 1.5")
    demo.expect(
        await demo.head("rc/1.5") is None and "RTE" in await demo.last_bot_comment(planning["number"]),
        "a developer's /cut-rc is refused politely, naming the RTE role",
    )
    demo.show(await demo.last_bot_comment(planning["number"]), limit=2)
    await demo.comment("rita", planning["number"], "/cut-rc 1.5")
    rc_head = await demo.head("rc/1.5")
    demo.expect(rc_head is not None and rc_head == await demo.head("devel"), "rc/1.5 was created at devel's head")
    demo.show(await demo.last_bot_comment(planning["number"]))
    tracking = await demo.issues("release-train")
    demo.expect(
        len(tracking) == 1 and tracking[0]["title"] == "Release 1.5", 'the tracking issue "Release 1.5" was opened'
    )
    runs = await world.call(None, "GET", f"/_sandbox/dispatches/{FULL}")
    dispatched = runs.body.get("workflow_dispatches", []) if runs.status == 200 else []
    demo.expect(
        any("build-images" in str(r) and "1.5" in str(r) and (rc_head or "-") in str(r) for r in dispatched),
        "build-images.yml was dispatched with version 1.5 and the RC's sha",
    )
    demo.expect(
        await demo.check_state(rc_head or "", "release-train/gate") in ("failure", "in_progress", "queued"),
        "the gate on the RC head is not passing yet",
    )
    return int(tracking[0]["number"]) if tracking else 0


async def regression_cycle(demo: Demo, tracking: int) -> None:
    world = demo.world
    demo.say("\n━━ 3. Sanity and nightly pass, regression fails, and a new bug starts the cycle again")
    rc_head = await demo.head("rc/1.5") or ""
    await demo.ci(rc_head, "sanity")
    await demo.ci(rc_head, "nightly")
    await demo.comment("quinn", tracking, "/regression fail Discount codes are ignored at checkout")
    bugs = await demo.issues("release-blocker,rc/1.5")
    demo.expect(
        len(bugs) == 1 and "bug" in label_names(bugs[0]),
        "a blocker bug labeled bug, release-blocker and rc/1.5 was opened",
    )
    gate = await demo.check(rc_head, "release-train/gate")
    demo.expect(
        gate is not None and gate.get("conclusion") == "failure",
        "the gate fails: regression failed and a blocker is open",
    )
    if gate:
        demo.say(f"    │ {gate['output']['title']}")
    bug = bugs[0]["number"] if bugs else 0

    demo.say("\n━━ 4. The fix: merged into devel, verified by QA, picked into rc/1.5 by the bot")
    await seed.create_branch(world, "dev", FULL, "fix/discounts", "devel")
    await seed.commit(
        world,
        "dev",
        FULL,
        "fix/discounts",
        {
            "src/checkout.py": "def total(items, discount=0.0):\n    return sum(i.price for i in items) * (1 - discount)\n",
        },
        f"Apply discount codes at checkout (fixes #{bug})",
    )
    fix = await seed.open_pr(
        world,
        "dev",
        FULL,
        head="fix/discounts",
        base="devel",
        title="Apply discount codes at checkout",
        body=f"Fixes #{bug}",
    )
    demo.act(
        "dev",
        f'opens #{fix["number"]} "Apply discount codes at checkout" (Fixes #{bug}), labels it cherry-pick/1.5 '
        "and squash-merges it into devel once merge-rules passes",
    )
    await seed.add_labels(world, "dev", FULL, fix["number"], "cherry-pick/1.5")
    await demo.settle()
    await seed.merge_pr(world, "dev", FULL, fix["number"], "squash")
    await demo.settle()
    demo.expect(not await demo.pulls("rc/1.5"), "no pick yet: QA has not verified the fix")
    demo.act("dev", f"labels #{fix['number']} qa/verified, though only QA may")
    await seed.add_labels(world, "dev", FULL, fix["number"], "qa/verified")
    await demo.settle()
    demo.expect(
        "qa/verified" not in await demo.labels(fix["number"]) and not await demo.pulls("rc/1.5"),
        "the bot removed qa/verified (only QA may apply it) and picked nothing",
    )
    demo.act("quinn", f"verifies the fix: labels #{fix['number']} qa/verified")
    await seed.add_labels(world, "quinn", FULL, fix["number"], "qa/verified")
    await demo.settle()
    picks = await demo.pulls("rc/1.5")
    demo.expect(
        len(picks) == 1 and picks[0]["title"].startswith("[rc/1.5]"), "the bot opened the cherry-pick PR into rc/1.5"
    )
    demo.expect(
        bool(picks) and f"Fixes in the source PR: #{bug}" in (picks[0]["body"] or ""),
        f"the pick PR names the bug it fixes, #{bug}, as a plain reference (no closing keyword into an RC)",
    )
    if picks:
        demo.say(f"    │ #{picks[0]['number']} {picks[0]['title']} ({picks[0]['head']['ref']})")
        demo.show(picks[0]["body"] or "", limit=2)

    demo.say("\n━━ 5. A pick that conflicts tells the developer exactly how to finish by hand")
    await seed.create_branch(world, "dev", FULL, "chore/banner-1.6", "devel")
    await seed.commit(
        world,
        "dev",
        FULL,
        "chore/banner-1.6",
        {"src/banner.txt": "Welcome to the shop — 1.6 preview\n"},
        "Banner for 1.6 development",
    )
    preview = await seed.open_pr(
        world, "dev", FULL, head="chore/banner-1.6", base="devel", title="Banner for 1.6 development"
    )
    await demo.settle()
    demo.act("dev", f'merges #{preview["number"]} "Banner for 1.6 development" into devel (rc/1.5 does not get it)')
    await seed.merge_pr(world, "dev", FULL, preview["number"], "merge")
    await seed.create_branch(world, "dev", FULL, "fix/banner", "devel")
    await seed.commit(
        world,
        "dev",
        FULL,
        "fix/banner",
        {"src/banner.txt": "Welcome to the shop - 1.6 preview!\n"},
        "Fix the banner's punctuation",
    )
    banner = await seed.open_pr(
        world, "dev", FULL, head="fix/banner", base="devel", title="Fix the banner's punctuation"
    )
    await demo.settle()
    demo.act("dev", f'merges #{banner["number"]} "Fix the banner\'s punctuation" into devel')
    await seed.merge_pr(world, "dev", FULL, banner["number"], "merge")
    demo.act("quinn", f"verifies it: labels #{banner['number']} qa/verified")
    await seed.add_labels(world, "quinn", FULL, banner["number"], "qa/verified")
    await demo.settle()
    demo.act("dev", f"asks for it in 1.5: comments /cherry-pick 1.5 on #{banner['number']}")
    await seed.comment(world, "dev", FULL, banner["number"], "/cherry-pick 1.5")
    await demo.settle()
    labels = await demo.labels(banner["number"])
    conflict_note = "\n".join(
        c["body"] for c in await demo.comments(banner["number"]) if "git cherry-pick" in c["body"]
    )
    demo.expect(
        "cherry-pick-conflict" in labels
        and "git cherry-pick -x" in conflict_note
        and "src/banner.txt" in conflict_note,
        "the conflict is labeled and explained: exact commands and the files both sides changed",
    )
    demo.show(conflict_note, limit=16)
    demo.act("dev", "decides the banner fix is not needed in 1.5 and removes cherry-pick/1.5")
    await seed.remove_label(world, "dev", FULL, banner["number"], "cherry-pick/1.5")
    await demo.settle()

    demo.say("\n━━ 6. The pick is merged, the bug closed, and the RC re-validated on its new head")
    if picks:
        demo.act("rita", f"merges the pick #{picks[0]['number']} into rc/1.5")
        await seed.merge_pr(world, "rita", FULL, picks[0]["number"], "squash")
        await demo.settle()
    new_head = await demo.head("rc/1.5") or ""
    demo.expect(
        new_head != rc_head and await demo.check_state(new_head, "release-train/gate") == "failure",
        "the new RC head starts over: the gate asks for sanity, nightly and regression again",
    )
    demo.act("quinn", f"closes the bug #{bug}: fixed on the new RC head")
    await world.call("quinn", "PATCH", f"/repos/{FULL}/issues/{bug}", {"state": "closed", "state_reason": "completed"})
    await demo.settle()
    await demo.ci(new_head, "sanity")
    await demo.ci(new_head, "nightly")
    await demo.comment("quinn", tracking, "/regression pass")
    await demo.comment("pam", tracking, "/signoff")
    run = await demo.check(new_head, "release-train/gate")
    demo.expect(run is not None and run.get("conclusion") == "success", "the gate passes on the RC head")
    if run:
        demo.show(run["output"]["summary"], limit=10)


async def promote(demo: Demo, tracking: int) -> None:
    world = demo.world
    demo.say("\n━━ 7. Promotion and hand-off to operations")
    await demo.comment("dev", tracking, "/promote")
    tag = await world.call("alice", "GET", f"/repos/{FULL}/git/ref/tags/v1.5.0")
    demo.expect(
        tag.status == 404 and "RTE" in await demo.last_bot_comment(tracking),
        "a developer's /promote is refused, naming the RTE role",
    )
    demo.show(await demo.last_bot_comment(tracking), limit=2)
    head = await demo.head("rc/1.5")
    await demo.comment("rita", tracking, "/promote")
    release = await demo.get("/releases/tags/v1.5.0")
    demo.expect(release is not None, "release v1.5.0 was published")
    tag_ref = await world.call("alice", "GET", f"/repos/{FULL}/git/ref/tags/v1.5.0")
    tag_sha = None
    if tag_ref.status == 200:
        tag_object = tag_ref.body["object"]
        if tag_object["type"] == "tag":
            tag_sha = (await demo.get(f"/git/tags/{tag_object['sha']}"))["object"]["sha"]
        else:
            tag_sha = tag_object["sha"]
    demo.expect(tag_sha == head, "the tag v1.5.0 points at the evaluated RC head")
    demo.expect(await demo.head("production") == head, "the production branch was fast-forwarded")
    deployments = await demo.get("/deployments?environment=production") or []
    demo.expect(any(d["sha"] == head for d in deployments), "a production deployment was created for the RC head")
    handoff = "\n".join(
        c["body"]
        for c in await demo.comments(tracking)
        if c["user"]["login"] == "release-train[bot]" and "@acme/rops" in c["body"]
    )
    demo.expect(
        "@acme/rops" in handoff and "@acme/frontend" in handoff,
        "ROPS and the front-end team were handed the deployment",
    )
    demo.show(handoff, limit=8)
    demo.expect("released" in await demo.labels(tracking), "the tracking issue is labeled released")
    if release and not demo.failures:
        demo.say("\nRelease v1.5.0 promoted.")


async def play_story(demo: Demo) -> int:
    """The whole release, phase by phase; the tracking issue's number (0 when the story stopped before it)."""
    tracking = 0
    try:
        await setting_up(demo)
        await feature_work(demo)
        tracking = await cut_rc(demo)
        await regression_cycle(demo, tracking)
        await promote(demo, tracking)
    except (TimeoutError, AssertionError, aiohttp.ClientError) as exc:
        demo.failures.append(f"the demo could not go on: {exc}")
        demo.say(f"  ✘ the demo could not go on: {exc}")
    return tracking


async def play(quiet: bool = False, state_dir: Path | None = None, keep: bool = False, verbose: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="release-train-demo-") as tmp:
        root = Path(state_dir) if state_dir else Path(tmp)
        async with aiohttp.ClientSession() as session:
            world = await start_world(root, session=session)
            demo = Demo(world, quiet=quiet, verbose=verbose)
            demo.say(f"Sandbox GitHub at {world.api_url}, bot at {world.bot_url}")
            try:
                tracking = await play_story(demo)
                report(demo)
                if keep:
                    await keep_running(world, tracking)
            finally:
                await world.close()
    return 0 if not demo.failures else 1


def report(demo: Demo) -> None:
    print(f"\n{demo.passed} outcomes as expected, {len(demo.failures)} not.", flush=True)
    for failure in demo.failures:
        print(f"  ✘ {failure}", flush=True)


async def keep_running(world: World, tracking: int) -> None:
    """--keep: the sandbox and the bot go on serving until SIGINT or SIGTERM; the link to open is printed."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    page = f"/{FULL}/issues/{tracking}" if tracking else f"/{FULL}"
    print(f"\nOpen {world.api_url}/_html{page} (the release's tracking issue, in the sandbox's web view).", flush=True)
    print(f"The sandbox's API is {world.api_url} (Authorization: token <login>); Ctrl-C stops it.", flush=True)
    await stop.wait()


def run(args: argparse.Namespace) -> int:
    return asyncio.run(
        play(
            quiet=getattr(args, "quiet", False),
            keep=getattr(args, "keep", False),
            verbose=getattr(args, "verbose", False),
        )
    )


if __name__ == "__main__":
    sys.exit(run(argparse.Namespace(quiet=False, verbose="--verbose" in sys.argv)))
