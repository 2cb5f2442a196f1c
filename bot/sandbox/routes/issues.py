"""Sandbox issues, labels, comments, reactions and issue events, with the webhooks GitHub sends for them.

Pull requests are issues here as on GitHub: `/issues/{n}` answers for a PR number (with its
`pull_request` key), labels and comments work on PRs, and a label change on a PR is announced as a
`pull_request` event rather than an `issues` one. Labels named on an issue that the repository lacks
are created, as GitHub does. Other sandbox modules record timeline entries with `record_issue_event`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from bot.sandbox import render
from bot.sandbox.common import (
    PERMISSION_RANK,
    Actor,
    ApiError,
    actor,
    check_app_permission,
    hooks,
    no_content,
    not_found,
    paginate,
    read_json,
    repo_for,
    respond,
    sender_login,
    store,
    user_permission,
    validation_failed,
)
from bot.sandbox.state import Store, now_iso

DEFAULT_LABEL_COLOR = "ededed"
STATE_REASONS = {"completed", "not_planned", "reopened", None}


# --- shared with other sandbox modules -----------------------------------------------------


def issue_collections(repo: dict[str, Any]) -> None:
    """The per-repository collections this module keeps, created on first use."""
    for key in ("issues", "labels", "comments", "milestones", "collaborators"):
        repo.setdefault(key, {})
    repo.setdefault("issue_events", [])


def record_issue_event(
    st: Store, repo: dict[str, Any], number: int, event: str, actor: str, **extra: Any
) -> dict[str, Any]:
    """Append one entry to an issue's (or PR's) timeline, as GET /issues/{n}/events lists it.

    extra: label={"name", "color"}, assignee=login, milestone=title, rename={"from", "to"},
    commit_id=sha, state_reason=...
    """
    issue_collections(repo)
    record = {
        "id": st.new_id(),
        "issue_number": number,
        "event": event,
        "actor": actor,
        "created_at": now_iso(),
        **extra,
    }
    repo["issue_events"].append(record)
    st.touch()
    return record


def emit_issue_event(
    request: web.Request, repo: dict[str, Any], number: int, action: str, sender: str, **extra: Any
) -> None:
    """`issues` for an issue, `pull_request` for a PR, with GitHub's payload for the action."""
    st = store(request)
    record = repo["issues"][str(number)]
    if record.get("is_pull"):
        pull_request = getattr(render, "pull_request", None)
        if pull_request is None:
            return
        payload = {"action": action, "number": number, "pull_request": pull_request(st, repo, number), **extra}
        hooks(request).emit("pull_request", payload, repo=repo, sender=sender)
    else:
        payload = {"action": action, "issue": render.issue(st, repo, number), **extra}
        hooks(request).emit("issues", payload, repo=repo, sender=sender)


def emit_milestone_event(
    request: web.Request, repo: dict[str, Any], number: int, action: str, sender: str, milestone: int
) -> None:
    """GitHub announces milestone changes as `issues` events, for pull requests too (pull_request has no such action)."""
    st = store(request)
    payload = {
        "action": action,
        "issue": render.issue(st, repo, number),
        "milestone": render.milestone(st, repo, milestone),
    }
    hooks(request).emit("issues", payload, repo=repo, sender=sender)


def ensure_label(
    st: Store, repo: dict[str, Any], name: str, color: str = DEFAULT_LABEL_COLOR, description: str | None = None
) -> dict[str, Any]:
    issue_collections(repo)
    record = repo["labels"].get(name.lower())
    if record is None:
        record = {"id": st.new_id(), "name": name, "color": color, "description": description, "default": False}
        repo["labels"][name.lower()] = record
        st.touch()
    return record


# --- permissions ---------------------------------------------------------------------------


def issue_repo(request: web.Request, *, level: str) -> dict[str, Any]:
    """The repository, readable by the caller; installations need the issues permission at `level`
    (the pull_requests permission also serves when the number is a PR, as on GitHub)."""
    repo = repo_for(request, scope="metadata", level="read")
    issue_collections(repo)
    who = actor(request)
    if who.kind == "installation":
        number = request.match_info.get("issue_number")
        comment = repo["comments"].get(request.match_info.get("comment_id", ""))
        if comment is not None:
            number = str(comment["issue_number"])
        try:
            check_app_permission(who, "issues", level)
        except ApiError:
            record = repo["issues"].get(number or "")
            if record is None or not record.get("is_pull"):
                raise
            check_app_permission(who, "pull_requests", level)
    return repo


