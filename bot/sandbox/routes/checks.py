"""Sandbox commit statuses, check runs and check suites, with the status/check_run/check_suite webhooks.

Only a GitHub App creates check runs, as on GitHub: an installation token may, a user token gets 403.
There is one check suite per (app, head_sha); it completes (and `check_suite` `completed` is sent)
once every run in it has completed, and reopens when a new run joins it.
A run created already completed is announced as `created` and then `completed`.

Sandbox-only, for tests that play other CI apps (sanity, regression, nightly):
  POST  /_sandbox/ci/{owner}/{repo}/check-runs        body as POST .../check-runs plus
                                                      "app_slug" (default "ci"), "app_name"
  PATCH /_sandbox/ci/{owner}/{repo}/check-runs/{id}   body as PATCH .../check-runs/{id}
The run belongs to that external app (created on first use, with its own id), and webhooks name
"<app_slug>[bot]" as the sender.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox import render
from bot.sandbox.common import (
    SANDBOX,
    Actor,
    ApiError,
    actor,
    git,
    hooks,
    not_found,
    paginate,
    read_json,
    repo_for,
    respond,
    sender_login,
    store,
    validation_failed,
)
from bot.sandbox.state import Store, now_iso

STATUS_STATES = ("error", "failure", "pending", "success")
RUN_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale", "timed_out")
ANNOTATION_LEVELS = ("notice", "warning", "failure")
# A suite's conclusion is the most severe of its runs'.
SUITE_SEVERITY = ("action_required", "cancelled", "timed_out", "failure", "stale", "success", "neutral", "skipped")


def check_collections(repo: dict[str, Any]) -> None:
    repo.setdefault("statuses", [])
    repo.setdefault("check_runs", {})
    repo.setdefault("check_suites", {})
    repo.setdefault("pulls", {})
    repo.setdefault("issues", {})


async def commit_sha(request: web.Request, repo: dict[str, Any], ref: str, *, code: int = 422) -> str:
    """The commit a sha, branch or tag names; GitHub's 422 (or 404) "No commit found for SHA" otherwise."""
    sha = await git(request).resolve_commit(repo["full_name"], ref)
    if sha is None:
        raise ApiError(code, f"No commit found for SHA: {ref}")
    return sha


async def branches_at(request: web.Request, repo: dict[str, Any], sha: str) -> list[str]:
    refs = await git(request).refs(repo["full_name"], "refs/heads/")
    return [name[len("refs/heads/") :] for name, target, _ in refs if target == sha]


def open_pulls_at(repo: dict[str, Any], sha: str) -> list[int]:
    chosen = []
    for number, pull in repo.get("pulls", {}).items():
        issue = repo["issues"].get(number, {})
        if pull.get("head_sha") == sha and issue.get("state") == "open":
            chosen.append(int(number))
    return sorted(chosen)


# --- statuses -------------------------------------------------------------------------------


async def create_status(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="statuses", level="write")
    check_collections(repo)
    st = store(request)
    sender = sender_login(request)
    sha = await commit_sha(request, repo, request.match_info["sha"])
    body = await read_json(request)
    state = body.get("state")
    if state not in STATUS_STATES:
        raise validation_failed("Status", "state", "custom", "State is not included in the list")
    description = body.get("description")
    if description is not None and len(str(description)) > 140:
        description = str(description)[:140]
    stamp = now_iso()
    record = {
        "id": st.new_id(),
        "sha": sha,
        "state": state,
        "context": str(body.get("context") or "default"),
        "description": description,
        "target_url": body.get("target_url"),
        "creator": sender,
        # An app's commit statuses count for a required check pinned to that app (bot/sandbox/protection.py).
        "app_id": int(store(request).data["app"]["id"]) if actor(request).kind == "installation" else None,
        "created_at": stamp,
        "updated_at": stamp,
    }
    repo["statuses"].append(record)
    st.touch()
    commit = await git(request).read_commit(repo["full_name"], sha)
    branches = await branches_at(request, repo, sha)
    hooks(request).emit(
        "status",
        {
            "id": record["id"],
            "sha": sha,
            "name": repo["full_name"],
            "target_url": record["target_url"],
            "context": record["context"],
            "description": record["description"],
            "state": state,
            "commit": render.commit(st, repo, commit),
            "branches": [
                {
                    "name": b,
                    "commit": {"sha": sha, "url": render.api(f"/repos/{repo['full_name']}/commits/{sha}")},
                    "protected": False,
                }
                for b in branches
            ],
            "created_at": stamp,
            "updated_at": stamp,
        },
        repo=repo,
        sender=sender,
    )
    return respond(
        render.status(st, repo, record),
        status=201,
        headers={"Location": render.api(f"/repos/{repo['full_name']}/statuses/{sha}")},
    )


