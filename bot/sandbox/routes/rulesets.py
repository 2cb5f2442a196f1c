"""Repository rulesets: GET/POST .../rulesets, GET/PUT/DELETE .../rulesets/{id}, and GET .../rules/branches/{branch}.

Anyone who may read the repository reads its rulesets and the rules in force on a branch (an
installation with `metadata: read` too); creating, changing and deleting them takes a repository
admin or an installation with `administration: write`. Enforcement is bot/sandbox/protection.py's.

Deliberate differences from GitHub: the rules kept are creation, update, deletion,
non_fast_forward, pull_request, required_status_checks, required_linear_history and
required_signatures (the last two are kept, shown and not enforced); others are refused with 422.
A ref pattern without `refs/` is read under `refs/heads/` (or `refs/tags/` for a tag ruleset).
`bypass_actors` are shown to repository admins only, as GitHub shows them to those who may edit.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox import render
from bot.sandbox.common import (
    ApiError,
    actor,
    no_content,
    not_found,
    read_json,
    repo_for,
    respond,
    store,
    user_permission,
)
from bot.sandbox.protection import bypass_mode, pusher_of, ruleset_applies
from bot.sandbox.routes.protection import admin_repo
from bot.sandbox.state import Store, now_iso

ENFORCEMENTS = ("disabled", "active", "evaluate")
TARGETS = ("branch", "tag")
ACTOR_TYPES = ("Integration", "OrganizationAdmin", "RepositoryRole", "Team", "DeployKey", "User")
BYPASS_MODES = ("always", "pull_request", "exempt")
PLAIN_RULES = ("creation", "deletion", "non_fast_forward", "required_linear_history", "required_signatures")
PULL_REQUEST_PARAMS = (
    "dismiss_stale_reviews_on_push",
    "require_code_owner_review",
    "require_last_push_approval",
    "required_approving_review_count",
    "required_review_thread_resolution",
)


def invalid(message: str) -> ApiError:
    return ApiError(422, f"Invalid request.\n\n{message}")


def parse_rule(given: Any, index: int) -> dict[str, Any]:
    if not isinstance(given, dict) or not isinstance(given.get("type"), str):
        raise invalid(f"Invalid property /rules/{index}: data matches no possible input.")
    kind = given["type"]
    params = given.get("parameters")
    if kind in PLAIN_RULES:
        return {"type": kind}
    if kind == "update":
        return {
            "type": kind,
            "parameters": {
                "update_allows_fetch_and_merge": bool((params or {}).get("update_allows_fetch_and_merge", False))
            },
        }
    if not isinstance(params, dict):
        raise invalid(f"Invalid property /rules/{index}: data matches no possible input.")
    if kind == "pull_request":
        missing = [key for key in PULL_REQUEST_PARAMS if key not in params]
        if missing:
            raise invalid(f"Invalid property /rules/{index}/parameters: missing keys {', '.join(missing)}.")
        count = params["required_approving_review_count"]
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 10:
            raise invalid(f"Invalid property /rules/{index}/parameters/required_approving_review_count.")
        kept = {key: params[key] for key in PULL_REQUEST_PARAMS}
        if "allowed_merge_methods" in params:
            kept["allowed_merge_methods"] = list(params["allowed_merge_methods"])
        return {"type": kind, "parameters": kept}
    if kind == "required_status_checks":
        checks = params.get("required_status_checks")
        if not isinstance(checks, list) or not isinstance(params.get("strict_required_status_checks_policy"), bool):
            raise invalid(
                f"Invalid property /rules/{index}/parameters: missing keys required_status_checks, strict_required_status_checks_policy."
            )
        kept_checks = []
        for check in checks:
            if not isinstance(check, dict) or not isinstance(check.get("context"), str):
                raise invalid(f"Invalid property /rules/{index}/parameters/required_status_checks: missing context.")
            entry: dict[str, Any] = {"context": check["context"]}
            if check.get("integration_id") is not None:
                if not isinstance(check["integration_id"], int) or isinstance(check["integration_id"], bool):
                    raise invalid(f"Invalid property /rules/{index}/parameters/required_status_checks: integration_id.")
                entry["integration_id"] = check["integration_id"]
            kept_checks.append(entry)
        kept = {
            "required_status_checks": kept_checks,
            "strict_required_status_checks_policy": params["strict_required_status_checks_policy"],
        }
        if "do_not_enforce_on_create" in params:
            kept["do_not_enforce_on_create"] = bool(params["do_not_enforce_on_create"])
        return {"type": kind, "parameters": kept}
    raise invalid(f"Invalid rule '{kind}': this rule is not available in the sandbox.")


def parse_bypass(given: Any) -> list[dict[str, Any]]:
    if not isinstance(given, list):
        raise invalid("Invalid property /bypass_actors: data is not an array.")
    actors = []
    for index, entry in enumerate(given):
        if not isinstance(entry, dict) or entry.get("actor_type") not in ACTOR_TYPES:
            raise invalid(f"Invalid property /bypass_actors/{index}/actor_type: is not a possible value.")
        mode = entry.get("bypass_mode", "always")
        if mode not in BYPASS_MODES:
            raise invalid(f"Invalid property /bypass_actors/{index}/bypass_mode: `{mode}` is not a possible value.")
        actor_id = entry.get("actor_id")
        if entry["actor_type"] in ("Integration", "RepositoryRole", "Team", "User") and (
            not isinstance(actor_id, int) or isinstance(actor_id, bool)
        ):
            raise invalid(f"Invalid property /bypass_actors/{index}/actor_id: an actor id is required.")
        actors.append(
            {
                "actor_id": actor_id if entry["actor_type"] != "OrganizationAdmin" else None,
                "actor_type": entry["actor_type"],
                "bypass_mode": mode,
            }
        )
    return actors


def parse_conditions(given: Any) -> dict[str, Any]:
    if given is None:
        return {"ref_name": {"include": [], "exclude": []}}
    ref_name = given.get("ref_name") if isinstance(given, dict) else None
    if not isinstance(ref_name, dict):
        raise invalid("Invalid property /conditions: data matches no possible input.")
    kept: dict[str, list[str]] = {}
    for key in ("include", "exclude"):
        values = ref_name.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise invalid(f"Invalid property /conditions/ref_name/{key}: data is not an array of strings.")
        kept[key] = values
    return {"ref_name": kept}


def parse_ruleset(repo: dict[str, Any], body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    base = dict(existing or {})
    name = body.get("name", base.get("name"))
    if not isinstance(name, str) or not name.strip():
        raise invalid('"name" wasn\'t supplied.')
    enforcement = body.get("enforcement", base.get("enforcement"))
    if enforcement not in ENFORCEMENTS:
        raise invalid(
            f"Invalid property /enforcement: `{enforcement}` is not a possible value."
            if enforcement
            else '"enforcement" wasn\'t supplied.'
        )
    target = body.get("target", base.get("target", "branch"))
    if target not in TARGETS:
        raise invalid(f"Invalid property /target: `{target}` is not a possible value for a repository ruleset.")
    for other_id, other in repo.get("rulesets", {}).items():
        if other["name"] == name and (existing is None or other_id != str(existing["id"])):
            raise ApiError(
                422,
                "Validation Failed",
                [{"resource": "Ruleset", "field": "name", "code": "custom", "message": "Name must be unique"}],
            )
    rules = body.get("rules", base.get("rules", []))
    if not isinstance(rules, list):
        raise invalid("Invalid property /rules: data is not an array.")
    base.update(
        name=name,
        enforcement=enforcement,
        target=target,
        conditions=parse_conditions(body["conditions"])
        if "conditions" in body
        else base.get("conditions", parse_conditions(None)),
        rules=[parse_rule(rule, i) for i, rule in enumerate(rules)]
        if "rules" in body or existing is None
        else base["rules"],
        bypass_actors=parse_bypass(body["bypass_actors"]) if "bypass_actors" in body else base.get("bypass_actors", []),
    )
    return base


def ruleset_body(
    request: web.Request, repo: dict[str, Any], record: dict[str, Any], *, full: bool = True
) -> dict[str, Any]:
    st = store(request)
    who = actor(request)
    repo_name = repo["full_name"]
    mode = bypass_mode(record, pusher_of(st, repo, who))
    body: dict[str, Any] = {
        "id": record["id"],
        "name": record["name"],
        "target": record["target"],
        "source_type": "Repository",
        "source": repo_name,
        "enforcement": record["enforcement"],
        "node_id": render.node("RepositoryRuleset", record["id"]),
        "_links": {
            "self": {"href": render.api(f"/repos/{repo_name}/rulesets/{record['id']}")},
            "html": {"href": render.html(f"/{repo_name}/rules/{record['id']}")},
        },
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
    }
    if full:
        body["current_user_can_bypass"] = {"pull_request": "pull_requests_only"}.get(mode, mode)
        if who.kind == "user" and user_permission(st, repo, who.login or "") == "admin":
            body["bypass_actors"] = [dict(a) for a in record["bypass_actors"]]
        body["conditions"] = record["conditions"]
        body["rules"] = [dict(r) for r in record["rules"]]
    return body


def the_ruleset(repo: dict[str, Any], ruleset_id: str) -> dict[str, Any]:
    record = repo.get("rulesets", {}).get(ruleset_id)
    if record is None:
        raise not_found()
    return record


async def list_rulesets(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="metadata", level="read")
    records = sorted(repo.get("rulesets", {}).values(), key=lambda r: r["id"])
    return respond([ruleset_body(request, repo, r, full=False) for r in records])


async def create_ruleset(request: web.Request) -> web.Response:
    repo = admin_repo(request, "write")
    st: Store = store(request)
    record = parse_ruleset(repo, await read_json(request), None)
    stamp = now_iso()
    record.update(id=st.new_id(), created_at=stamp, updated_at=stamp)
    repo.setdefault("rulesets", {})[str(record["id"])] = record
    st.touch()
    return respond(ruleset_body(request, repo, record), status=201)


async def get_ruleset(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="metadata", level="read")
    return respond(ruleset_body(request, repo, the_ruleset(repo, request.match_info["ruleset_id"])))


async def update_ruleset(request: web.Request) -> web.Response:
    repo = admin_repo(request, "write")
    existing = the_ruleset(repo, request.match_info["ruleset_id"])
    record = parse_ruleset(repo, await read_json(request), existing)
    record["updated_at"] = now_iso()
    repo["rulesets"][str(record["id"])] = record
    store(request).touch()
    return respond(ruleset_body(request, repo, record))


async def delete_ruleset(request: web.Request) -> web.Response:
    repo = admin_repo(request, "write")
    the_ruleset(repo, request.match_info["ruleset_id"])
    repo["rulesets"].pop(request.match_info["ruleset_id"])
    store(request).touch()
    return no_content()


async def branch_rules(request: web.Request) -> web.Response:
    """Every rule of an active branch ruleset that applies to the branch (which need not exist), with its ruleset."""
    repo = repo_for(request, scope="metadata", level="read")
    ref = f"refs/heads/{request.match_info['branch']}"
    rules = []
    for _, record in sorted(repo.get("rulesets", {}).items(), key=lambda kv: int(kv[0])):
        if not ruleset_applies(record, repo, ref):
            continue
        for rule in record["rules"]:
            rules.append(
                {
                    **rule,
                    "ruleset_source_type": "Repository",
                    "ruleset_source": repo["full_name"],
                    "ruleset_id": record["id"],
                }
            )
    return respond(rules)


def setup(app: web.Application) -> None:
    base = "/repos/{owner}/{repo}"
    r = app.router
    r.add_get(base + "/rulesets", list_rulesets)
    r.add_post(base + "/rulesets", create_ruleset)
    r.add_get(base + "/rulesets/{ruleset_id:[0-9]+}", get_ruleset)
    r.add_put(base + "/rulesets/{ruleset_id:[0-9]+}", update_ruleset)
    r.add_delete(base + "/rulesets/{ruleset_id:[0-9]+}", delete_ruleset)
    r.add_get(base + "/rules/branches/{branch:.+}", branch_rules)