def permission_of(st: Store, repo: dict[str, Any], who: Actor) -> str:
    """The caller's repository permission; an installation acts with write on its own repositories."""
    if who.kind == "installation":
        return "write"
    if who.kind == "user":
        return user_permission(st, repo, who.login or "")
    return "none"


def require_triage(st: Store, repo: dict[str, Any], who: Actor) -> None:
    if who.kind == "anonymous":
        raise ApiError(401, "Requires authentication")
    if PERMISSION_RANK[permission_of(st, repo, who)] < PERMISSION_RANK["triage"]:
        raise ApiError(403, "Must have triage access to repository")


def the_issue(repo: dict[str, Any], number: str) -> dict[str, Any]:
    record = repo["issues"].get(number)
    if record is None:
        raise not_found()
    return record


def parse_since(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise validation_failed("Issue", "since", message=f"'{value}' is not a valid ISO 8601 timestamp") from None
    return value


# --- labels on an issue ---------------------------------------------------------------------


def requested_labels(body: Any) -> list[str]:
    """`{"labels": [...]}`, a bare list, or `{"labels": [{"name": ...}]}` as GitHub accepts them."""
    raw = body.get("labels") if isinstance(body, dict) else body
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise validation_failed("Label", "labels")
    names = []
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else item
        if not isinstance(name, str) or not name.strip():
            raise validation_failed("Label", "name", "missing_field")
        names.append(name.strip())
    return names


def apply_labels(request: web.Request, repo: dict[str, Any], number: int, wanted: list[str], *, replace: bool) -> None:
    """Add (or, with replace, set) labels on an issue, with issue events and webhooks for each change."""
    st = store(request)
    sender = sender_login(request)
    record = repo["issues"][str(number)]
    current = list(record.get("labels", []))
    current_lower = {name.lower() for name in current}
    wanted_records = [ensure_label(st, repo, name) for name in wanted]
    wanted_lower = {lab["name"].lower() for lab in wanted_records}
    removed = [name for name in current if replace and name.lower() not in wanted_lower]
    added = []
    seen = set()
    for lab in wanted_records:
        if lab["name"].lower() not in current_lower and lab["name"].lower() not in seen:
            added.append(lab)
            seen.add(lab["name"].lower())
    if not added and not removed:
        return
    record["labels"] = [name for name in current if name not in removed] + [lab["name"] for lab in added]
    record["updated_at"] = now_iso()
    st.touch()
    for name in removed:
        lab = repo["labels"].get(name.lower())
        color = lab["color"] if lab else DEFAULT_LABEL_COLOR
        record_issue_event(st, repo, number, "unlabeled", sender, label={"name": name, "color": color})
        if lab:
            emit_issue_event(request, repo, number, "unlabeled", sender, label=render.label(st, repo, name))
    for lab in added:
        record_issue_event(st, repo, number, "labeled", sender, label={"name": lab["name"], "color": lab["color"]})
        emit_issue_event(request, repo, number, "labeled", sender, label=render.label(st, repo, lab["name"]))


def labels_answer(st: Store, repo: dict[str, Any], number: int) -> list[dict[str, Any]]:
    return [
        render.label(st, repo, name)
        for name in repo["issues"][str(number)].get("labels", [])
        if name.lower() in repo["labels"]
    ]


async def add_issue_labels(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    require_triage(st, repo, actor(request))
    record = the_issue(repo, request.match_info["issue_number"])
    body = await _read_any_json(request)
    names = requested_labels(body)
    if not names:
        raise validation_failed("Label", "labels", "missing_field")
    apply_labels(request, repo, record["number"], names, replace=False)
    return respond(labels_answer(st, repo, record["number"]))


async def set_issue_labels(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    require_triage(st, repo, actor(request))
    record = the_issue(repo, request.match_info["issue_number"])
    body = await _read_any_json(request)
    apply_labels(request, repo, record["number"], requested_labels(body), replace=True)
    return respond(labels_answer(st, repo, record["number"]))


async def remove_issue_label(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    require_triage(st, repo, actor(request))
    record = the_issue(repo, request.match_info["issue_number"])
    name = request.match_info["name"]
    on_issue = [n for n in record.get("labels", []) if n.lower() == name.lower()]
    if not on_issue:
        raise ApiError(404, "Label does not exist")
    keep = [n for n in record["labels"] if n.lower() != name.lower()]
    apply_labels(request, repo, record["number"], keep, replace=True)
    return respond(labels_answer(st, repo, record["number"]))


async def remove_all_issue_labels(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    require_triage(store(request), repo, actor(request))
    record = the_issue(repo, request.match_info["issue_number"])
    apply_labels(request, repo, record["number"], [], replace=True)
    return web.Response(status=204)


async def list_issue_labels(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    record = the_issue(repo, request.match_info["issue_number"])
    return paginate(request, labels_answer(store(request), repo, record["number"]))


async def _read_any_json(request: web.Request) -> Any:
    """Label endpoints also take a bare JSON list."""
    raw = await request.read()
    if raw.strip().startswith(b"["):
        import json

        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(400, "Problems parsing JSON") from None
    return await read_json(request)


# --- repository labels ----------------------------------------------------------------------


async def list_labels(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    st = store(request)
    names = sorted(repo["labels"].values(), key=lambda lab: lab["name"].lower())
    return paginate(request, [render.label(st, repo, lab["name"]) for lab in names])


async def create_label(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    who = actor(request)
    if who.kind == "user" and PERMISSION_RANK[user_permission(st, repo, who.login or "")] < PERMISSION_RANK["write"]:
        raise ApiError(403, "Must have push access to repository")
    body = await read_json(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise validation_failed("Label", "name", "missing_field")
    if name.strip().lower() in repo["labels"]:
        raise validation_failed("Label", "name", "already_exists")
    color = str(body.get("color") or DEFAULT_LABEL_COLOR).lstrip("#")  # GitHub keeps the case it is given
    if len(color) != 6 or any(c not in "0123456789abcdef" for c in color.lower()):
        raise validation_failed("Label", "color", "invalid")
    lab = ensure_label(st, repo, name.strip(), color, body.get("description"))
    return respond(render.label(st, repo, lab["name"]), status=201)


async def get_label(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    name = request.match_info["name"]
    if name.lower() not in repo["labels"]:
        raise not_found()
    return respond(render.label(store(request), repo, name))


def _label_write(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The repository and the label named in the path, for a caller who may change labels."""
    repo = issue_repo(request, level="write")
    who = actor(request)
    st = store(request)
    if who.kind == "user" and PERMISSION_RANK[user_permission(st, repo, who.login or "")] < PERMISSION_RANK["write"]:
        raise ApiError(403, "Must have push access to repository")
    record = repo["labels"].get(request.match_info["name"].lower())
    if record is None:
        raise not_found()
    return repo, record


async def update_label(request: web.Request) -> web.Response:
    """PATCH labels/{name}: new_name, color, description; issues carrying it carry the new name."""
    repo, record = _label_write(request)
    st = store(request)
    body = await read_json(request)
    new_name = body.get("new_name", record["name"])
    if not isinstance(new_name, str) or not new_name.strip():
        raise validation_failed("Label", "name", "missing_field")
    new_name = new_name.strip()
    if new_name.lower() != record["name"].lower() and new_name.lower() in repo["labels"]:
        raise validation_failed("Label", "name", "already_exists")
    if "color" in body:
        color = str(body.get("color") or "").lstrip("#")
        if len(color) != 6 or any(c not in "0123456789abcdef" for c in color.lower()):
            raise validation_failed("Label", "color", "invalid")
        record["color"] = color
    if "description" in body:
        record["description"] = body["description"]
    old = record["name"]
    if new_name != old:
        del repo["labels"][old.lower()]
        record["name"] = new_name
        repo["labels"][new_name.lower()] = record
        for issue_record in repo["issues"].values():
            issue_record["labels"] = [
                new_name if n.lower() == old.lower() else n for n in issue_record.get("labels", [])
            ]
    st.touch()
    return respond(render.label(st, repo, new_name))


async def delete_label(request: web.Request) -> web.Response:
    """DELETE labels/{name}: gone from the repository and from every issue that carried it."""
    repo, record = _label_write(request)
    del repo["labels"][record["name"].lower()]
    for issue_record in repo["issues"].values():
        issue_record["labels"] = [n for n in issue_record.get("labels", []) if n.lower() != record["name"].lower()]
    store(request).touch()
    return no_content()


# --- issues ---------------------------------------------------------------------------------


async def create_issue(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    who = actor(request)
    sender = sender_login(request)
    body = await read_json(request)
    title = body.get("title")
    if isinstance(title, int):
        title = str(title)
    if not isinstance(title, str) or not title.strip():
        raise validation_failed("Issue", "title", "missing_field")
    # People without triage access may open issues, but GitHub drops their labels and assignees.
    may_triage = PERMISSION_RANK[permission_of(st, repo, who)] >= PERMISSION_RANK["triage"]
    labels = requested_labels(body) if may_triage else []
    assignees = _assignees(body) if may_triage else []
    milestone = _milestone(repo, body.get("milestone")) if may_triage else None
    number = st.next_number(repo)
    stamp = now_iso()
    repo["issues"][str(number)] = {
        "id": st.new_id(),
        "number": number,
        "title": title,
        "body": body.get("body"),
        "state": "open",
        "state_reason": None,
        "user": sender,
        "labels": [],
        "assignees": [],
        "milestone": milestone,
        "locked": False,
        "created_at": stamp,
        "updated_at": stamp,
        "closed_at": None,
        "closed_by": None,
        "is_pull": False,
    }
    st.touch()
    emit_issue_event(request, repo, number, "opened", sender)
    apply_labels(request, repo, number, labels, replace=False)
    _apply_assignees(request, repo, number, assignees)
    if milestone is not None:
        record_issue_event(
            st, repo, number, "milestoned", sender, milestone=repo["milestones"][str(milestone)]["title"]
        )
    return respond(
        render.issue(st, repo, number),
        status=201,
        headers={"Location": render.api(f"/repos/{repo['full_name']}/issues/{number}")},
    )


def _assignees(body: dict[str, Any]) -> list[str]:
    raw = body.get("assignees")
    if raw is None and body.get("assignee"):
        raw = [body["assignee"]]
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        raise validation_failed("Issue", "assignees")
    return raw


def _milestone(repo: dict[str, Any], value: Any) -> int | None:
    if value is None:
        return None
    if str(value) not in repo["milestones"]:
        raise validation_failed("Issue", "milestone", "invalid")
    return int(value)


def _apply_assignees(request: web.Request, repo: dict[str, Any], number: int, wanted: list[str]) -> None:
    """Set the assignees; logins without access to the repository are ignored, as GitHub does."""
    st = store(request)
    sender = sender_login(request)
    record = repo["issues"][str(number)]
    current = list(record.get("assignees", []))
    eligible = []
    for login in wanted:
        user = st.find_user(login)
        if user is None or PERMISSION_RANK[user_permission(st, repo, user["login"])] < PERMISSION_RANK["triage"]:
            if not (user and user["login"].lower() == record["user"].lower()):
                continue
        if user["login"] not in eligible:
            eligible.append(user["login"])
    eligible = eligible[:10]
    removed = [a for a in current if a.lower() not in {e.lower() for e in eligible}]
    added = [a for a in eligible if a.lower() not in {c.lower() for c in current}]
    if not added and not removed:
        return
    record["assignees"] = [a for a in current if a not in removed] + added
    record["updated_at"] = now_iso()
    st.touch()
    for login in removed:
        record_issue_event(st, repo, number, "unassigned", sender, assignee=login)
        emit_issue_event(request, repo, number, "unassigned", sender, assignee=render.user(st, login))
    for login in added:
        record_issue_event(st, repo, number, "assigned", sender, assignee=login)
        emit_issue_event(request, repo, number, "assigned", sender, assignee=render.user(st, login))


async def get_issue(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    record = the_issue(repo, request.match_info["issue_number"])
    return respond(render.issue(store(request), repo, record["number"]))


async def update_issue(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    who = actor(request)
    sender = sender_login(request)
    record = the_issue(repo, request.match_info["issue_number"])
    number = record["number"]
    body = await read_json(request)
    is_author = who.kind == "user" and (who.login or "").lower() == record["user"].lower()
    may_triage = PERMISSION_RANK[permission_of(st, repo, who)] >= PERMISSION_RANK["triage"]
    if not may_triage and not is_author:
        raise ApiError(403, "Must have triage access to repository")
    if "state" in body and body["state"] not in ("open", "closed"):
        raise validation_failed("Issue", "state", "invalid")
    if body.get("state_reason") not in STATE_REASONS:
        raise validation_failed("Issue", "state_reason", "invalid")
    if "title" in body and (not isinstance(body["title"], (str, int)) or not str(body["title"]).strip()):
        raise validation_failed("Issue", "title", "missing_field")

    changes: dict[str, Any] = {}
    for key in ("title", "body"):
        if key in body and body[key] != record.get(key):
            if key == "title" and isinstance(body[key], int):
                body[key] = str(body[key])
            changes[key] = {"from": record.get(key)}
            if key == "title":
                record_issue_event(
                    st, repo, number, "renamed", sender, rename={"from": record["title"], "to": body["title"]}
                )
            record[key] = body[key]
    if changes:
        record["updated_at"] = now_iso()
        st.touch()
        emit_issue_event(request, repo, number, "edited", sender, changes=changes)

    if may_triage and "milestone" in body:
        new_milestone = _milestone(repo, body["milestone"])
        old_milestone = record.get("milestone")
        if new_milestone != old_milestone:
            record["milestone"] = new_milestone
            record["updated_at"] = now_iso()
            st.touch()
            if old_milestone is not None:
                title = repo["milestones"][str(old_milestone)]["title"]
                record_issue_event(st, repo, number, "demilestoned", sender, milestone=title)
                emit_milestone_event(request, repo, number, "demilestoned", sender, old_milestone)
            if new_milestone is not None:
                record_issue_event(
                    st, repo, number, "milestoned", sender, milestone=repo["milestones"][str(new_milestone)]["title"]
                )
                emit_milestone_event(request, repo, number, "milestoned", sender, new_milestone)
    if may_triage and "labels" in body:
        apply_labels(request, repo, number, requested_labels(body), replace=True)
    if may_triage and ("assignees" in body or "assignee" in body):
        _apply_assignees(
            request, repo, number, _assignees(body) if body.get("assignees") or body.get("assignee") else []
        )

    state = body.get("state")
    if state == "closed" and record["state"] == "open":
        if record.get("is_pull") and repo.get("pulls", {}).get(str(number), {}).get("merged"):
            raise validation_failed("Issue", "state", "invalid")
        stamp = now_iso()
        record.update(
            state="closed",
            closed_at=stamp,
            closed_by=sender,
            updated_at=stamp,
            state_reason=None if record.get("is_pull") else (body.get("state_reason") or "completed"),
        )
        st.touch()
        record_issue_event(st, repo, number, "closed", sender, state_reason=record["state_reason"])
        emit_issue_event(request, repo, number, "closed", sender)
    elif state == "open" and record["state"] == "closed":
        if record.get("is_pull") and repo.get("pulls", {}).get(str(number), {}).get("merged"):
            raise validation_failed("Issue", "state", "invalid")
        record.update(
            state="open",
            closed_at=None,
            closed_by=None,
            updated_at=now_iso(),
            state_reason=None if record.get("is_pull") else "reopened",
        )
        st.touch()
        record_issue_event(st, repo, number, "reopened", sender)
        emit_issue_event(request, repo, number, "reopened", sender)
    elif state == "closed" and body.get("state_reason") and body["state_reason"] != record.get("state_reason"):
        record["state_reason"] = body["state_reason"]
        st.touch()
    return respond(render.issue(st, repo, number))


SORT_KEYS = {"created": "created_at", "updated": "updated_at"}


async def list_issues(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    st = store(request)
    query = request.query
    state = query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise validation_failed("Issue", "state", "invalid")
    wanted_labels = [n.strip().lower() for n in query.get("labels", "").split(",") if n.strip()]
    creator = query.get("creator", "").lower()
    assignee = query.get("assignee")
    since = parse_since(query.get("since"))
    sort = query.get("sort", "created")
    if sort not in ("created", "updated", "comments"):
        raise validation_failed("Issue", "sort", "invalid")
    direction = query.get("direction", "desc")
    milestone = query.get("milestone")
    chosen = []
    for record in repo["issues"].values():
        if state != "all" and record["state"] != state:
            continue
        have = {n.lower() for n in record.get("labels", [])}
        if any(n not in have for n in wanted_labels):
            continue
        if creator and record["user"].lower() != creator:
            continue
        assigned = [a.lower() for a in record.get("assignees", [])]
        if assignee == "none" and assigned:
            continue
        if assignee == "*" and not assigned:
            continue
        if assignee not in (None, "none", "*") and assignee.lower() not in assigned:
            continue
        if milestone == "none" and record.get("milestone") is not None:
            continue
        if milestone == "*" and record.get("milestone") is None:
            continue
        if milestone not in (None, "none", "*") and str(record.get("milestone")) != milestone:
            continue
        if since and record["updated_at"] < since:
            continue
        chosen.append(record)
    if sort == "comments":
        counts: dict[int, int] = {}
        for c in repo["comments"].values():
            counts[c["issue_number"]] = counts.get(c["issue_number"], 0) + 1
        chosen.sort(key=lambda r: (counts.get(r["number"], 0), r["number"]), reverse=direction != "asc")
    else:
        chosen.sort(key=lambda r: (r[SORT_KEYS[sort]], r["number"]), reverse=direction != "asc")
    return paginate(request, [render.issue(st, repo, r["number"]) for r in chosen])


# --- comments -------------------------------------------------------------------------------


async def create_comment(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    sender = sender_login(request)
    record = the_issue(repo, request.match_info["issue_number"])
    body = await read_json(request)
    text = body.get("body")
    if not isinstance(text, str) or not text.strip():
        raise validation_failed("IssueComment", "body", "missing_field")
    if len(text) > 65536:
        raise validation_failed("IssueComment", "body", "custom", "Body is too long (maximum is 65536 characters)")
    if record.get("locked") and PERMISSION_RANK[permission_of(st, repo, actor(request))] < PERMISSION_RANK["write"]:
        raise ApiError(403, "Unable to create comment because issue is locked.")
    comment_id = st.new_id()
    stamp = now_iso()
    repo["comments"][str(comment_id)] = {
        "id": comment_id,
        "issue_number": record["number"],
        "user": sender,
        "body": text,
        "created_at": stamp,
        "updated_at": stamp,
        "reactions": {},
        "reaction_records": [],
    }
    record["updated_at"] = stamp
    st.touch()
    hooks(request).emit(
        "issue_comment",
        {
            "action": "created",
            "issue": render.issue(st, repo, record["number"]),
            "comment": render.comment(st, repo, comment_id),
        },
        repo=repo,
        sender=sender,
    )
    return respond(
        render.comment(st, repo, comment_id),
        status=201,
        headers={"Location": render.api(f"/repos/{repo['full_name']}/issues/comments/{comment_id}")},
    )


def _comments_since(request: web.Request, comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    since = parse_since(request.query.get("since"))
    if since:
        comments = [c for c in comments if c["updated_at"] >= since]
    return comments


async def list_issue_comments(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    st = store(request)
    record = the_issue(repo, request.match_info["issue_number"])
    comments = sorted(
        (c for c in repo["comments"].values() if c["issue_number"] == record["number"]), key=lambda c: c["id"]
    )
    return paginate(request, [render.comment(st, repo, c["id"]) for c in _comments_since(request, comments)])


async def list_repo_comments(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    st = store(request)
    sort = request.query.get("sort", "created")
    if sort not in ("created", "updated"):
        raise validation_failed("IssueComment", "sort", "invalid")
    key = SORT_KEYS[sort]
    comments = sorted(
        repo["comments"].values(),
        key=lambda c: (c[key], c["id"]),
        reverse=request.query.get("direction", "asc") == "desc",
    )
    return paginate(request, [render.comment(st, repo, c["id"]) for c in _comments_since(request, comments)])


def the_comment(repo: dict[str, Any], comment_id: str) -> dict[str, Any]:
    record = repo["comments"].get(comment_id)
    if record is None:
        raise not_found()
    return record


def _may_change_comment(st: Store, repo: dict[str, Any], who: Actor, comment: dict[str, Any]) -> None:
    if who.kind == "user" and (who.login or "").lower() == comment["user"].lower():
        return
    if who.kind == "installation" and comment["user"].lower() == (who.login or "").lower():
        return
    if PERMISSION_RANK[permission_of(st, repo, who)] < PERMISSION_RANK["write"]:
        raise ApiError(403, "Must have push access to repository")


async def get_comment(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    record = the_comment(repo, request.match_info["comment_id"])
    return respond(render.comment(store(request), repo, record["id"]))


async def update_comment(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    sender = sender_login(request)
    record = the_comment(repo, request.match_info["comment_id"])
    _may_change_comment(st, repo, actor(request), record)
    body = await read_json(request)
    text = body.get("body")
    if not isinstance(text, str) or not text.strip():
        raise validation_failed("IssueComment", "body", "missing_field")
    if text != record["body"]:
        previous = record["body"]
        record["body"] = text
        record["updated_at"] = now_iso()
        st.touch()
        hooks(request).emit(
            "issue_comment",
            {
                "action": "edited",
                "changes": {"body": {"from": previous}},
                "issue": render.issue(st, repo, record["issue_number"]),
                "comment": render.comment(st, repo, record["id"]),
            },
            repo=repo,
            sender=sender,
        )
    return respond(render.comment(st, repo, record["id"]))


async def delete_comment(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    sender = sender_login(request)
    record = the_comment(repo, request.match_info["comment_id"])
    _may_change_comment(st, repo, actor(request), record)
    rendered = render.comment(st, repo, record["id"])
    del repo["comments"][str(record["id"])]
    st.touch()
    hooks(request).emit(
        "issue_comment",
        {"action": "deleted", "issue": render.issue(st, repo, record["issue_number"]), "comment": rendered},
        repo=repo,
        sender=sender,
    )
    return web.Response(status=204)


# --- reactions on comments ------------------------------------------------------------------


async def create_reaction(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    sender = sender_login(request)
    record = the_comment(repo, request.match_info["comment_id"])
    body = await read_json(request)
    content = body.get("content")
    if content not in render.REACTION_CONTENTS:
        raise validation_failed("Reaction", "content", "invalid")
    records = record.setdefault("reaction_records", [])
    for existing in records:
        if existing["user"].lower() == sender.lower() and existing["content"] == content:
            return respond(render.reaction(st, existing), status=200)
    reaction = {"id": st.new_id(), "user": sender, "content": content, "created_at": now_iso()}
    records.append(reaction)
    record.setdefault("reactions", {}).setdefault(content, []).append(sender)
    st.touch()
    return respond(render.reaction(st, reaction), status=201)


async def list_reactions(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    st = store(request)
    record = the_comment(repo, request.match_info["comment_id"])
    content = request.query.get("content")
    if content is not None and content not in render.REACTION_CONTENTS:
        raise validation_failed("Reaction", "content", "invalid")
    chosen = [r for r in record.get("reaction_records", []) if content is None or r["content"] == content]
    return paginate(request, [render.reaction(st, r) for r in chosen])


async def delete_reaction(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    who = actor(request)
    record = the_comment(repo, request.match_info["comment_id"])
    reaction_id = request.match_info["reaction_id"]
    for reaction in record.get("reaction_records", []):
        if str(reaction["id"]) == reaction_id:
            if reaction["user"].lower() != (who.login or "").lower():
                raise ApiError(403, "Must be the author of the reaction")
            record["reaction_records"].remove(reaction)
            logins = record.get("reactions", {}).get(reaction["content"], [])
            if reaction["user"] in logins:
                logins.remove(reaction["user"])
            st.touch()
            return web.Response(status=204)
    raise not_found()


# --- milestones -----------------------------------------------------------------------------


async def list_milestones(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    st = store(request)
    state = request.query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise validation_failed("Milestone", "state", "invalid")
    sort = request.query.get("sort", "due_on")
    if sort not in ("due_on", "completeness"):
        raise validation_failed("Milestone", "sort", "invalid")
    chosen = [m for m in repo["milestones"].values() if state == "all" or m.get("state", "open") == state]
    if sort == "due_on":
        chosen.sort(key=lambda m: (m.get("due_on") is None, m.get("due_on") or "", m["number"]))
    else:
        chosen.sort(key=lambda m: m["number"])
    if request.query.get("direction", "asc") == "desc":
        chosen.reverse()
    return paginate(request, [render.milestone(st, repo, m["number"]) for m in chosen])


async def create_milestone(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="write")
    st = store(request)
    who = actor(request)
    if PERMISSION_RANK[permission_of(st, repo, who)] < PERMISSION_RANK["write"]:
        raise ApiError(403, "Must have push access to repository")
    body = await read_json(request)
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        raise validation_failed("Milestone", "title", "missing_field")
    if any(m["title"] == title for m in repo["milestones"].values()):
        raise validation_failed("Milestone", "title", "already_exists")
    state = body.get("state", "open")
    if state not in ("open", "closed"):
        raise validation_failed("Milestone", "state", "invalid")
    number = max((m["number"] for m in repo["milestones"].values()), default=0) + 1
    stamp = now_iso()
    repo["milestones"][str(number)] = {
        "id": st.new_id(),
        "number": number,
        "title": title,
        "description": body.get("description"),
        "state": state,
        "due_on": body.get("due_on"),
        "creator": sender_login(request),
        "created_at": stamp,
        "updated_at": stamp,
        "closed_at": stamp if state == "closed" else None,
    }
    st.touch()
    return respond(render.milestone(st, repo, number), status=201)


async def get_milestone(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    number = request.match_info["milestone_number"]
    if number not in repo["milestones"]:
        raise not_found()
    return respond(render.milestone(store(request), repo, int(number)))


# --- issue events ---------------------------------------------------------------------------


async def list_issue_events(request: web.Request) -> web.Response:
    repo = issue_repo(request, level="read")
    st = store(request)
    record = the_issue(repo, request.match_info["issue_number"])
    events = [e for e in repo["issue_events"] if e["issue_number"] == record["number"]]
    return paginate(request, [render.issue_event(st, repo, e) for e in events])


def setup(app: web.Application) -> None:
    base = "/repos/{owner}/{repo}"
    r = app.router
    r.add_get(base + "/issues", list_issues)
    r.add_post(base + "/issues", create_issue)
    r.add_get(base + "/issues/comments", list_repo_comments)
    r.add_get(base + "/issues/comments/{comment_id:[0-9]+}", get_comment)
    r.add_patch(base + "/issues/comments/{comment_id:[0-9]+}", update_comment)
    r.add_delete(base + "/issues/comments/{comment_id:[0-9]+}", delete_comment)
    r.add_get(base + "/issues/comments/{comment_id:[0-9]+}/reactions", list_reactions)
    r.add_post(base + "/issues/comments/{comment_id:[0-9]+}/reactions", create_reaction)
    r.add_delete(base + "/issues/comments/{comment_id:[0-9]+}/reactions/{reaction_id:[0-9]+}", delete_reaction)
    r.add_get(base + "/issues/{issue_number:[0-9]+}", get_issue)
    r.add_patch(base + "/issues/{issue_number:[0-9]+}", update_issue)
    r.add_get(base + "/issues/{issue_number:[0-9]+}/labels", list_issue_labels)
    r.add_post(base + "/issues/{issue_number:[0-9]+}/labels", add_issue_labels)
    r.add_put(base + "/issues/{issue_number:[0-9]+}/labels", set_issue_labels)
    r.add_delete(base + "/issues/{issue_number:[0-9]+}/labels", remove_all_issue_labels)
    r.add_delete(base + "/issues/{issue_number:[0-9]+}/labels/{name:.+}", remove_issue_label)
    r.add_get(base + "/issues/{issue_number:[0-9]+}/comments", list_issue_comments)
    r.add_post(base + "/issues/{issue_number:[0-9]+}/comments", create_comment)
    r.add_get(base + "/issues/{issue_number:[0-9]+}/events", list_issue_events)
    r.add_get(base + "/milestones", list_milestones)
    r.add_post(base + "/milestones", create_milestone)
    r.add_get(base + "/milestones/{milestone_number:[0-9]+}", get_milestone)
    r.add_get(base + "/labels", list_labels)
    r.add_post(base + "/labels", create_label)
    r.add_get(base + "/labels/{name:.+}", get_label)
    r.add_patch(base + "/labels/{name:.+}", update_label)
    r.add_delete(base + "/labels/{name:.+}", delete_label)