async def combined_status(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="statuses", level="read")
    check_collections(repo)
    st = store(request)
    sha = await commit_sha(request, repo, request.match_info["ref"], code=404)
    latest: dict[str, dict[str, Any]] = {}
    for record in repo["statuses"]:
        if record["sha"] == sha:
            latest[record["context"]] = record
    ordered = sorted(latest.values(), key=lambda r: r["id"])
    return respond(render.combined_status(st, repo, sha, ordered))


async def list_statuses(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="statuses", level="read")
    check_collections(repo)
    st = store(request)
    sha = await commit_sha(request, repo, request.match_info["ref"], code=404)
    chosen = sorted((r for r in repo["statuses"] if r["sha"] == sha), key=lambda r: r["id"], reverse=True)
    return paginate(request, [render.status(st, repo, r) for r in chosen])


# --- apps that own check runs ---------------------------------------------------------------


def own_app(request: web.Request) -> dict[str, Any]:
    """This sandbox's GitHub App, as check runs name it."""
    st = store(request)
    config = request.app[SANDBOX]
    record = st.data["app"]
    return {
        "id": int(record["id"]),
        "slug": record["slug"],
        "name": record["name"],
        "owner": "release-train-owner",
        "created_at": record.get("created_at"),
        "permissions": dict(config.permissions),
        "events": sorted(config.events),
    }


def ci_app(st: Store, slug: str, name: str | None) -> dict[str, Any]:
    """Another CI app (GitHub Actions, Jenkins, ...) that the test driver plays."""
    apps = st.data.setdefault("ci_apps", {})
    record = apps.get(slug.lower())
    if record is None:
        record = {
            "id": st.new_id(),
            "slug": slug,
            "name": name or slug,
            "owner": "ci-owner",
            "created_at": now_iso(),
            "permissions": {"checks": "write", "contents": "read", "metadata": "read", "statuses": "write"},
            "events": ["check_suite", "pull_request", "push"],
        }
        apps[slug.lower()] = record
        st.touch()
    return record


# --- check runs -----------------------------------------------------------------------------


def _output(body: dict[str, Any], record: dict[str, Any]) -> None:
    output = body.get("output")
    if output is None:
        return
    if not isinstance(output, dict):
        raise validation_failed("CheckRun", "output", "invalid")
    if not isinstance(output.get("title"), str) or not isinstance(output.get("summary"), str):
        raise validation_failed("CheckRun", "output", "missing_field", "output requires a title and a summary")
    if len(output["summary"]) > 65535 or len(output.get("text") or "") > 65535:
        raise validation_failed("CheckRun", "output", "custom", "Only 65535 characters are allowed")
    record["output"] = {"title": output["title"], "summary": output["summary"], "text": output.get("text")}
    annotations = output.get("annotations") or []
    if not isinstance(annotations, list) or len(annotations) > 50:
        raise validation_failed("CheckRun", "annotations", "custom", "Only 50 annotations are allowed per request")
    for given in annotations:
        if not isinstance(given, dict) or not all(
            k in given for k in ("path", "start_line", "end_line", "annotation_level", "message")
        ):
            raise validation_failed("CheckRun", "annotations", "missing_field")
        if given["annotation_level"] not in ANNOTATION_LEVELS:
            raise validation_failed("CheckRun", "annotation_level", "invalid")
        record.setdefault("annotations", []).append(
            {
                "path": given["path"],
                "start_line": int(given["start_line"]),
                "end_line": int(given["end_line"]),
                "start_column": given.get("start_column"),
                "end_column": given.get("end_column"),
                "annotation_level": given["annotation_level"],
                "title": given.get("title"),
                "message": given["message"],
                "raw_details": given.get("raw_details"),
            }
        )


