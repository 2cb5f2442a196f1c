"""`release-train sandbox --seed example`: a world to try the bot in, made through the sandbox's API as its people.

The organisation `acme` with the teams `qa`, `rte`, `pdm`, `rops` and `fe`, and the repository
`acme/shop`: `devel` (protected, so that `release-train/merge-rules` must pass), `production`, the
config (the example's, or the person's own file), an RC `rc/1.4` cut by the bot itself through
`/cut-rc 1.4` (so it holds the bot's record and tracking issue), and an FR branch ready for a first PR.
The bot runs while the world is seeded, so that what it would have done is done.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.sandbox import seed
from bot.sandbox.harness import World

ORG = "acme"
REPO = "shop"
FULL = f"{ORG}/{REPO}"
FR_BRANCH = "fr/FR-9-gift-cards"

CONFIG = """\
branches:
  devel: devel
  production: production
roles:
  qa: ["@acme/qa"]
  rte: ["@acme/rte"]
  pdm: ["@acme/pdm"]
gate:
  required_checks:
    - {name: sanity, app: acme-ci}
    - {name: nightly, app: acme-ci}
    - regression
release:
  handoff: ["@acme/rops", "@acme/fe"]
"""

# login -> (team, what they do); alice owns the organisation.
PEOPLE = {
    "rita": ("rte", "release train engineer"),
    "quinn": ("qa", "QA engineer"),
    "pam": ("pdm", "product manager"),
    "olga": ("rops", "operations"),
    "fred": ("fe", "front-end"),
    "dev": (None, "developer"),
}


@dataclass(frozen=True)
class Seeded:
    full_name: str
    rc_branch: str
    tracking_issue: int
    fr_branch: str
    already: bool  # the state dir held this world from an earlier run


async def seed_example(world: World, config_text: str | None = None) -> Seeded:
    """Make the example world (once per state dir); config_text replaces the example's config."""
    repo = await world.call("alice", "GET", f"/repos/{FULL}")
    if repo.status == 200:
        return Seeded(FULL, "rc/1.4", await _tracking_issue(world), FR_BRANCH, already=True)
    await seed.create_org_repo(
        world,
        ORG,
        REPO,
        admin="alice",
        default_branch="devel",
        files={
            "README.md": "# Shop\n\nThe example repository of the Release Train sandbox.\n",
            "src/checkout.py": "def total(items):\n    return sum(i.price for i in items)\n",
        },
    )
    await seed.create_branch(world, "alice", FULL, "production", "devel")
    for login, (team, _) in PEOPLE.items():
        await seed.grant(world, FULL, login, "write")
        if team:
            await seed.add_team_member(world, ORG, team, login)
    await seed.put_config(world, "alice", FULL, config_text if config_text is not None else CONFIG)
    await seed.protect_branch(world, FULL, "devel", checks=[("release-train/merge-rules", world.sandbox.config.app_id)])
    await world.settle()
    planning = await world.call("rita", "POST", f"/repos/{FULL}/issues", {"title": "Plan the 1.4 release"})
    await seed.comment(world, "rita", FULL, planning.body["number"], "/cut-rc 1.4")
    await world.settle()
    await seed.create_branch(world, "dev", FULL, FR_BRANCH, "devel")
    await seed.commit(
        world,
        "dev",
        FULL,
        FR_BRANCH,
        {"src/gift_cards.py": "def redeem(total, card):\n    return max(0, total - card.balance)\n"},
        "FR-9: gift cards",
    )
    await world.settle()
    return Seeded(FULL, "rc/1.4", await _tracking_issue(world), FR_BRANCH, already=False)


async def _tracking_issue(world: World) -> int:
    found = await world.call("alice", "GET", f"/repos/{FULL}/issues?labels=release-train&state=all")
    numbers = [i["number"] for i in found.body or [] if "pull_request" not in i] if found.status == 200 else []
    return min(numbers) if numbers else 0
