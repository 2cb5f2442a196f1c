"""Attack stories through the sandbox: the production environment's custom rule runs only what /promote promoted with a green gate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World
from release_story import FULL, green_rc, reply_to, say, tag


async def guarded(world: World) -> tuple[int, str]:
    """A green rc/1.5, and the production environment guarded by Release Train's deployment protection rule."""
    number, head = await green_rc(world)
    await seed.require_app_for_environment(world, FULL, "production", world.sandbox.config.app_id)
    return number, head


async def deploy(world: World, ref: str, environment: str = "production") -> dict[str, Any]:
    """ROPS's deploy workflow runs a job with `environment:`; the job as it ended (or waits)."""
    played = await world.call(
        None, "POST", f"/_sandbox/actions/{FULL}/deployments", {"environment": environment, "ref": ref, "actor": "dana"}
    )
    assert played.status == 201, played.body
    await world.settle()
    job = await world.call(None, "GET", f"/_sandbox/actions/{FULL}/runs/{played.body['run']['id']}")
    return dict(job.body)


def answered(job: dict[str, Any]) -> tuple[str, str, str]:
    """(the rule's answer, the run's conclusion, the rule's comment)."""
    [gate] = job["gates"]
    return gate["state"], str(job["run"]["conclusion"]), " ".join(gate["comments"])


async def test_production_never_runs_a_commit_release_train_did_not_promote(world: World) -> None:
    number, head = await guarded(world)
    # the RC head is green, but nobody promoted it
    state, conclusion, comment = answered(await deploy(world, head))
    assert (state, conclusion) == ("rejected", "failure") and "not a release Release Train promoted" in comment
    # a developer's own release tag on it changes nothing
    await tag(world, "v1.5.9", head, login="dana")
    state, conclusion, comment = answered(await deploy(world, "v1.5.9"))
    assert (state, conclusion) == ("rejected", "failure") and "v1.5.9" in comment
    # a commit that never was an RC
    devel = (await world.call("alice", "GET", f"/repos/{FULL}/git/ref/heads/devel")).body["object"]["sha"]
    assert answered(await deploy(world, devel))[:2] == ("rejected", "failure")

    # control: an admin deletes dana's tag (it stops /promote too), the RTE promotes the head, and the job runs
    assert (await world.call("alice", "DELETE", f"/repos/{FULL}/git/refs/tags/v1.5.9")).status == 204
    await world.settle()
    made = await say(world, "rita", number, "/promote")
    assert "as `v1.5.0`" in await reply_to(world, number, made)
    job = await deploy(world, "v1.5.0")
    state, conclusion, comment = answered(job)
    assert (state, conclusion) == ("approved", "success") and "v1.5.0" in comment
    assert job["deployment_statuses"][-1] == "success"


async def test_a_promoted_release_whose_gate_turned_red_does_not_deploy(world: World) -> None:
    number, head = await guarded(world)
    await say(world, "rita", number, "/promote")
    assert answered(await deploy(world, head))[:2] == ("approved", "success")  # control
    # a blocker bug is opened against the RC: its gate fails, and so does the next deploy
    bug = await world.call(
        "quinn", "POST", f"/repos/{FULL}/issues", {"title": "Payments fail", "labels": ["release-blocker", "rc/1.5"]}
    )
    assert bug.status == 201
    await world.settle()
    state, conclusion, comment = answered(await deploy(world, head))
    assert (state, conclusion) == ("rejected", "failure") and "gate is not green" in comment
    # a fix lands on the RC: its new head was never promoted
    fix = await seed.commit(world, "rita", FULL, "rc/1.5", {"app.py": "x = 15\n"}, "Fix payments (#30)")
    await world.settle()
    assert answered(await deploy(world, fix))[:2] == ("rejected", "failure")


async def test_other_environments_are_not_the_rules_to_guard(world: World) -> None:
    _number, head = await guarded(world)
    await seed.require_app_for_environment(world, FULL, "staging", world.sandbox.config.app_id)
    state, conclusion, comment = answered(await deploy(world, head, "staging"))
    assert (state, conclusion) == ("approved", "success") and "guards only `production`" in comment


def readme_calls() -> list[tuple[str, str, str]]:
    """(method, path, body) of the `gh api` calls in the README's "Guarding production deployments"."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("### Guarding production deployments", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    calls = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        found = re.match(r"gh api -X (\w+) '([^']+)' --input - <<JSON\n(.*)\nJSON\n?$", block, flags=re.S)
        assert found, f"not a gh api call this test can replay:\n{block}"
        calls.append((found[1], found[2], found[3]))
    return calls


async def test_the_readme_turns_the_rule_on(world: World) -> None:
    number, head = await green_rc(world)
    app_id = world.sandbox.config.app_id
    calls = readme_calls()
    assert [(m, p.rsplit("/", 1)[-1]) for m, p, _ in calls] == [
        ("PUT", "production"),
        ("POST", "deployment_protection_rules"),
    ]
    for method, path, body in calls:
        filled = "/" + path.replace("{owner}/{repo}", FULL)
        answer = await world.call("alice", method, filled, json.loads(body.replace("$APP_ID", str(app_id))))
        assert answer.status in (200, 201), (filled, answer.body)
    assert answered(await deploy(world, head))[:2] == ("rejected", "failure")
    await say(world, "rita", number, "/promote")
    assert answered(await deploy(world, head))[:2] == ("approved", "success")