def _apply_run_fields(body: dict[str, Any], record: dict[str, Any]) -> None:
    """Status, conclusion, times, output: the fields create and update share."""
    for key in ("details_url", "external_id"):
        if key in body:
            record[key] = body[key]
    if "name" in body:
        if not isinstance(body["name"], str) or not body["name"].strip():
            raise validation_failed("CheckRun", "name", "missing_field")
        record["name"] = body["name"]
    status = body.get("status")
    conclusion = body.get("conclusion")
    if status is not None and status not in RUN_STATUSES:
        raise validation_failed("CheckRun", "status", "invalid")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise validation_failed("CheckRun", "conclusion", "invalid")
    if status == "completed" and conclusion is None and not record.get("conclusion"):
        raise validation_failed(
            "CheckRun", "conclusion", "missing_field", "Conclusion must be specified when status is completed"
        )
    if body.get("completed_at") and conclusion is None and not record.get("conclusion"):
        raise validation_failed(
            "CheckRun", "conclusion", "missing_field", "Conclusion must be specified when completed_at is given"
        )
    if conclusion is not None:
        record["status"] = "completed"
        record["conclusion"] = conclusion
        record["completed_at"] = body.get("completed_at") or now_iso()
    elif status is not None:
        if record.get("status") == "completed" and status != "completed":
            # Moving a run back out of completed clears its result, as GitHub does.
            record["conclusion"] = None
            record["completed_at"] = None
        record["status"] = status
    if body.get("started_at"):
        record["started_at"] = body["started_at"]
    _output(body, record)


async def _suite_for(
    request: web.Request, repo: dict[str, Any], app_record: dict[str, Any], head_sha: str
) -> dict[str, Any]:
    st = store(request)

    def existing() -> dict[str, Any] | None:
        for suite in repo["check_suites"].values():
            if suite["app"]["id"] == app_record["id"] and suite["head_sha"] == head_sha:
                return suite
        return None

    found = existing()
    if found is not None:
        return found
    branches = await branches_at(request, repo, head_sha)
    commit = await git(request).read_commit(repo["full_name"], head_sha)
    # Another run for the same commit may have made the suite while git answered.
    found = existing()
    if found is not None:
        return found
    stamp = now_iso()
    suite = {
        "id": st.new_id(),
        "app": app_record,
        "head_sha": head_sha,
        "head_branch": branches[0] if branches else None,
        "before": commit.parents[0] if commit and commit.parents else None,
        "status": "queued",
        "conclusion": None,
        "pull_requests": open_pulls_at(repo, head_sha),
        "head_commit": {
            "id": head_sha,
            "tree_id": commit.tree if commit else None,
            "message": commit.message if commit else "",
            "timestamp": commit.committer.date if commit else stamp,
            "author": {"name": commit.author.name, "email": commit.author.email} if commit else None,
            "committer": {"name": commit.committer.name, "email": commit.committer.email} if commit else None,
        },
        "created_at": stamp,
        "updated_at": stamp,
    }
    repo["check_suites"][str(suite["id"])] = suite
    st.touch()
    return suite


def _settle_suite(request: web.Request, repo: dict[str, Any], suite: dict[str, Any], sender: str) -> None:
    """Recompute a suite from its runs; announce `completed` when it has just completed."""
    runs = [r for r in repo["check_runs"].values() if r["check_suite_id"] == suite["id"]]
    was = suite["status"]
    if runs and all(r["status"] == "completed" for r in runs):
        conclusions = {r["conclusion"] for r in runs}
        suite["status"] = "completed"
        suite["conclusion"] = next(c for c in SUITE_SEVERITY if c in conclusions)
    else:
        suite["status"] = "in_progress" if any(r["status"] != "queued" for r in runs) else "queued"
        suite["conclusion"] = None
    suite["updated_at"] = now_iso()
    suite["pull_requests"] = open_pulls_at(repo, suite["head_sha"])
    store(request).touch()
    if suite["status"] == "completed" and was != "completed":
        hooks(request).emit(
            "check_suite",
            {"action": "completed", "check_suite": render.check_suite(store(request), repo, suite["id"])},
            repo=repo,
            sender=sender,
        )


def _emit_run(request: web.Request, repo: dict[str, Any], run_id: int, action: str, sender: str) -> None:
    hooks(request).emit(
        "check_run",
        {"action": action, "check_run": render.check_run(store(request), repo, run_id)},
        repo=repo,
        sender=sender,
    )


