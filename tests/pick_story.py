"""The cherry-pick story: acme/app with rc/1.5 cut from devel, a developer's fix PR, the picks and check the bot makes of it."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from bot.github.auth import GitHubApp
from bot.rules import cherry_pick as rules
from bot.sandbox import seed
from bot.sandbox.harness import WEBHOOK_SECRET, World

ORG, NAME = "acme", "app"
FULL = f"{ORG}/{NAME}"
TEXT = "".join(f"line {i}\n" for i in range(1, 21))
PICK_REPO_CONFIG = """\
roles:
  qa: [quinn]
  rte: [rita]
"""


async def release_repo(world: World) -> None:
    """acme/app with devel, rc/1.5 cut from it, QA = quinn, developer dana (write)."""
    await seed.create_org_repo(
        world,
        ORG,
        NAME,
        admin="alice",
        files={"a.txt": TEXT, "b.txt": "b\n", "README.md": "# app\n"},
        default_branch="devel",
    )
    await seed.put_config(world, "alice", FULL, PICK_REPO_CONFIG)
    for login in ("dana", "quinn", "erin", "rita"):
        await seed.grant(world, FULL, login, "write")
    await seed.create_branch(world, "alice", FULL, "rc/1.5", "devel")
    await world.settle()


async def pick_prs(world: World, rc_branch: str = "rc/1.5") -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/pulls?state=all&base={rc_branch}&per_page=100")
    assert answer.status == 200, answer.body
    return [p for p in answer.body if p["head"]["ref"].startswith("cherry-pick/")]


async def fix_pr(
    world: World, branch: str, files: dict[str, str | bytes | None], title: str = "Fix login", *, author: str = "dana"
) -> int:
    await seed.create_branch(world, author, FULL, branch, "devel")
    await seed.commit(world, author, FULL, branch, files, title)
    pr = await seed.open_pr(
        world, author, FULL, head=branch, base="devel", title=title, body="Fixes the @everyone login bug"
    )
    return int(pr["number"])


async def pull(world: World, number: int) -> dict[str, Any]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/pulls/{number}")
    assert answer.status == 200, answer.body
    return answer.body


async def comments(world: World, number: int) -> list[dict[str, Any]]:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/issues/{number}/comments?per_page=100")
    assert answer.status == 200, answer.body
    return answer.body


async def check_states(world: World, number: int) -> dict[str, rules.PickState]:
    head = (await pull(world, number))["head"]["sha"]
    answer = await world.call(
        "alice", "GET", f"/repos/{FULL}/commits/{head}/check-runs?check_name=release-train/cherry-pick"
    )
    assert answer.status == 200, answer.body
    runs = answer.body["check_runs"]
    if not runs:
        return {}
    latest = max(runs, key=lambda r: (r.get("started_at") or "", r["id"]))
    return rules.decode_states(latest["output"].get("text"))


async def send_again(world: World, event: str, payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
    }
    assert world.bot_url is not None
    async with world.session.post(world.bot_url, data=body, headers=headers) as resp:
        assert resp.status == 202, await resp.text()


def app_client(world: World):
    key = world.private_key()
    return GitHubApp(
        world.session, app_id=world.sandbox.config.app_id, private_key=key, base_url=world.api_url
    ).app_client()
