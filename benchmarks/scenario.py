"""A repository in the sandbox, set up for the benchmarks: teams, config, devel, an RC line, with the bot running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from bot.sandbox import seed
from bot.sandbox.harness import World, start_world

FULL = "acme/shop"
CONFIG = """\
roles:
  qa: ["@acme/qa"]
  rte: ["@acme/release-engineers"]
  pdm: ["@acme/product"]
branches:
  production: production
gate:
  required_checks:
    - {name: sanity, app: acme-ci}
    - {name: nightly, app: acme-ci}
    - regression
"""


async def start(root: Path, session: aiohttp.ClientSession) -> World:
    world = await start_world(root, session=session)
    await seed.create_org_repo(
        world,
        "acme",
        "shop",
        admin="alice",
        default_branch="devel",
        files={
            "README.md": "# Shop\n",
            "src/app.py": "VERSION = '1.0'\n",
            "src/banner.txt": "hello\n",
        },
    )
    await seed.create_branch(world, "alice", FULL, "production", "devel")
    for login in ("rita", "quinn", "pam", "dev"):
        await seed.grant(world, FULL, login, "write")
    for team, login in (("qa", "quinn"), ("release-engineers", "rita"), ("product", "pam")):
        await seed.add_team_member(world, "acme", team, login)
    await seed.put_config(world, "alice", FULL, CONFIG)
    await world.settle()
    return world


async def merged_fix(
    world: World, name: str, files_per_commit: list[dict[str, str]], method: str, target: str | None = "1.5"
) -> dict[str, Any]:
    """A fix branch with one commit per entry, a PR into devel with the target label, merged by `method`."""
    await seed.create_branch(world, "dev", FULL, name, "devel")
    for i, files in enumerate(files_per_commit):
        await seed.commit(world, "dev", FULL, name, files, f"{name}: step {i + 1}")
    pr = await seed.open_pr(world, "dev", FULL, head=name, base="devel", title=f"Fix {name}")
    if target:
        await seed.add_labels(world, "dev", FULL, pr["number"], f"cherry-pick/{target}")
    await seed.merge_pr(world, "dev", FULL, pr["number"], method)
    await world.settle()
    return pr


async def tracking_issue(world: World) -> int:
    issues = (await world.call("alice", "GET", f"/repos/{FULL}/issues?labels=release-train&state=open")).body
    return int(next(i for i in issues if "pull_request" not in i)["number"])


async def head(world: World, branch: str) -> str:
    return str((await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/{branch}")).body["object"]["sha"])


async def ci(world: World, sha: str, name: str, conclusion: str = "success") -> None:
    answer = await world.call(
        None,
        "POST",
        f"/_sandbox/ci/{FULL}/check-runs",
        {"name": name, "head_sha": sha, "status": "completed", "conclusion": conclusion, "app_slug": "acme-ci"},
    )
    assert answer.status == 201, answer.body
