"""Environments and custom deployment protection rules in the sandbox: an Actions deployment job waits for the app's answer.

The attack stories answer the rule as someone who does not own it (a developer, or the app on a job
it was not asked about) and check the job did not run; the controls are the app's own approval (the
job runs, the deployment succeeds) and its rejection (the job fails, nothing is deployed).
"""

from __future__ import annotations

from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World
from sandbox_calls import as_app, installation_token, make_repo, settle_hooks

FULL = "acme/app"


async def production_with_rule(world: World) -> int:
    """acme/app with a production environment whose custom rule is this sandbox's app; the app's id."""
    await make_repo(world)
    await seed.grant(world, FULL, "dev", "write")
    app_id = seed.app_id_of(world, "release-train")
    await seed.require_app_for_environment(world, FULL, "production", app_id)
    return app_id


async def deploy(world: World, ref: str = "main") -> dict[str, Any]:
    answer = await world.call(
        None, "POST", f"/_sandbox/actions/{FULL}/deployments", {"environment": "production", "ref": ref}
    )
    assert answer.status == 201, answer.body
    return answer.body


async def job(world: World, run_id: int) -> dict[str, Any]:
    return (await world.call(None, "GET", f"/_sandbox/actions/{FULL}/runs/{run_id}")).body


async def test_environments_and_their_rules_are_set_by_admins(sandbox: World) -> None:
    await make_repo(sandbox)
    await seed.grant(sandbox, FULL, "dev", "write")
    assert (await sandbox.call("dev", "PUT", f"/repos/{FULL}/environments/production", {})).status == 404
    made = await sandbox.call("alice", "PUT", f"/repos/{FULL}/environments/production", {"wait_timer": 0})
    assert made.status == 200 and made.body["name"] == "production"
    listed = await sandbox.call("dev", "GET", f"/repos/{FULL}/environments")
    assert [e["name"] for e in listed.body["environments"]] == ["production"]
    app_id = seed.app_id_of(sandbox, "release-train")
    apps = await sandbox.call("alice", "GET", f"/repos/{FULL}/environments/production/deployment_protection_rules/apps")
    assert app_id in [a["id"] for a in apps.body["available_custom_deployment_protection_rule_integrations"]]
    path = f"/repos/{FULL}/environments/production/deployment_protection_rules"
    assert (await sandbox.call("dev", "POST", path, {"integration_id": app_id})).status == 404
    rule = await sandbox.call("alice", "POST", path, {"integration_id": app_id})
    assert rule.status == 201 and rule.body["app"]["slug"] == "release-train"
    assert (await sandbox.call("alice", "POST", path, {"integration_id": 424242})).status == 422
    rules = await sandbox.call("dev", "GET", path)
    assert rules.body["total_count"] == 1


async def test_the_job_runs_only_once_the_app_that_owns_the_rule_approves(sandbox: World) -> None:
    receiver = seed.WebhookReceiver()
    await receiver.start(sandbox)
    seed.subscribe(sandbox, "deployment_protection_rule")
    try:
        await production_with_rule(sandbox)
        started = await deploy(sandbox)
        run_id = started["run"]["id"]
        assert started["run"]["status"] == "waiting" and started["deployment_statuses"] == ["pending"]
        await settle_hooks(sandbox)
        [asked] = receiver.of("deployment_protection_rule")
        assert asked["environment"] == "production" and asked["deployment"]["sha"] == started["run"]["head_sha"]
        callback = asked["deployment_callback_url"].removeprefix(sandbox.api_url)
        # The attack: a developer answers the app's rule for it.
        forged = await sandbox.call("dev", "POST", callback, {"environment_name": "production", "state": "approved"})
        assert forged.status == 403
        assert (await job(sandbox, run_id))["run"]["status"] == "waiting"
        # Control: the app approves, and the job deploys.
        token = await installation_token(sandbox, "acme")
        approved = await as_app(
            sandbox,
            token,
            "POST",
            callback,
            {"environment_name": "production", "state": "approved", "comment": "v1.5.0 passed its gate"},
        )
        assert approved.status == 204, approved.body
        done = await job(sandbox, run_id)
        assert (done["run"]["status"], done["run"]["conclusion"]) == ("completed", "success")
        assert done["deployment_statuses"][-1] == "success"
        got = await sandbox.call("dev", "GET", f"/repos/{FULL}/actions/runs/{run_id}")
        assert got.body["conclusion"] == "success"
        statuses = await sandbox.call("dev", "GET", f"/repos/{FULL}/deployments/{done['deployment']['id']}/statuses")
        assert statuses.body[0]["state"] == "success"
        again = await as_app(sandbox, token, "POST", callback, {"environment_name": "production", "state": "rejected"})
        assert again.status == 422  # answered once
    finally:
        await receiver.close()


async def test_a_rejected_job_fails_and_deploys_nothing(sandbox: World) -> None:
    await production_with_rule(sandbox)
    started = await deploy(sandbox)
    run_id = started["run"]["id"]
    token = await installation_token(sandbox, "acme")
    callback = f"/repos/{FULL}/actions/runs/{run_id}/deployment_protection_rule"
    wrong_env = await as_app(sandbox, token, "POST", callback, {"environment_name": "staging", "state": "approved"})
    assert wrong_env.status == 403
    rejected = await as_app(
        sandbox,
        token,
        "POST",
        callback,
        {"environment_name": "production", "state": "rejected", "comment": "not promoted"},
    )
    assert rejected.status == 204
    done = await job(sandbox, run_id)
    assert (done["run"]["status"], done["run"]["conclusion"]) == ("completed", "failure")
    assert "success" not in done["deployment_statuses"] and done["deployment_statuses"][-1] == "failure"
    assert done["gates"][0]["comments"] == ["not promoted"]


async def test_an_environment_without_rules_deploys_at_once(sandbox: World) -> None:
    await make_repo(sandbox)
    started = await deploy(sandbox)
    assert (started["run"]["status"], started["run"]["conclusion"]) == ("completed", "success")
