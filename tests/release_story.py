"""The release story the RC tests tell: acme/app and its people, cutting an RC, reading its gate, and what /promote needs."""

from __future__ import annotations

from typing import Any

from bot.rules.release_state import ReleaseRecord, decode_record
from bot.sandbox import seed
from bot.sandbox.harness import World

ORG, NAME = "acme", "app"
FULL = f"{ORG}/{NAME}"
BOT = "release-train[bot]"
RELEASE_REPO_CONFIG = """\
roles:
  qa: [quinn]
  rte: [rita]
  pdm: [pam]
gate:
  required_checks: [sanity, regression]
release:
  handoff: ["@acme/rops", "@acme/fe"]
"""
# What /promote needs; the promote and people-text stories promote with it.
PROMOTE_CONFIG = """\
roles:
  qa: [quinn]
  rte: [rita]
  pdm: [pam]
branches:
  production: production
gate:
  required_checks:
    - {name: sanity, app: ci}
    - nightly
    - {name: regression, app: release-train}
  require_signoff: true
release:
  handoff: ["@acme/rops", "@acme/fe"]
"""


async def release_repo(world: World, config: str = RELEASE_REPO_CONFIG) -> None:
    """acme/app on devel; RTE rita, QA quinn, PdM pam, developer dana; rc/1.4 cut and promoted as v1.4.0."""
    await seed.create_org_repo(
        world, ORG, NAME, admin="alice", files={"app.py": "x = 1\n", "README.md": "# app\n"}, default_branch="devel"
    )
    await seed.put_config(world, "alice", FULL, config)
    for login in ("dana", "quinn", "rita", "pam", "olga"):
        await seed.grant(world, FULL, login, "write")
    sha = await seed.create_branch(world, "alice", FULL, "rc/1.4", "devel")
    await tag(world, "v1.4.0", sha)
    await world.settle()


async def tag(world: World, name: str, sha: str, login: str = "alice") -> None:
    """login makes an annotated tag at sha."""
    made = await world.call(
        login, "POST", f"/repos/{FULL}/git/tags", {"tag": name, "message": name, "object": sha, "type": "commit"}
    )
    assert made.status == 201, made.body
    ref = await world.call(
        login, "POST", f"/repos/{FULL}/git/refs", {"ref": f"refs/tags/{name}", "sha": made.body["sha"]}
    )
    assert ref.status == 201, ref.body


async def say(world: World, login: str, number: int, body: str) -> dict[str, Any]:
    """login comments a command, and the bot finishes everything it causes."""
    made = await seed.comment(world, login, FULL, number, body)
    await world.settle()
    return made


async def reply_to(world: World, number: int, comment: dict[str, Any]) -> str:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")
    key = f"<!-- release-train:reply:{comment['id']}:"
    replies = [c["body"] for c in answer.body if key in c["body"]]
    assert len(replies) == 1, [c["body"] for c in answer.body]
    return replies[0]


async def tracking_issues(world: World) -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues?labels=release-train&state=all&per_page=100")
    return sorted(answer.body, key=lambda i: i["number"])


async def gate_run(world: World, sha: str) -> dict[str, Any] | None:
    """The bot's own gate run on sha (another app may post a run of the same name; it is not the gate)."""
    answer = await world.call("alice", "GET", f"/repos/{FULL}/commits/{sha}/check-runs?check_name=release-train/gate")
    runs = [r for r in answer.body["check_runs"] if r["app"]["slug"] == "release-train"]
    return max(runs, key=lambda r: r["id"]) if runs else None


async def gate_rows(world: World, sha: str) -> dict[str, str]:
    """requirement -> the state icon's word, read back from the gate check's summary table."""
    run = await gate_run(world, sha)
    assert run is not None
    rows = {}
    for line in run["output"]["summary"].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) >= 2 and cells[0] not in ("requirement", "---"):
            icon = cells[1].split(" ", 1)[0]
            rows[cells[0]] = {"✅": "pass", "❌": "fail", "⏳": "pending", "ℹ️": "info"}.get(icon, icon)
    return rows


async def new_issue(world: World, login: str = "dana", title: str = "Where we talk") -> int:
    answer = await world.call(login, "POST", f"/repos/{FULL}/issues", {"title": title})
    assert answer.status == 201, answer.body
    return int(answer.body["number"])


async def cut(world: World, args: str = "") -> tuple[int, dict[str, Any]]:
    """rita cuts an RC from a fresh issue; (that issue, her comment)."""
    number = await new_issue(world)
    made = await say(world, "rita", number, f"/cut-rc {args}".strip())
    return number, made


def labels_of(issue: dict[str, Any]) -> set[str]:
    return {label["name"] for label in issue["labels"]}


async def ci_check(world: World, sha: str, name: str, conclusion: str = "success", app: str = "ci") -> None:
    answer = await world.call(
        None,
        "POST",
        f"/_sandbox/ci/{FULL}/check-runs",
        {"name": name, "head_sha": sha, "status": "completed", "conclusion": conclusion, "app_slug": app},
    )
    assert answer.status == 201, answer.body
    await world.settle()


async def status(world: World, login: str, sha: str, context: str, state: str = "success") -> None:
    answer = await world.call(login, "POST", f"/repos/{FULL}/statuses/{sha}", {"state": state, "context": context})
    assert answer.status == 201, answer.body
    await world.settle()


async def gate_state(world: World, sha: str) -> str:
    run = await gate_run(world, sha)
    assert run is not None
    return run["conclusion"] if run["status"] == "completed" else run["status"]


async def all_green(world: World, number: int, head: str) -> None:
    """Every requirement of a gate like PROMOTE_CONFIG's met on head: CI's sanity, a nightly status, QA's pass, the sign-off."""
    await ci_check(world, head, "sanity")
    await status(world, "dana", head, "nightly")
    await say(world, "quinn", number, "/regression pass")
    await say(world, "pam", number, "/signoff")


async def release_record(world: World, version: str) -> ReleaseRecord | None:
    """The bot's record of an RC, read as any reader would: from the bot's check run on the RC head."""
    head = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/{version}")).body["object"]["sha"]
    answer = await world.call(
        "alice", "GET", f"/repos/{FULL}/commits/{head}/check-runs?check_name=release-train/release&filter=all"
    )
    mine = [r for r in answer.body["check_runs"] if r["app"]["slug"] == "release-train" and r["external_id"] == version]
    if not mine:
        return None
    return decode_record(max(mine, key=lambda r: r["id"])["output"]["text"])


async def green_rc(world: World) -> tuple[int, str]:
    """rc/1.5 cut under PROMOTE_CONFIG, production at v1.4.0, every gate requirement met; (tracking issue, head)."""
    await release_repo(world, PROMOTE_CONFIG)
    v140 = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.4")).body["object"]["sha"]
    await seed.create_branch(world, "alice", FULL, "production", v140)
    await seed.commit(world, "dana", FULL, "devel", {"search.py": "def search(): ...\n"}, "Search (#7)")
    await world.settle()
    await cut(world)
    [issue] = await tracking_issues(world)
    head = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/rc/1.5")).body["object"]["sha"]
    await all_green(world, int(issue["number"]), head)
    assert await gate_state(world, head) == "success"
    return int(issue["number"]), head
