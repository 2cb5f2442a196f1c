"""The README's "Setting up the protection" as calls a test can replay: its `gh api` calls, made by the repository's admin."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World

ROOT = Path(__file__).resolve().parents[1]


def setup_calls() -> list[tuple[str, str, str]]:
    """(method, path, body text) of every `gh api` call in the README's "Setting up the protection"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("### Setting up the protection", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    calls = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        found = re.match(r"gh api -X (\w+) '([^']+)' --input - <<JSON\n(.*)\nJSON\n?$", block, flags=re.S)
        assert found, f"not a gh api call this test can replay:\n{block}"
        calls.append((found[1], found[2], found[3]))
    return calls


async def apply_readme_setup(world: World, full_name: str = "acme/app") -> list[dict[str, Any]]:
    """Every call of the section, made by alice (the admin of the stories' repositories)."""
    owner, repo = full_name.split("/")
    app_id = seed.app_id_of(world, "release-train")
    made = []
    for method, path, body in setup_calls():
        filled = "/" + path.replace("{owner}", owner).replace("{repo}", repo)
        answer = await world.call("alice", method, filled, json.loads(body.replace("$APP_ID", str(app_id))))
        assert answer.status == 201, (filled, answer.body)
        made.append(answer.body)
    return made