async def _create_run(
    request: web.Request, repo: dict[str, Any], app_record: dict[str, Any], sender: str
) -> web.Response:
    check_collections(repo)
    st = store(request)
    body = await read_json(request)
    if not isinstance(body.get("name"), str) or not body["name"].strip():
        raise validation_failed("CheckRun", "name", "missing_field")
    if not isinstance(body.get("head_sha"), str):
        raise validation_failed("CheckRun", "head_sha", "missing_field")
    head_sha = await git(request).resolve_commit(repo["full_name"], body["head_sha"])
    if head_sha is None or head_sha != body["head_sha"].lower():
        raise validation_failed("CheckRun", "head_sha", "invalid", "No commit found for SHA: " + body["head_sha"])
    record: dict[str, Any] = {
        "id": st.new_id(),
        "name": body["name"],
        "head_sha": head_sha,
        "status": "queued",
        "conclusion": None,
        "started_at": None,
        "completed_at": None,
        "output": {},
        "annotations": [],
    }
    _apply_run_fields(body, record)
    record["started_at"] = record.get("started_at") or now_iso()
    suite = await _suite_for(request, repo, app_record, head_sha)
    record["check_suite_id"] = suite["id"]
    record["pull_requests"] = open_pulls_at(repo, head_sha)
    repo["check_runs"][str(record["id"])] = record
    suite["status"] = "queued"  # a new run reopens the suite; its completion is announced again
    st.touch()
    _emit_run(request, repo, record["id"], "created", sender)
    if record["status"] == "completed":
        _emit_run(request, repo, record["id"], "completed", sender)
    _settle_suite(request, repo, suite, sender)
    return respond(render.check_run(st, repo, record["id"]), status=201)


async def _update_run(request: web.Request, repo: dict[str, Any], app_id: int, sender: str) -> web.Response:
    check_collections(repo)
    st = store(request)
    record = repo["check_runs"].get(request.match_info["check_run_id"])
    if record is None:
        raise not_found()
    suite = repo["check_suites"][str(record["check_suite_id"])]
    if suite["app"]["id"] != app_id:
        raise ApiError(
            403, f"Invalid app_id `{app_id}` - check run can only be modified by the GitHub App that created it."
        )
    body = await read_json(request)
    was = record["status"]
    _apply_run_fields(body, record)
    record["pull_requests"] = open_pulls_at(repo, record["head_sha"])
    st.touch()
    if record["status"] == "completed" and was != "completed":
        _emit_run(request, repo, record["id"], "completed", sender)
    _settle_suite(request, repo, suite, sender)
    return respond(render.check_run(st, repo, record["id"]))


def _require_app(who: Actor) -> None:
    if who.kind != "installation":
        raise ApiError(403, "You must authenticate via a GitHub App.")


async def create_check_run(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="checks", level="write")
    _require_app(actor(request))
    return await _create_run(request, repo, own_app(request), sender_login(request))


async def update_check_run(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="checks", level="write")
    _require_app(actor(request))
    return await _update_run(request, repo, own_app(request)["id"], sender_login(request))


async def get_check_run(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="checks", level="read")
    check_collections(repo)
    if request.match_info["check_run_id"] not in repo["check_runs"]:
        raise not_found()
    return respond(render.check_run(store(request), repo, int(request.match_info["check_run_id"])))


async def list_annotations(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="checks", level="read")
    check_collections(repo)
    record = repo["check_runs"].get(request.match_info["check_run_id"])
    if record is None:
        raise not_found()
    full = repo["full_name"]
    answers = [
        {**a, "blob_href": render.html(f"/{full}/blob/{record['head_sha']}/{a['path']}")}
        for a in record.get("annotations", [])
    ]
    return paginate(request, answers)


