"""`release-train sandbox --seed example`: the example world, made with the bot running, with the person's own config."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path

from bot.sandbox import example
from bot.sandbox.common import STORE
from bot.sandbox.harness import World

MINE = """\
roles:
  qa: ["@acme/qa"]
  rte: ["rita"]
gate:
  required_checks: [sanity]
"""


async def test_the_example_world_has_the_org_its_teams_devel_an_rc_the_bot_cut_and_the_config(world: World) -> None:
    made = await example.seed_example(world)
    st = world.app[STORE]
    assert st.find_user("acme")["type"] == "Organization"
    teams = {key: sorted(t["members"]) for key, t in st.data["teams"].items()}
    assert teams == {
        "acme/qa": ["quinn"],
        "acme/rte": ["rita"],
        "acme/pdm": ["pam"],
        "acme/rops": ["olga"],
        "acme/fe": ["fred"],
    }
    repo = (await world.call("dev", "GET", "/repos/acme/shop")).body
    assert repo["default_branch"] == "devel"
    branches = {b["name"] for b in (await world.call("dev", "GET", "/repos/acme/shop/branches")).body}
    assert branches == {"devel", "production", "rc/1.4", example.FR_BRANCH}
    assert (await world.call("dev", "GET", "/repos/acme/shop/branches/devel")).body["protected"] is True
    # The RC is the bot's: cut through /cut-rc, with its tracking issue and its record on the head.
    tracking = (await world.call("dev", "GET", f"/repos/acme/shop/issues/{made.tracking_issue}")).body
    assert tracking["title"] == "Release 1.4" and tracking["user"]["login"] == "release-train[bot]"
    rc_head = (await world.call("dev", "GET", "/repos/acme/shop/branches/rc/1.4")).body["commit"]["sha"]
    runs = (await world.call("dev", "GET", f"/repos/acme/shop/commits/{rc_head}/check-runs")).body["check_runs"]
    assert any(r["name"] == "release-train/release" and r["app"]["slug"] == "release-train" for r in runs)
    config = (await world.call("dev", "GET", "/repos/acme/shop/contents/.github/release-train.yml")).body
    assert base64.b64decode(config["content"]).decode() == example.CONFIG
    # Seeding the same state dir again finds the world and changes nothing.
    again = await example.seed_example(world)
    assert again.already and again.tracking_issue == made.tracking_issue


async def test_the_example_world_takes_the_persons_own_config(world: World) -> None:
    await example.seed_example(world, MINE)
    config = (await world.call("dev", "GET", "/repos/acme/shop/contents/.github/release-train.yml")).body
    assert base64.b64decode(config["content"]).decode() == MINE
    # Their config names rita alone as RTE, and the bot cut the RC under it.
    assert (await world.call("dev", "GET", "/repos/acme/shop/branches/rc/1.4")).status == 200


def test_a_broken_config_is_refused_with_its_line_before_anything_starts(tmp_path: Path) -> None:
    broken = tmp_path / "release-train.yml"
    broken.write_text("gate:\n  required_chekcs: [sanity]\n")
    state = tmp_path / "state"
    argv = [
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--seed",
        "example",
        "--config",
        str(broken),
        "--state-dir",
        str(state),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"--config: {broken}" in result.stderr and "line 2" in result.stderr, result.stderr
    assert not state.exists()
    missing = subprocess.run(
        [*argv[:-4], "--config", str(tmp_path / "nope.yml"), "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "nope.yml" in missing.stderr and not state.exists()
    alone = subprocess.run(
        [sys.executable, "-m", "bot", "sandbox", "--config", str(broken), "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alone.returncode == 2 and "--config goes with --seed example" in alone.stderr
