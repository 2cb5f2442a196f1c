"""Environments, their custom deployment protection rules, and the Actions deployment jobs those rules gate.

REST: GET /repos/{o}/{r}/environments, GET/PUT/DELETE .../environments/{name},
GET/POST .../environments/{name}/deployment_protection_rules (and GET/DELETE .../{id}),
GET .../deployment_protection_rules/apps, GET .../actions/runs/{run_id},
POST .../actions/runs/{run_id}/deployment_protection_rule, GET .../deployments/{id}, GET/POST
.../deployments/{id}/statuses and GET .../statuses/{status_id}.
Environments are changed by repository admins (or an installation with `administration: write`).

Sandbox-only: `POST /_sandbox/actions/{owner}/{repo}/deployments` with {"environment", "ref",
"workflow"?, "actor"?} plays an Actions job that deploys to the environment (creating the
environment when it does not exist, as a workflow's `environment:` does). The job waits while the
environment has custom protection rules: for each rule of this sandbox's app the app is sent
`deployment_protection_rule` (`requested`, with `deployment_callback_url`), and the job runs once
every rule approved (deployment statuses pending, then queued, in_progress, success; the run succeeds) or fails
at the first rejection (deployment status failure; the run fails).
`GET /_sandbox/actions/{owner}/{repo}/runs/{run_id}` shows the job with each rule's answer.

Deliberate differences from GitHub: only this sandbox's app is ever asked (a rule of another app
stays pending), and only when the app subscribes to `deployment_protection_rule` (app.yml, or
seed.subscribe); the job has no steps, logs or jobs list; built-in protection rules (reviewers,
wait timer, branch policies) are stored and shown but not enforced; deployment statuses send no
`deployment_status` webhook.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox import render
from bot.sandbox.common import (
    ApiError,
    actor,
    check_app_permission,
    git,
    hooks,
    no_content,
    not_found,
    paginate,
    read_json,
    repo_for,
    respond,
    sender_login,
    store,
    validation_failed,
)
from bot.sandbox.routes.protection import admin_repo, apps_by_slug
from bot.sandbox.routes.releases import release_collections, workflow_run
from bot.sandbox.state import Store, now_iso

ACTIONS_BOT = "github-actions[bot]"


def environment_body(st: Store, repo: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    full = repo["full_name"]
    rules: list[dict[str, Any]] = []
    if record.get("wait_timer"):
        rules.append(
            {
                "id": record["id"] + 1,
                "node_id": render.node("Gate", record["id"] + 1),
                "type": "wait_timer",
                "wait_timer": record["wait_timer"],
            }
        )
    return {
        "id": record["id"],
        "node_id": render.node("Environment", record["id"]),
        "name": record["name"],
        "url": render.api(f"/repos/{full}/environments/{record['name']}"),
        "html_url": render.html(f"/{full}/deployments/activity_log?environments_filter={record['name']}"),
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "protection_rules": rules,
        "deployment_branch_policy": record.get("deployment_branch_policy"),
    }


def new_environment(st: Store, repo: dict[str, Any], name: str) -> dict[str, Any]:
    stamp = now_iso()
    record = {"id": st.new_id(), "name": name, "created_at": stamp, "updated_at": stamp, "rules": []}
    repo.setdefault("environments", {})[name] = record
    st.touch()
    return record


def the_environment(repo: dict[str, Any], name: str) -> dict[str, Any]:
    record = repo.get("environments", {}).get(name)
    if record is None:
        raise not_found()
    return record


def rule_app(st: Store, app_id: int) -> dict[str, Any] | None:
    for record in apps_by_slug(st).values():
        if int(record["id"]) == app_id:
            return record
    return None


def app_body(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(record["id"]),
        "slug": record["slug"],
        "integration_url": render.api(f"/apps/{record['slug']}"),
        "node_id": render.node("Integration", int(record["id"])),
    }


def rule_body(st: Store, rule: dict[str, Any]) -> dict[str, Any]:
    app = rule_app(st, rule["app_id"]) or {"id": rule["app_id"], "slug": "unknown"}
    return {
        "id": rule["id"],
        "node_id": render.node("DeploymentProtectionRule", rule["id"]),
        "enabled": True,
        "app": app_body(app),
    }


# --- environments ---------------------------------------------------------------------------


async def list_environments(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="actions", level="read")
    st = store(request)
    records = sorted(repo.get("environments", {}).values(), key=lambda r: r["id"])
    return paginate(request, [environment_body(st, repo, r) for r in records], wrap="environments")


async def get_environment(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="actions", level="read")
    return respond(
        environment_body(store(request), repo, the_environment(repo, request.match_info["environment_name"]))
    )


async def put_environment(request: web.Request) -> web.Response:
    repo = admin_repo(request, "write")
    st = store(request)
    name = request.match_info["environment_name"]
    body = await read_json(request)
    timer = body.get("wait_timer")
    if timer is not None and (not isinstance(timer, int) or isinstance(timer, bool) or not 0 <= timer <= 43200):
        raise validation_failed("Environment", "wait_timer", "invalid", "wait_timer must be between 0 and 43200")
    policy = body.get("deployment_branch_policy")
    if policy is not None and (
        not isinstance(policy, dict) or policy.get("protected_branches") == policy.get("custom_branch_policies")
    ):
        raise ApiError(
            422,
            "Validation Failed",
            [
                {
                    "resource": "Environment",
                    "code": "custom",
                    "message": "Exactly one of protected_branches and custom_branch_policies must be true",
                }
            ],
        )
    record = repo.get("environments", {}).get(name) or new_environment(st, repo, name)
    for key in ("wait_timer", "reviewers", "deployment_branch_policy", "prevent_self_review"):
        if key in body:
            record[key] = body[key]
    record["updated_at"] = now_iso()
    st.touch()
    return respond(environment_body(st, repo, record))


async def delete_environment(request: web.Request) -> web.Response:
    repo = admin_repo(request, "write")
    the_environment(repo, request.match_info["environment_name"])
    repo["environments"].pop(request.match_info["environment_name"])
    store(request).touch()
    return no_content()


# --- custom deployment protection rules -----------------------------------------------------


async def list_rules(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="actions", level="read")
    st = store(request)
    record = the_environment(repo, request.match_info["environment_name"])
    rules = [rule_body(st, r) for r in record["rules"]]
    return respond({"total_count": len(rules), "custom_deployment_protection_rules": rules})


async def create_rule(request: web.Request) -> web.Response:
    repo = admin_repo(request, "write")
    st = store(request)
    record = the_environment(repo, request.match_info["environment_name"])
    body = await read_json(request)
    app_id = body.get("integration_id")
    app = rule_app(st, app_id) if isinstance(app_id, int) and not isinstance(app_id, bool) else None
    if app is None:
        raise validation_failed("DeploymentProtectionRule", "integration_id", "invalid", "The app is not installed")
    if any(r["app_id"] == app_id for r in record["rules"]):
        raise validation_failed("DeploymentProtectionRule", "integration_id", "already_exists")
    rule = {"id": st.new_id(), "app_id": app_id}
    record["rules"].append(rule)
    st.touch()
    return respond(rule_body(st, rule), status=201)


def the_rule(record: dict[str, Any], rule_id: str) -> dict[str, Any]:
    for rule in record["rules"]:
        if str(rule["id"]) == rule_id:
            return rule
    raise not_found()


async def get_rule(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="actions", level="read")
    record = the_environment(repo, request.match_info["environment_name"])
    return respond(rule_body(store(request), the_rule(record, request.match_info["protection_rule_id"])))


async def delete_rule(request: web.Request) -> web.Response:
    repo = admin_repo(request, "write")
    record = the_environment(repo, request.match_info["environment_name"])
    record["rules"].remove(the_rule(record, request.match_info["protection_rule_id"]))
    store(request).touch()
    return no_content()


async def available_apps(request: web.Request) -> web.Response:
    repo = admin_repo(request, "read")
    the_environment(repo, request.match_info["environment_name"])
    apps = [app_body(a) for a in sorted(apps_by_slug(store(request)).values(), key=lambda a: int(a["id"]))]
    return respond({"total_count": len(apps), "available_custom_deployment_protection_rule_integrations": apps})


# --- the deployment job ---------------------------------------------------------------------


def deployment_status(
    st: Store, repo: dict[str, Any], deployment: dict[str, Any], state: str, description: str
) -> None:
    stamp = now_iso()
    deployment.setdefault("statuses", []).append(
        {"id": st.new_id(), "state": state, "description": description, "creator": ACTIONS_BOT, "created_at": stamp}
    )
    deployment["updated_at"] = stamp


def settle_job(st: Store, repo: dict[str, Any], run: dict[str, Any]) -> None:
    """Run the job once every rule approved it, or fail it at a rejection."""
    deployment = repo["deployments"][str(run["deployment_id"])]
    answers = [gate["state"] for gate in run["gates"]]
    if "rejected" in answers:
        deployment_status(st, repo, deployment, "failure", "Rejected by a deployment protection rule")
        run.update(status="completed", conclusion="failure", updated_at=now_iso())
    elif all(state == "approved" for state in answers):
        for state in ("queued", "in_progress", "success"):
            deployment_status(st, repo, deployment, state, f"Deployment {state.replace('_', ' ')}")
        run.update(status="completed", conclusion="success", updated_at=now_iso())
    st.touch()


async def play_deployment_job(request: web.Request) -> web.Response:
    """Sandbox-only: an Actions job deploying `ref` to `environment`, waiting on the environment's custom rules."""
    st = store(request)
    repo = st.repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None:
        raise not_found()
    release_collections(repo)
    body = await read_json(request)
    name, ref = body.get("environment"), body.get("ref")
    if not isinstance(name, str) or not name or not isinstance(ref, str) or not ref:
        raise ApiError(422, "environment and ref are required")
    sha = await git(request).resolve_commit(repo["full_name"], ref)
    if sha is None:
        raise ApiError(422, f"No commit found for the ref {ref}")
    environment = repo.get("environments", {}).get(name) or new_environment(st, repo, name)
    path = f".github/workflows/{body.get('workflow') or 'deploy.yml'}"
    triggering = str(body.get("actor") or ACTIONS_BOT)
    stamp = now_iso()
    deployment: dict[str, Any] = {
        "id": st.new_id(),
        "sha": sha,
        "ref": ref,
        "task": "deploy",
        "payload": {},
        "environment": name,
        "description": None,
        "creator": ACTIONS_BOT,
        "created_at": stamp,
        "updated_at": stamp,
        "transient_environment": False,
        "production_environment": name == "production",
    }
    repo["deployments"][str(deployment["id"])] = deployment
    run: dict[str, Any] = {
        "id": st.new_id(),
        "run_number": len(repo["workflow_runs"]) + 1,
        "workflow": path.rsplit("/", 1)[-1],
        "path": path,
        "name": "Deploy",
        "ref": ref,
        "head_sha": sha,
        "inputs": {},
        "actor": triggering,
        "event": str(body.get("event") or "workflow_dispatch"),
        "status": "waiting",
        "conclusion": None,
        "created_at": stamp,
        "updated_at": stamp,
        "environment": name,
        "deployment_id": deployment["id"],
        "gates": [{"app_id": rule["app_id"], "state": "pending", "comments": []} for rule in environment["rules"]],
    }
    repo["workflow_runs"].append(run)
    deployment_status(st, repo, deployment, "pending", "Waiting on deployment protection rules")
    full = repo["full_name"]
    bus = hooks(request)
    bus.emit(
        "deployment",
        {
            "action": "created",
            "deployment": render.deployment(st, repo, deployment["id"]),
            "workflow": None,
            "workflow_run": None,
        },
        repo=repo,
        sender=ACTIONS_BOT,
    )
    own = int(st.data["app"]["id"])
    if any(gate["app_id"] == own for gate in run["gates"]):
        bus.emit(
            "deployment_protection_rule",
            {
                "action": "requested",
                "environment": name,
                "event": run["event"],
                "sha": sha,
                "ref": ref,
                "deployment_callback_url": render.api(
                    f"/repos/{full}/actions/runs/{run['id']}/deployment_protection_rule"
                ),
                "deployment": render.deployment(st, repo, deployment["id"]),
                "pull_requests": [],
            },
            repo=repo,
            sender=triggering,
        )
    if not run["gates"]:
        settle_job(st, repo, run)
    st.touch()
    return respond(job_body(st, repo, run), status=201)


