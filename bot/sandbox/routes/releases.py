"""Sandbox releases (with generated notes), deployments, workflow dispatches and repository dispatches.

A release whose tag does not exist creates a lightweight tag at `target_commitish` (with the push
and create events), as GitHub does; a draft gets its tag only when it is published.
A deployment verifies commit statuses and the latest check runs on its ref (`required_contexts`,
default: all), and with `auto_merge` (default true) merges the default branch into a branch that is
behind it, exactly as GitHub does (202 when it merged, 409 on a conflict).
A workflow dispatch reads `.github/workflows/<id>` on the ref with real git and checks its
`workflow_dispatch` inputs. Dispatched runs are listed by `GET /repos/{o}/{r}/actions/runs`.

Sandbox-only: `GET /_sandbox/dispatches/{owner}/{repo}` lists every workflow dispatch (workflow,
ref, sha, inputs with defaults filled in, actor) and repository dispatch (event_type, client_payload).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import yaml
from aiohttp import web

from bot.sandbox import render
from bot.sandbox.common import (
    ApiError,
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
from bot.sandbox.state import now_iso

GOOD_CONCLUSIONS = ("success", "neutral", "skipped")


def release_collections(repo: dict[str, Any]) -> None:
    for key in ("releases", "deployments"):
        repo.setdefault(key, {})
    repo.setdefault("workflow_runs", [])
    repo.setdefault("repository_dispatches", [])
    repo.setdefault("pulls", {})
    repo.setdefault("issues", {})
    repo.setdefault("statuses", [])
    repo.setdefault("check_runs", {})


# --- releases -------------------------------------------------------------------------------


def the_release(repo: dict[str, Any], release_id: str) -> dict[str, Any]:
    record = repo["releases"].get(release_id)
    if record is None:
        raise not_found()
    return record


async def tag_target(request: web.Request, repo: dict[str, Any], tag: str) -> str | None:
    return await git(request).ref(repo["full_name"], f"refs/tags/{tag}")


async def create_tag_if_missing(request: web.Request, repo: dict[str, Any], tag: str, target_commitish: str) -> None:
    from bot.sandbox.routes.repos import move_ref

    if await tag_target(request, repo, tag) is not None:
        return
    sha = await git(request).resolve_commit(repo["full_name"], target_commitish)
    if sha is None:
        raise validation_failed("Release", "target_commitish", "invalid", "Target commitish is invalid")
    await move_ref(request, repo, f"refs/tags/{tag}", sha, None, api="release")


def emit_release(
    request: web.Request,
    repo: dict[str, Any],
    record: dict[str, Any],
    *actions: str,
    changes: dict[str, Any] | None = None,
) -> None:
    st = store(request)
    for action in actions:
        payload: dict[str, Any] = {"action": action, "release": render.release(st, repo, record["id"])}
        if action == "edited":
            payload["changes"] = changes or {}
        hooks(request).emit("release", payload, repo=repo, sender=sender_login(request))


async def create_release(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    release_collections(repo)
    st = store(request)
    body = await read_json(request)
    tag = body.get("tag_name")
    if not isinstance(tag, str) or not tag.strip():
        raise validation_failed("Release", "tag_name", "missing_field")
    from bot.sandbox.git import valid_ref_name

    if not valid_ref_name(f"refs/tags/{tag}"):
        raise validation_failed("Release", "tag_name", "invalid")
    if any(r["tag_name"] == tag for r in repo["releases"].values()):
        raise validation_failed("Release", "tag_name", "already_exists")
    target = str(body.get("target_commitish") or repo.get("default_branch", "main"))
    draft = bool(body.get("draft", False))
    if (
        await tag_target(request, repo, tag) is None
        and await git(request).resolve_commit(repo["full_name"], target) is None
    ):
        raise validation_failed("Release", "target_commitish", "invalid", "Target commitish is invalid")
    notes_body = body.get("body")
    name = body.get("name")
    if body.get("generate_release_notes"):
        generated = await generate_notes_for(request, repo, tag, target, None)
        notes_body = f"{notes_body}\n\n{generated['body']}" if notes_body else generated["body"]
        name = name or generated["name"]
    if not draft:
        await create_tag_if_missing(request, repo, tag, target)
    if any(r["tag_name"] == tag for r in repo["releases"].values()):
        raise validation_failed("Release", "tag_name", "already_exists")  # made while this one awaited git
    stamp = now_iso()
    record: dict[str, Any] = {
        "id": st.new_id(),
        "tag_name": tag,
        "target_commitish": target,
        "name": name,
        "body": notes_body,
        "draft": draft,
        "prerelease": bool(body.get("prerelease", False)),
        "make_latest": str(body.get("make_latest", "true")),
        "author": sender_login(request),
        "created_at": stamp,
        "updated_at": stamp,
        "published_at": None if draft else stamp,
    }
    repo["releases"][str(record["id"])] = record
    st.touch()
    if draft:
        emit_release(request, repo, record, "created")
    else:
        emit_release(request, repo, record, "created", "published", *(() if record["prerelease"] else ("released",)))
    return respond(
        render.release(st, repo, record["id"]),
        status=201,
        headers={"Location": render.api(f"/repos/{repo['full_name']}/releases/{record['id']}")},
    )


async def update_release(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    release_collections(repo)
    st = store(request)
    record = the_release(repo, request.match_info["release_id"])
    body = await read_json(request)
    # GitHub's release `edited` always names the previous name and body.
    changes: dict[str, Any] = {"name": {"from": record.get("name") or ""}, "body": {"from": record.get("body") or ""}}
    if "tag_name" in body and body["tag_name"] != record["tag_name"]:
        if any(r["tag_name"] == body["tag_name"] for r in repo["releases"].values()):
            raise validation_failed("Release", "tag_name", "already_exists")
        changes["tag_name"] = {"from": record["tag_name"]}
        record["tag_name"] = body["tag_name"]
    for key in ("target_commitish", "name", "body"):
        if key in body and body[key] != record.get(key):
            changes[key] = {"from": record.get(key)}
            record[key] = body[key]
    if "prerelease" in body:
        record["prerelease"] = bool(body["prerelease"])
    publishing = record["draft"] and body.get("draft") is False
    if publishing:
        await create_tag_if_missing(request, repo, record["tag_name"], record["target_commitish"])
        record["draft"] = False
        record["published_at"] = now_iso()
    record["updated_at"] = now_iso()
    st.touch()
    if publishing:
        emit_release(request, repo, record, "published", *(() if record["prerelease"] else ("released",)))
    else:
        emit_release(request, repo, record, "edited", changes=changes)
    return respond(render.release(st, repo, record["id"]))


async def list_releases(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    release_collections(repo)
    st = store(request)
    chosen = sorted(repo["releases"].values(), key=lambda r: r["id"], reverse=True)
    return paginate(request, [render.release(st, repo, r["id"]) for r in chosen])


async def get_release(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    release_collections(repo)
    record = the_release(repo, request.match_info["release_id"])
    return respond(render.release(store(request), repo, record["id"]))


async def get_release_by_tag(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    release_collections(repo)
    tag = request.match_info["tag"]
    for record in repo["releases"].values():
        if record["tag_name"] == tag and not record["draft"]:
            return respond(render.release(store(request), repo, record["id"]))
    raise not_found()


async def latest_release(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    release_collections(repo)
    published = [
        r
        for r in repo["releases"].values()
        if not r["draft"] and not r["prerelease"] and r.get("make_latest") != "false"
    ]
    if not published:
        raise not_found()
    newest = max(published, key=lambda r: (r["published_at"], r["id"]))
    return respond(render.release(store(request), repo, newest["id"]))


async def generate_notes_for(
    request: web.Request, repo: dict[str, Any], tag: str, target: str | None, previous: str | None
) -> dict[str, str]:
    """GitHub's generated notes: the PRs merged since the previous release, and a Full Changelog link."""
    repos = git(request)
    full = repo["full_name"]
    head = await repos.resolve_commit(full, f"refs/tags/{tag}") if await tag_target(request, repo, tag) else None
    if head is None:
        head = await repos.resolve_commit(full, target or repo.get("default_branch", "main"))
    if head is None:
        raise validation_failed("Release", "target_commitish", "invalid", "Target commitish is invalid")
    previous_sha = None
    if previous is not None:
        previous_sha = await repos.resolve_commit(full, f"refs/tags/{previous}")
        if previous_sha is None:
            raise ApiError(404, "Not Found")
    else:
        # The most recent published release whose tag is in this one's history.
        for record in sorted(
            repo["releases"].values(), key=lambda r: (r.get("published_at") or "", r["id"]), reverse=True
        ):
            if record["draft"] or record["tag_name"] == tag:
                continue
            sha = await repos.resolve_commit(full, f"refs/tags/{record['tag_name']}")
            if sha and await repos.is_ancestor(full, sha, head):
                previous, previous_sha = record["tag_name"], sha
                break
    in_range = set(await repos.rev_list(full, head, previous_sha))
    merged = []
    for number, pull in repo["pulls"].items():
        if pull.get("merged") and pull.get("merge_commit_sha") in in_range:
            merged.append((pull.get("merged_at") or "", int(number)))
    lines = ["## What's Changed"]
    for _, number in sorted(merged):
        issue = repo["issues"][str(number)]
        lines.append(f"* {issue['title']} by @{issue['user']} in {render.html(f'/{full}/pull/{number}')}")
    lines.append("")
    if previous:
        lines.append(f"**Full Changelog**: {render.html(f'/{full}/compare/{previous}...{tag}')}")
    else:
        lines.append(f"**Full Changelog**: {render.html(f'/{full}/commits/{tag}')}")
    return {"name": tag, "body": "\n".join(lines)}


