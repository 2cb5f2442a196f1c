"""The README's "Setting up the protection" holds: its `gh api` calls, replayed against the sandbox, put GitHub's enforcement in force.

Each call is parsed out of the README as `gh api` sends it (method, path with {owner}/{repo}
filled in, the JSON body with $APP_ID) and made by the repository's admin. Then the attacks
they stop are tried (a writer's push to an RC, another app's forged merge-rules, a writer's move of
production, a developer's release tag) next to the app's rightful cut, merge, fast-forward and tag.
"""

from __future__ import annotations

import json
from pathlib import Path

from bot.sandbox import seed
from bot.sandbox.harness import World
from sandbox_calls import as_app, installation_token
from security_setup import apply_readme_setup, setup_calls

ROOT = Path(__file__).resolve().parents[1]
FULL = "acme/app"
VIOLATION = "Repository rule violations found\n\n"


async def ref_sha(world: World, ref: str) -> str | None:
    answer = await world.call("alice", "GET", f"/repos/{FULL}/git/ref/{ref}")
    return str(answer.body["object"]["sha"]) if answer.status == 200 else None


def test_the_readme_shows_the_three_rulesets() -> None:
    names = [json.loads(body.replace("$APP_ID", "1"))["name"] for _, _, body in setup_calls()]
    assert names == ["release-train rc", "release-train production", "release-train tags"]


async def test_the_readme_setup_puts_the_protection_in_force(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    await seed.grant(sandbox, FULL, "dev", "write")
    main = await ref_sha(sandbox, "heads/main")
    assert main is not None
    await seed.create_branch(sandbox, "alice", FULL, "production", main)
    await apply_readme_setup(sandbox)
    app_id = seed.app_id_of(sandbox, "release-train")
    token = await installation_token(sandbox, "acme")
    # What the gate reads without administration permission: the rules in force on rc/*.
    rules = (await as_app(sandbox, token, "GET", f"/repos/{FULL}/rules/branches/rc/1.5")).body
    checks = [r for r in rules if r["type"] == "required_status_checks"]
    assert {r["type"] for r in rules} >= {"pull_request", "required_status_checks"}
    assert checks[0]["parameters"]["required_status_checks"] == [
        {"context": "release-train/merge-rules", "integration_id": app_id}
    ]

    # The app cuts the RC (a new branch needs no check).
    cut = await as_app(sandbox, token, "POST", f"/repos/{FULL}/git/refs", {"ref": "refs/heads/rc/1.5", "sha": main})
    assert cut.status == 201, cut.body

    # A writer cannot push onto the RC.
    tree = (await sandbox.call("dev", "GET", f"/repos/{FULL}/git/commits/{main}")).body["tree"]["sha"]
    sneaked = await sandbox.call(
        "dev", "POST", f"/repos/{FULL}/git/commits", {"message": "sneak", "tree": tree, "parents": [main]}
    )
    pushed = await sandbox.call("dev", "PATCH", f"/repos/{FULL}/git/refs/heads/rc/1.5", {"sha": sneaked.body["sha"]})
    assert pushed.status == 422 and "Changes must be made through a pull request." in pushed.body["message"]
    assert await ref_sha(sandbox, "heads/rc/1.5") == main

    # Another app's merge-rules does not let a PR into the RC; the app's own does.
    await seed.create_branch(sandbox, "dev", FULL, "fix", "rc/1.5")
    await seed.commit(sandbox, "dev", FULL, "fix", {"fix.txt": "fixed\n"}, "Fix")
    pr = await seed.open_pr(sandbox, "dev", FULL, head="fix", base="rc/1.5", title="Fix")
    await seed.ci_check_run(sandbox, FULL, pr["head"]["sha"], "release-train/merge-rules", app_slug="forger")
    refused = await sandbox.call("dev", "PUT", f"/repos/{FULL}/pulls/{pr['number']}/merge", {})
    assert (refused.status, refused.body["message"]) == (
        405,
        VIOLATION + 'Required status check "release-train/merge-rules" is expected.\n\n',
    )
    run = {
        "name": "release-train/merge-rules",
        "head_sha": pr["head"]["sha"],
        "status": "completed",
        "conclusion": "success",
    }
    assert (await as_app(sandbox, token, "POST", f"/repos/{FULL}/check-runs", run)).status == 201
    merged = await sandbox.call("dev", "PUT", f"/repos/{FULL}/pulls/{pr['number']}/merge", {})
    assert merged.status == 200, merged.body
    rc_head = await ref_sha(sandbox, "heads/rc/1.5")
    assert rc_head == merged.body["sha"]

    # Only the app moves production.
    moved = await sandbox.call("alice", "PATCH", f"/repos/{FULL}/git/refs/heads/production", {"sha": rc_head})
    assert (moved.status, moved.body["message"]) == (422, VIOLATION + "Cannot update this protected ref.\n\n")
    assert await ref_sha(sandbox, "heads/production") == main
    forward = await as_app(sandbox, token, "PATCH", f"/repos/{FULL}/git/refs/heads/production", {"sha": rc_head})
    assert forward.status == 200, forward.body
    assert await ref_sha(sandbox, "heads/production") == rc_head

    # Only the app makes release tags.
    tagged = await sandbox.call("dev", "POST", f"/repos/{FULL}/git/refs", {"ref": "refs/tags/v1.5.0", "sha": rc_head})
    assert (tagged.status, tagged.body["message"]) == (
        422,
        VIOLATION + "Cannot create ref due to creations being restricted.\n\n",
    )
    assert await ref_sha(sandbox, "tags/v1.5.0") is None
    release = await as_app(
        sandbox, token, "POST", f"/repos/{FULL}/releases", {"tag_name": "v1.5.0", "target_commitish": rc_head}
    )
    assert release.status == 201, release.body
    assert await ref_sha(sandbox, "tags/v1.5.0") == rc_head