def job_body(st: Store, repo: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    deployment = repo["deployments"][str(run["deployment_id"])]
    return {
        "run": workflow_run(st, repo, run),
        "environment": run["environment"],
        "gates": [dict(g) for g in run["gates"]],
        "deployment": render.deployment(st, repo, deployment["id"]),
        "deployment_statuses": [s["state"] for s in deployment.get("statuses", [])],
    }


def the_run(repo: dict[str, Any], run_id: str) -> dict[str, Any]:
    for run in repo.get("workflow_runs", []):
        if str(run["id"]) == run_id:
            return run
    raise not_found()


async def sandbox_job(request: web.Request) -> web.Response:
    st = store(request)
    repo = st.repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None:
        raise not_found()
    run = the_run(repo, request.match_info["run_id"])
    if "deployment_id" not in run:
        raise not_found()
    return respond(job_body(st, repo, run))


async def get_run(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="actions", level="read")
    release_collections(repo)
    return respond(workflow_run(store(request), repo, the_run(repo, request.match_info["run_id"])))


async def review_rule(request: web.Request) -> web.Response:
    """The app's answer to `deployment_protection_rule`: approved or rejected (or a comment), for its own rule only."""
    repo = repo_for(request, scope="deployments", level="read")
    st = store(request)
    who = actor(request)
    if who.kind != "installation":
        raise ApiError(403, "Resource not accessible by integration")
    check_app_permission(who, "deployments", "read")
    release_collections(repo)
    run = the_run(repo, request.match_info["run_id"])
    body = await read_json(request)
    name, state, comment = body.get("environment_name"), body.get("state"), body.get("comment")
    if not isinstance(name, str) or (state is None and not isinstance(comment, str)):
        raise validation_failed("DeploymentProtectionRule", "environment_name", "missing_field")
    if state is not None and state not in ("approved", "rejected"):
        raise validation_failed("DeploymentProtectionRule", "state", "invalid")
    own = int(st.data["app"]["id"])
    gate = next((g for g in run.get("gates", []) if g["app_id"] == own), None)
    if gate is None or run.get("environment") != name:
        raise ApiError(403, "Resource not accessible by integration")
    if gate["state"] != "pending":
        raise validation_failed(
            "DeploymentProtectionRule", "state", "custom", "This deployment protection rule was already reviewed"
        )
    if isinstance(comment, str):
        gate["comments"].append(comment)
    if state is not None:
        gate["state"] = state
        settle_job(st, repo, run)
    st.touch()
    return no_content()


DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")


def _deployment(request: web.Request, level: str) -> tuple[dict[str, Any], dict[str, Any]]:
    repo = repo_for(request, scope="deployments", level=level)
    release_collections(repo)
    deployment = repo["deployments"].get(request.match_info["deployment_id"])
    if deployment is None:
        raise not_found()
    return repo, deployment


def deployment_status_body(
    st: Store, repo: dict[str, Any], deployment: dict[str, Any], status: dict[str, Any]
) -> dict[str, Any]:
    full = repo["full_name"]
    return {
        "url": render.api(f"/repos/{full}/deployments/{deployment['id']}/statuses/{status['id']}"),
        "id": status["id"],
        "node_id": render.node("DeploymentStatus", status["id"]),
        "state": status["state"],
        "creator": render.user(st, status["creator"]),
        "description": status["description"],
        "environment": status.get("environment") or deployment["environment"],
        "target_url": status.get("target_url") or "",
        "log_url": status.get("log_url") or status.get("target_url") or "",
        "environment_url": status.get("environment_url") or "",
        "created_at": status["created_at"],
        "updated_at": status["created_at"],
        "deployment_url": render.api(f"/repos/{full}/deployments/{deployment['id']}"),
        "repository_url": render.api(f"/repos/{full}"),
        "performed_via_github_app": None,
    }


async def list_deployment_statuses(request: web.Request) -> web.Response:
    repo, deployment = _deployment(request, "read")
    st = store(request)
    statuses = [deployment_status_body(st, repo, deployment, s) for s in reversed(deployment.get("statuses", []))]
    return paginate(request, statuses)


async def get_deployment_status(request: web.Request) -> web.Response:
    repo, deployment = _deployment(request, "read")
    wanted = int(request.match_info["status_id"])
    for status in deployment.get("statuses", []):
        if status["id"] == wanted:
            return respond(deployment_status_body(store(request), repo, deployment, status))
    raise not_found()


async def create_deployment_status(request: web.Request) -> web.Response:
    """POST .../deployments/{id}/statuses: GitHub's states; a success or in-progress status may move the
    deployment to another environment (`environment`); `log_url` defaults to `target_url`."""
    repo, deployment = _deployment(request, "write")
    st = store(request)
    body = await read_json(request)
    state = body.get("state")
    if state not in DEPLOYMENT_STATES:
        raise validation_failed("DeploymentStatus", "state", "invalid")
    for key in ("target_url", "log_url", "environment_url", "description", "environment"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise validation_failed("DeploymentStatus", key, "invalid")
    stamp = now_iso()
    status = {
        "id": st.new_id(),
        "state": state,
        "description": body.get("description") or "",
        "creator": sender_login(request),
        "created_at": stamp,
        **{key: body[key] for key in ("target_url", "log_url", "environment_url", "environment") if body.get(key)},
    }
    deployment.setdefault("statuses", []).append(status)
    deployment["updated_at"] = stamp
    st.touch()
    return respond(deployment_status_body(st, repo, deployment, status), status=201)


async def get_deployment(request: web.Request) -> web.Response:
    repo, deployment = _deployment(request, "read")
    return respond(render.deployment(store(request), repo, deployment["id"]))


def setup(app: web.Application) -> None:
    base = "/repos/{owner}/{repo}"
    env = base + "/environments/{environment_name}"
    r = app.router
    r.add_get(base + "/environments", list_environments)
    r.add_get(env, get_environment)
    r.add_put(env, put_environment)
    r.add_delete(env, delete_environment)
    r.add_get(env + "/deployment_protection_rules", list_rules)
    r.add_post(env + "/deployment_protection_rules", create_rule)
    r.add_get(env + "/deployment_protection_rules/apps", available_apps)
    r.add_get(env + "/deployment_protection_rules/{protection_rule_id:[0-9]+}", get_rule)
    r.add_delete(env + "/deployment_protection_rules/{protection_rule_id:[0-9]+}", delete_rule)
    r.add_get(base + "/actions/runs/{run_id:[0-9]+}", get_run)
    r.add_post(base + "/actions/runs/{run_id:[0-9]+}/deployment_protection_rule", review_rule)
    r.add_get(base + "/deployments/{deployment_id:[0-9]+}", get_deployment)
    r.add_get(base + "/deployments/{deployment_id:[0-9]+}/statuses", list_deployment_statuses)
    r.add_post(base + "/deployments/{deployment_id:[0-9]+}/statuses", create_deployment_status)
    r.add_get(base + "/deployments/{deployment_id:[0-9]+}/statuses/{status_id:[0-9]+}", get_deployment_status)
    r.add_post("/_sandbox/actions/{owner}/{repo}/deployments", play_deployment_job)
    r.add_get("/_sandbox/actions/{owner}/{repo}/runs/{run_id:[0-9]+}", sandbox_job)