async def list_check_runs_for_ref(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="checks", level="read")
    check_collections(repo)
    st = store(request)
    sha = await commit_sha(request, repo, request.match_info["ref"], code=404)
    query = request.query
    check_name = query.get("check_name")
    status = query.get("status")
    if status is not None and status not in ("queued", "in_progress", "completed"):
        raise validation_failed("CheckRun", "status", "invalid")
    which = query.get("filter", "latest")
    if which not in ("latest", "all"):
        raise validation_failed("CheckRun", "filter", "invalid")
    app_id = query.get("app_id")
    runs = sorted((r for r in repo["check_runs"].values() if r["head_sha"] == sha), key=lambda r: r["id"], reverse=True)
    if which == "latest":
        # The newest run of each name within each app's suite.
        seen: set[tuple[int, str]] = set()
        newest = []
        for run in runs:
            key = (run["check_suite_id"], run["name"])
            if key not in seen:
                seen.add(key)
                newest.append(run)
        runs = newest
    chosen = []
    for run in runs:
        suite = repo["check_suites"][str(run["check_suite_id"])]
        if check_name is not None and run["name"] != check_name:
            continue
        if status is not None and run["status"] != status:
            continue
        if app_id is not None and str(suite["app"]["id"]) != app_id:
            continue
        chosen.append(run)
    return paginate(request, [render.check_run(st, repo, r["id"]) for r in chosen], wrap="check_runs")


async def list_check_suites_for_ref(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="checks", level="read")
    check_collections(repo)
    st = store(request)
    sha = await commit_sha(request, repo, request.match_info["ref"], code=404)
    app_id = request.query.get("app_id")
    check_name = request.query.get("check_name")
    chosen = []
    for suite in sorted(repo["check_suites"].values(), key=lambda s: s["id"]):
        if suite["head_sha"] != sha or (app_id is not None and str(suite["app"]["id"]) != app_id):
            continue
        if check_name is not None and not any(
            r["check_suite_id"] == suite["id"] and r["name"] == check_name for r in repo["check_runs"].values()
        ):
            continue
        chosen.append(suite)
    return paginate(request, [render.check_suite(st, repo, s["id"]) for s in chosen], wrap="check_suites")


async def get_check_suite(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="checks", level="read")
    check_collections(repo)
    if request.match_info["check_suite_id"] not in repo["check_suites"]:
        raise not_found()
    return respond(render.check_suite(store(request), repo, int(request.match_info["check_suite_id"])))


# --- the test driver's CI apps --------------------------------------------------------------


def _sandbox_repo(request: web.Request) -> dict[str, Any]:
    repo = store(request).repo(request.match_info["owner"], request.match_info["repo"])
    if repo is None:
        raise not_found()
    check_collections(repo)
    return repo


async def ci_create_check_run(request: web.Request) -> web.Response:
    repo = _sandbox_repo(request)
    body = await read_json(request)
    slug = str(body.get("app_slug") or "ci")
    app_record = ci_app(store(request), slug, body.get("app_name"))
    store(request).user(f"{slug}[bot]", kind="Bot")
    # _create_run reads the body again; aiohttp caches it.
    return await _create_run(request, repo, app_record, f"{slug}[bot]")


async def ci_update_check_run(request: web.Request) -> web.Response:
    repo = _sandbox_repo(request)
    record = repo["check_runs"].get(request.match_info["check_run_id"])
    if record is None:
        raise not_found()
    app_record = repo["check_suites"][str(record["check_suite_id"])]["app"]
    return await _update_run(request, repo, app_record["id"], f"{app_record['slug']}[bot]")


def setup(app: web.Application) -> None:
    base = "/repos/{owner}/{repo}"
    r = app.router
    r.add_post(base + "/statuses/{sha}", create_status)
    r.add_get(base + "/commits/{ref:.+}/status", combined_status)
    r.add_get(base + "/commits/{ref:.+}/statuses", list_statuses)
    r.add_get(base + "/commits/{ref:.+}/check-runs", list_check_runs_for_ref)
    r.add_get(base + "/commits/{ref:.+}/check-suites", list_check_suites_for_ref)
    r.add_post(base + "/check-runs", create_check_run)
    r.add_get(base + "/check-runs/{check_run_id:[0-9]+}", get_check_run)
    r.add_patch(base + "/check-runs/{check_run_id:[0-9]+}", update_check_run)
    r.add_get(base + "/check-runs/{check_run_id:[0-9]+}/annotations", list_annotations)
    r.add_get(base + "/check-suites/{check_suite_id:[0-9]+}", get_check_suite)
    r.add_post("/_sandbox/ci/{owner}/{repo}/check-runs", ci_create_check_run)
    r.add_patch("/_sandbox/ci/{owner}/{repo}/check-runs/{check_run_id:[0-9]+}", ci_update_check_run)