async def generate_notes(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    release_collections(repo)
    body = await read_json(request)
    tag = body.get("tag_name")
    if not isinstance(tag, str) or not tag.strip():
        raise validation_failed("Release", "tag_name", "missing_field")
    notes = await generate_notes_for(request, repo, tag, body.get("target_commitish"), body.get("previous_tag_name"))
    return respond(notes)


# --- deployments ----------------------------------------------------------------------------


async def failing_contexts(
    request: web.Request, repo: dict[str, Any], sha: str, required: list[str] | None
) -> list[dict[str, str]]:
    """Contexts (statuses and the latest check runs) that are not green, as GitHub checks before deploying."""
    states: dict[str, str] = {}
    for record in sorted(repo["statuses"], key=lambda r: r["id"]):
        if record["sha"] == sha:
            states[record["context"]] = record["state"]
    for run in sorted(repo["check_runs"].values(), key=lambda r: r["id"]):
        if run["head_sha"] == sha:
            states[run["name"]] = (
                "success" if run.get("conclusion") in GOOD_CONCLUSIONS else (run.get("conclusion") or "pending")
            )
    wanted = list(states) if required is None else required
    return [{"context": c, "state": states.get(c, "missing")} for c in wanted if states.get(c) != "success"]


async def auto_merge_default(request: web.Request, repo: dict[str, Any], branch: str) -> str | None:
    """Merge the default branch into `branch` when it is behind; the new head, or None when nothing to do."""
    from bot.sandbox.routes.repos import move_ref, person

    repos = git(request)
    full = repo["full_name"]
    default = repo.get("default_branch", "main")
    if branch == default:
        return None
    head = await repos.ref(full, f"refs/heads/{branch}")
    base = await repos.ref(full, f"refs/heads/{default}")
    if head is None or base is None or await repos.is_ancestor(full, base, head):
        return None
    if await repos.is_ancestor(full, head, base):
        outcome_tree = await repos.tree_of(full, base)
    else:
        outcome = await repos.merge_trees(full, head, base)
        if not outcome.clean:
            raise ApiError(409, f"Conflict merging {default} into {branch}.")
        outcome_tree = outcome.tree
    who = person(store(request), sender_login(request))
    merged = await repos.commit_tree(
        full,
        outcome_tree,
        [head, base],
        f"Auto-merged {default} into {branch} on deployment.",
        author=who,
        committer=who,
    )
    await move_ref(request, repo, f"refs/heads/{branch}", merged, head)
    return merged


async def create_deployment(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="deployments", level="write")
    release_collections(repo)
    st = store(request)
    repos = git(request)
    body = await read_json(request)
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref.strip():
        raise validation_failed("Deployment", "ref", "missing_field")
    sha = await repos.resolve_commit(repo["full_name"], ref)
    if sha is None:
        raise ApiError(422, f"No ref found for: {ref}")
    payload = body.get("payload", {})
    if isinstance(payload, str):
        try:
            payload = json.loads(payload) if payload.strip() else {}
        except ValueError:
            raise validation_failed("Deployment", "payload", "invalid") from None
    required = body.get("required_contexts")
    if required is not None and (not isinstance(required, list) or not all(isinstance(c, str) for c in required)):
        raise validation_failed("Deployment", "required_contexts", "invalid")
    is_branch = await repos.ref(repo["full_name"], f"refs/heads/{ref}") is not None
    if body.get("auto_merge", True) and is_branch:
        merged = await auto_merge_default(request, repo, ref)
        if merged is not None:
            # GitHub answers 202 with this message and creates no deployment until checks run again.
            return respond(
                {"message": f"Auto-merged {repo.get('default_branch', 'main')} into {ref} on deployment."}, status=202
            )
    failing = await failing_contexts(request, repo, sha, required)
    if failing:
        raise ApiError(
            409,
            f"Conflict: Commit status checks failed for {ref}.",
            [{"contexts": failing, "resource": "Deployment", "field": "required_contexts"}],
        )
    environment = str(body.get("environment") or "production")
    stamp = now_iso()
    record = {
        "id": st.new_id(),
        "sha": sha,
        "ref": ref,
        "task": str(body.get("task") or "deploy"),
        "payload": payload,
        "environment": environment,
        "description": body.get("description"),
        "creator": sender_login(request),
        "created_at": stamp,
        "updated_at": stamp,
        "transient_environment": bool(body.get("transient_environment", False)),
        "production_environment": bool(body.get("production_environment", environment == "production")),
    }
    repo["deployments"][str(record["id"])] = record
    st.touch()
    hooks(request).emit(
        "deployment",
        {
            "action": "created",
            "deployment": render.deployment(st, repo, record["id"]),
            "workflow": None,
            "workflow_run": None,
        },
        repo=repo,
        sender=sender_login(request),
    )
    return respond(render.deployment(st, repo, record["id"]), status=201)


async def list_deployments(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="deployments", level="read")
    release_collections(repo)
    st = store(request)
    query = request.query
    chosen = []
    for record in sorted(repo["deployments"].values(), key=lambda r: r["id"], reverse=True):
        if any(key in query and str(record[key]) != query[key] for key in ("sha", "ref", "task", "environment")):
            continue
        chosen.append(record)
    return paginate(request, [render.deployment(st, repo, r["id"]) for r in chosen])


# --- dispatches -----------------------------------------------------------------------------


def workflow_triggers(document: Any) -> Any:
    """The `on:` section (YAML 1.1 reads a bare `on` key as True)."""
    if not isinstance(document, dict):
        return None
    return document.get("on", document.get(True))


async def dispatch_workflow(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="actions", level="write")
    release_collections(repo)
    st = store(request)
    repos = git(request)
    full = repo["full_name"]
    body = await read_json(request)
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref.strip():
        raise validation_failed("Workflow", "ref", "missing_field")
    workflow_id = request.match_info["workflow_id"]
    path = f".github/workflows/{workflow_id}"
    short_ref = ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref
    sha = await repos.resolve_commit(full, ref)
    if sha is None:
        raise ApiError(422, f"No ref found for: {short_ref}")
    if workflow_id.isdigit():
        raise not_found()  # the sandbox knows workflows by file name only
    entry = await repos.entry_at(full, sha, path)
    if entry is None or entry.type != "blob":
        raise not_found()
    text = await repos.read_blob(full, entry.sha) or b""
    try:
        document = yaml.safe_load(text.decode("utf-8", errors="replace"))
    except yaml.YAMLError:
        raise ApiError(422, f"Invalid workflow file: {path}") from None
    triggers = workflow_triggers(document)
    has_dispatch = (
        triggers == "workflow_dispatch"
        or (isinstance(triggers, list) and "workflow_dispatch" in triggers)
        or (isinstance(triggers, dict) and "workflow_dispatch" in triggers)
    )
    if not has_dispatch:
        raise ApiError(422, "Workflow does not have 'workflow_dispatch' trigger")
    declared: dict[str, Any] = {}
    if isinstance(triggers, dict) and isinstance(triggers.get("workflow_dispatch"), dict):
        declared = triggers["workflow_dispatch"].get("inputs") or {}
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise validation_failed("Workflow", "inputs", "invalid")
    unexpected = [name for name in inputs if name not in declared]
    if unexpected:
        raise ApiError(422, f"Unexpected inputs provided: {json.dumps(unexpected)}")
    filled: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        if name in inputs:
            filled[name] = inputs[name]
        elif "default" in spec:
            filled[name] = spec["default"]
        elif spec.get("required"):
            raise ApiError(422, f"Required input '{name}' not provided")
    number = len(repo["workflow_runs"]) + 1
    run: dict[str, Any] = {
        "id": st.new_id(),
        "run_number": number,
        "workflow": workflow_id,
        "path": path,
        "name": (document.get("name") if isinstance(document, dict) else None) or path,
        "ref": short_ref,
        "head_sha": sha,
        "inputs": filled,
        "actor": sender_login(request),
        "event": "workflow_dispatch",
        "status": "queued",
        "created_at": now_iso(),
    }
    repo["workflow_runs"].append(run)
    st.touch()
    full_ref = (
        ref
        if ref.startswith("refs/")
        else (f"refs/heads/{ref}" if await repos.ref(full, f"refs/heads/{ref}") else f"refs/tags/{ref}")
    )
    hooks(request).emit(
        "workflow_dispatch",
        {"inputs": filled or None, "ref": full_ref, "workflow": path},
        repo=repo,
        sender=run["actor"],
    )
    if body.get("return_run_details"):
        return respond(
            {
                "workflow_run_id": run["id"],
                "run_url": render.api(f"/repos/{full}/actions/runs/{run['id']}"),
                "html_url": render.html(f"/{full}/actions/runs/{run['id']}"),
            }
        )
    return no_content()


def workflow_run(st: Any, repo: dict[str, Any], run: dict[str, Any]) -> dict[str, Any]:
    full = repo["full_name"]
    base = f"/repos/{full}/actions/runs/{run['id']}"
    workflow_number = zlib.crc32(run["path"].encode()) % 10_000_000  # a stable id per workflow file
    return {
        "id": run["id"],
        "name": run["name"],
        "node_id": render.node("WorkflowRun", run["id"]),
        "head_branch": run["ref"],
        "head_sha": run["head_sha"],
        "path": run["path"],
        "display_title": run["name"],
        "run_number": run["run_number"],
        "run_attempt": 1,
        "event": run["event"],
        "status": run["status"],
        "conclusion": run.get("conclusion"),
        "workflow_id": workflow_number,
        "url": render.api(base),
        "html_url": render.html(f"/{full}/actions/runs/{run['id']}"),
        "pull_requests": [],
        "created_at": run["created_at"],
        "updated_at": run.get("updated_at", run["created_at"]),
        "run_started_at": run["created_at"],
        "actor": render.user(st, run["actor"]),
        "triggering_actor": render.user(st, run["actor"]),
        "jobs_url": render.api(f"{base}/jobs"),
        "logs_url": render.api(f"{base}/logs"),
        "check_suite_url": render.api(f"/repos/{full}/check-suites/0"),
        "artifacts_url": render.api(f"{base}/artifacts"),
        "cancel_url": render.api(f"{base}/cancel"),
        "rerun_url": render.api(f"{base}/rerun"),
        "workflow_url": render.api(f"/repos/{full}/actions/workflows/{workflow_number}"),
        "head_commit": None,
        "repository": render.minimal_repository(st, repo),
        "head_repository": render.minimal_repository(st, repo),
    }


async def list_workflow_runs(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="actions", level="read")
    release_collections(repo)
    st = store(request)
    query = request.query
    chosen = []
    for run in reversed(repo["workflow_runs"]):
        if "event" in query and run["event"] != query["event"]:
            continue
        if "branch" in query and run["ref"] != query["branch"]:
            continue
        if "head_sha" in query and run["head_sha"] != query["head_sha"]:
            continue
        if "status" in query and run["status"] != query["status"]:
            continue
        if "actor" in query and run["actor"].lower() != query["actor"].lower():
            continue
        chosen.append(workflow_run(st, repo, run))
    return paginate(request, chosen, wrap="workflow_runs")


async def repository_dispatch(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    release_collections(repo)
    st = store(request)
    body = await read_json(request)
    event_type = body.get("event_type")
    if not isinstance(event_type, str) or not event_type.strip() or len(event_type) > 100:
        raise validation_failed("Dispatch", "event_type", "missing_field")
    payload = body.get("client_payload") or {}
    if not isinstance(payload, dict):
        raise validation_failed("Dispatch", "client_payload", "invalid")
    if len(payload) > 10:
        raise ApiError(
            422, "No more than 10 properties are allowed; 11 were supplied.".replace("11", str(len(payload)))
        )
    repo["repository_dispatches"].append(
        {
            "id": st.new_id(),
            "event_type": event_type,
            "client_payload": payload,
            "actor": sender_login(request),
            "created_at": now_iso(),
        }
    )
    st.touch()
    hooks(request).emit(
        "repository_dispatch",
        {"action": event_type, "branch": repo.get("default_branch", "main"), "client_payload": payload},
        repo=repo,
        sender=sender_login(request),
    )
    return no_content()


async def sandbox_dispatches(request: web.Request) -> web.Response:
    repo = store(request).repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None:
        raise not_found()
    release_collections(repo)
    return respond(
        {"workflow_dispatches": repo["workflow_runs"], "repository_dispatches": repo["repository_dispatches"]}
    )


def setup(app: web.Application) -> None:
    base = "/repos/{owner}/{repo}"
    r = app.router
    r.add_get(base + "/releases", list_releases)
    r.add_post(base + "/releases", create_release)
    r.add_post(base + "/releases/generate-notes", generate_notes)
    r.add_get(base + "/releases/latest", latest_release)
    r.add_get(base + "/releases/tags/{tag:.+}", get_release_by_tag)
    r.add_get(base + "/releases/{release_id:[0-9]+}", get_release)
    r.add_patch(base + "/releases/{release_id:[0-9]+}", update_release)
    r.add_get(base + "/deployments", list_deployments)
    r.add_post(base + "/deployments", create_deployment)
    r.add_post(base + "/actions/workflows/{workflow_id}/dispatches", dispatch_workflow)
    r.add_get(base + "/actions/runs", list_workflow_runs)
    r.add_post(base + "/dispatches", repository_dispatch)
    r.add_get("/_sandbox/dispatches/{owner}/{repo}", sandbox_dispatches)
