"""Repositories and their history: create/get/update, contents, commits, branches, compare, merges, activity, and ref-change events."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.sandbox import render
from bot.sandbox.common import (
    BRANCH_LISTENERS,
    ApiError,
    actor,
    git,
    hooks,
    media_response,
    no_content,
    not_found,
    page_params,
    paginate,
    read_json,
    repo_for,
    requested_media,
    require_login,
    respond,
    sender_login,
    store,
    validation_failed,
)
from bot.sandbox.git import NULL_SHA, Person, TreeEntry, iso_now, iso_to_git, valid_ref_name
from bot.sandbox.protection import guard_ref, protection_summary
from bot.sandbox.state import Store, now_iso
from bot.sandbox.workflows import guard_workflows

DEFAULT_LABELS = (
    ("bug", "d73a4a", "Something isn't working"),
    ("documentation", "0075ca", "Improvements or additions to documentation"),
    ("duplicate", "cfd3d7", "This issue or pull request already exists"),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("invalid", "e4e669", "This doesn't seem right"),
    ("question", "d876e3", "Further information is requested"),
    ("wontfix", "ffffff", "This will not be worked on"),
)
MAX_PUSH_COMMITS = 20


def person(st: Store, login: str, date: str | None = None) -> Person:
    """The author/committer identity GitHub gives a commit made through the API as `login`."""
    return Person(name=login, email=render.person_email(st, login), date=date or iso_now())


def person_from_body(st: Store, given: Any, fallback: Person, field_name: str) -> Person:
    """author/committer objects of a request body ({name, email, date?}), else the caller."""
    if given is None:
        return fallback
    if not isinstance(given, dict) or not isinstance(given.get("name"), str) or not isinstance(given.get("email"), str):
        raise validation_failed("Commit", field_name, "invalid", f"{field_name} must have name and email")
    date = given.get("date") or fallback.date
    try:
        iso_to_git(date)
    except (ValueError, TypeError):
        raise validation_failed("Commit", f"{field_name}.date", "invalid") from None
    return Person(name=given["name"], email=given["email"], date=date)


# ref changes: one place that every route calls ---------------------------------------------------


async def publish_ref_change(
    request: web.Request,
    repo: dict[str, Any],
    ref: str,
    before: str | None,
    after: str | None,
    *,
    forced: bool | None = None,
    activity_type: str | None = None,
) -> None:
    """Everything GitHub does after a ref moved: push, create/delete, the repository's activity, PR head/base updates.

    activity_type: how the repository's activity names a branch change when it is not a plain,
    forced, creating or deleting push (a PR merge: "pr_merge").
    """
    st, repos, sender = store(request), git(request), sender_login(request)
    full = repo["full_name"]
    before = before if before and before != NULL_SHA else None
    after = after if after and after != NULL_SHA else None
    if before == after:
        return
    if forced is None:
        forced = bool(before and after and not await repos.is_ancestor(full, before, after))
    kind = "branch" if ref.startswith("refs/heads/") else "tag"
    short = ref.split("/", 2)[2]
    default_branch = repo.get("default_branch", "main")
    commits: list[dict[str, Any]] = []
    head_commit = None
    if after:
        if before:
            new_shas = await repos.rev_list(full, after, before, reverse=True)
        elif kind == "branch" and short != default_branch and await repos.ref(full, f"refs/heads/{default_branch}"):
            new_shas = await repos.rev_list(full, after, f"refs/heads/{default_branch}", reverse=True)
        else:
            new_shas = []
        for commit in await repos.read_commits(full, new_shas[-MAX_PUSH_COMMITS:]):
            files = await repos.diff(full, commit.parents[0] if commit.parents else None, commit.sha, patches=False)
            commits.append(render.push_commit(st, repo, commit, files))
        peeled = await repos.peel_commit(full, after)
        head = await repos.read_commit(full, peeled) if peeled else None
        if head is not None:
            files = await repos.diff(full, head.parents[0] if head.parents else None, head.sha, patches=False)
            head_commit = render.push_commit(st, repo, head, files)
    if before and after:
        compare = render.html(f"/{full}/compare/{before[:12]}...{after[:12]}")
    elif after:
        compare = (
            render.html(f"/{full}/commit/{after}") if kind == "branch" else render.html(f"/{full}/compare/{short}")
        )
    else:
        compare = render.html(f"/{full}/compare/{before[:12] if before else ''}...{NULL_SHA[:12]}")
    base_ref = None
    if kind == "tag" and head_commit is not None:
        # GitHub names the branch whose head the tag points at, if any (the default branch first).
        heads = [name for name, sha, _ in await repos.refs(full, "refs/heads/") if sha == head_commit["id"]]
        preferred = f"refs/heads/{default_branch}"
        base_ref = preferred if preferred in heads else (heads[0] if heads else None)
    repo["pushed_at"] = now_iso()
    if kind == "branch":
        kind_of_change = (
            "branch_creation"
            if before is None
            else "branch_deletion"
            if after is None
            else "force_push"
            if forced
            else activity_type or "push"
        )
        repo.setdefault("activity", []).append(
            {
                "id": st.new_id(),
                "before": before or NULL_SHA,
                "after": after or NULL_SHA,
                "ref": ref,
                "timestamp": repo["pushed_at"],
                "activity_type": kind_of_change,
                "actor": sender,
            }
        )
    st.touch()
    bus = hooks(request)
    bus.emit(
        "push",
        {
            "ref": ref,
            "before": before or NULL_SHA,
            "after": after or NULL_SHA,
            "created": before is None,
            "deleted": after is None,
            "forced": forced,
            "base_ref": base_ref,
            "compare": compare,
            "commits": commits,
            "head_commit": head_commit,
            "pusher": {"name": sender, "email": render.person_email(st, sender)},
        },
        repo=repo,
        sender=sender,
    )
    if before is None:
        bus.emit(
            "create",
            {
                "ref": short,
                "ref_type": kind,
                "master_branch": default_branch,
                "description": repo.get("description"),
                "pusher_type": "user",
            },
            repo=repo,
            sender=sender,
        )
    if after is None:
        bus.emit("delete", {"ref": short, "ref_type": kind, "pusher_type": "user"}, repo=repo, sender=sender)
    if kind == "branch":
        for listener in request.app.get(BRANCH_LISTENERS, ()):
            await listener(request, repo, short, before, after)


async def move_ref(
    request: web.Request,
    repo: dict[str, Any],
    ref: str,
    new: str,
    old: str | None,
    *,
    api: str | None = "refs",
    activity_type: str | None = None,
) -> None:
    """Compare-and-swap a ref (old None: must not exist), then publish the change; 409 when it moved.

    api names the door the change came through, so that protection refuses it in that door's words
    (bot/sandbox/protection.guard_ref); None when the caller already held it to protection (a PR merge).
    """
    repos = git(request)
    if api is not None:
        await guard_ref(request, repo, ref, old, new, api=api)
    await guard_workflows(request, repo, old, new)
    if not await repos.update_ref(repo["full_name"], ref, new, old or NULL_SHA):
        raise ApiError(409, "Reference cannot be updated")
    await publish_ref_change(request, repo, ref, old, new, activity_type=activity_type)


ACTIVITY_TYPES = ("push", "force_push", "branch_creation", "branch_deletion", "pr_merge", "merge_queue_merge")
TIME_PERIODS = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}


async def list_activity(request: web.Request) -> web.Response:
    """The repository's branch changes, newest first unless `direction=asc`, with the filters GitHub documents.

    Cursor pagination as GitHub does it: Link rel="next" carries `after=` (an opaque cursor here:
    the last item's id).
    """
    from datetime import UTC, datetime, timedelta

    repo = repo_for(request, scope="contents")
    st = store(request)
    query = request.query
    direction = query.get("direction", "desc")
    wanted_type = query.get("activity_type")
    period = query.get("time_period")
    for name, value, allowed in (
        ("direction", direction, ("asc", "desc")),
        ("activity_type", wanted_type, (None, *ACTIVITY_TYPES)),
        ("time_period", period, (None, *TIME_PERIODS)),
    ):
        if value not in allowed:
            # GitHub's simple validation answer: the errors are strings.
            raise ApiError(422, "Validation Failed", [f"{name} is not one of {', '.join(a for a in allowed if a)}"])
    try:
        per_page = max(1, min(100, int(query.get("per_page", "30"))))
        cursor = int(query["after"]) if query.get("after") else None
    except ValueError:
        raise ApiError(422, "Invalid pagination parameters") from None
    ref = query.get("ref")
    if ref is not None and not ref.startswith("refs/"):
        ref = f"refs/heads/{ref}"
    since = (
        (datetime.now(UTC) - timedelta(days=TIME_PERIODS[period])).strftime("%Y-%m-%dT%H:%M:%SZ")
        if period is not None
        else None
    )
    items = [
        item
        for item in repo.get("activity", [])
        if (ref is None or item["ref"] == ref)
        and (wanted_type is None or item["activity_type"] == wanted_type)
        and (query.get("actor") is None or item["actor"].lower() == query["actor"].lower())
        and (since is None or item["timestamp"] >= since)
    ]
    if direction == "desc":
        items.reverse()
    if cursor is not None:
        ids = [item["id"] for item in items]
        items = items[ids.index(cursor) + 1 :] if cursor in ids else []
    page, more = items[:per_page], len(items) > per_page
    headers = None
    if more:
        next_query = {**query, "per_page": str(per_page), "after": str(page[-1]["id"])}
        headers = {"Link": f'<{request.url.with_query(None)}?{urlencode(next_query)}>; rel="next"'}
    shaped = [
        {**item, "node_id": render.node("Activity", item["id"]), "actor": render.user(st, item["actor"])}
        for item in page
    ]
    return respond(shaped, headers=headers)


# repositories ------------------------------------------------------------------------------------


def new_repo_record(st: Store, owner: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    created = now_iso()
    labels = {}
    for label_name, color, description in DEFAULT_LABELS:
        labels[label_name] = {
            "id": st.new_id(),
            "name": label_name,
            "color": color,
            "description": description,
            "default": True,
        }
    return {
        "id": st.new_id(),
        "name": name,
        "full_name": f"{owner}/{name}",
        "owner": {"login": owner},
        "private": bool(body.get("private", False)) or body.get("visibility") in ("private", "internal"),
        "description": body.get("description"),
        "homepage": body.get("homepage"),
        "default_branch": "main",
        "created_at": created,
        "updated_at": created,
        "pushed_at": created,
        "issues": {},
        "pulls": {},
        "labels": labels,
        "comments": {},
        "issue_events": [],
        "collaborators": {},
        "next_number": 0,
    }


async def create_repo(request: web.Request, owner: str, creator: str) -> web.Response:
    st, repos = store(request), git(request)
    body = await read_json(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise validation_failed("Repository", "name", "missing_field")
    name = name.strip().replace(" ", "-")
    try:
        repos.path(f"{owner}/{name}")
    except ValueError:
        raise validation_failed("Repository", "name", "invalid", "name is not a valid repository name") from None
    if st.repo(owner, name) is not None:
        raise validation_failed("Repository", "name", "custom", "name already exists on this account")
    record = new_repo_record(st, st.user(owner)["login"], name, body)
    org_admins = {a.lower() for a in (st.find_user(owner) or {}).get("admins", [])}
    if creator.lower() != owner.lower() and creator.lower() not in org_admins:
        record["collaborators"][creator.lower()] = "admin"  # GitHub makes whoever creates a repository its admin
    full = record["full_name"]
    await repos.init(full)
    st.add_repo(record)
    if body.get("auto_init"):
        who = person(st, creator)
        blob = await repos.write_blob(full, f"# {name}\n{(record['description'] or '')}\n".encode())
        tree = await repos.write_tree(full, None, {"README.md": TreeEntry("100644", "blob", blob, "README.md")})
        sha = await repos.commit_tree(full, tree, [], "Initial commit", author=who, committer=who)
        await repos.update_ref(full, "refs/heads/main", sha, NULL_SHA)
    hooks(request).emit("repository", {"action": "created"}, repo=record, sender=creator)
    return respond(render.repository(st, record), status=201)


async def create_org_repo(request: web.Request) -> web.Response:
    who = require_login(request)
    if who.kind != "user":
        raise ApiError(403, "Resource not accessible by integration")
    st = store(request)
    org_login = request.match_info["org"]
    org = st.find_user(org_login)
    creator = who.login or ""
    owns_repos = org is not None and any(
        r["owner"]["login"].lower() == org_login.lower() for r in st.data["repos"].values()
    )
    if org is None or (
        org.get("type") != "Organization"
        and not org.get("admins")
        and not owns_repos
        and org_login.lower() != creator.lower()
    ):
        # The organisation comes into being on first use, owned by whoever creates its first repository.
        org = st.user(org_login, kind="Organization")
        org["type"] = "Organization"
        st.touch()
    if org.get("type") != "Organization":
        raise not_found()
    if not org.get("admins"):
        org["admins"] = [
            creator
        ]  # an org seen before (a team, say) but never owned: its first repository's creator owns it
        st.touch()
    # Members may create repositories too (GitHub's default for an organisation); a member is on one of its teams.
    prefix = org["login"].lower() + "/"
    is_member = any(
        key.lower().startswith(prefix) and creator.lower() in team.get("members", {})
        for key, team in st.data["teams"].items()
    )
    if creator.lower() not in {a.lower() for a in org.get("admins", [])} and not is_member:
        raise ApiError(403, "You need admin access to the organization before adding a repository to it.")
    return await create_repo(request, org["login"], creator)


async def create_user_repo(request: web.Request) -> web.Response:
    who = require_login(request)
    if who.kind != "user":
        raise ApiError(403, "Resource not accessible by integration")
    return await create_repo(request, who.login or "", who.login or "")


async def get_repo(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="metadata", level="read")
    body = render.repository(store(request), repo)
    who = actor(request)
    if who.kind == "user":
        from bot.sandbox.common import PERMISSION_RANK, user_permission

        rank = PERMISSION_RANK[user_permission(store(request), repo, who.login or "")]
        body["permissions"] = {
            "admin": rank >= 5,
            "maintain": rank >= 4,
            "push": rank >= 3,
            "triage": rank >= 2,
            "pull": rank >= 1,
        }
        if rank >= 3:
            body["temp_clone_token"] = ""  # GitHub's token for cloning over HTTPS, given to writers ("" here)
    return respond(body)


async def update_repo(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="administration", level="admin")
    st, repos = store(request), git(request)
    body = await read_json(request)
    if "default_branch" in body:
        branch = body["default_branch"]
        if not isinstance(branch, str) or await repos.ref(repo["full_name"], f"refs/heads/{branch}") is None:
            raise validation_failed(
                "Repository",
                "default_branch",
                "invalid",
                f"The branch {branch} was not found. Please push that ref first or create it via the Git Data API.",
            )
        repo["default_branch"] = branch
        await repos.set_head(repo["full_name"], branch)
    for key in ("description", "homepage"):
        if key in body:
            repo[key] = body[key]
    if "private" in body:
        repo["private"] = bool(body["private"])
    if "archived" in body:
        repo["archived"] = bool(body["archived"])
    if "allow_auto_merge" in body:
        repo["allow_auto_merge"] = bool(body["allow_auto_merge"])
    repo["updated_at"] = now_iso()
    st.touch()
    return respond(render.repository(st, repo))


# contents ----------------------------------------------------------------------------------------


def _content_links(repo: dict[str, Any], path: str, ref: str, sha: str, kind: str) -> dict[str, Any]:
    full = repo["full_name"]
    url = render.api(f"/repos/{full}/contents/{path}?ref={ref}")
    git_url = render.api(f"/repos/{full}/git/{'trees' if kind == 'dir' else 'blobs'}/{sha}")
    html_url = render.html(f"/{full}/{'tree' if kind == 'dir' else 'blob'}/{ref}/{path}")
    return {
        "url": url,
        "html_url": html_url,
        "git_url": git_url,
        "download_url": render.html(f"/{full}/raw/{ref}/{path}") if kind == "file" else None,
        "_links": {"self": url, "git": git_url, "html": html_url},
    }


def content_entry(repo: dict[str, Any], entry: TreeEntry, path: str, ref: str) -> dict[str, Any]:
    kind = {"tree": "dir", "commit": "submodule"}.get(entry.type, "symlink" if entry.mode == "120000" else "file")
    return {
        "type": kind,
        "size": entry.size or 0,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": entry.sha,
        **_content_links(repo, path, ref, entry.sha, kind),
    }


async def get_contents(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    repos = git(request)
    full = repo["full_name"]
    path = request.match_info.get("path", "").strip("/")
    ref = request.query.get("ref") or repo.get("default_branch", "main")
    commit_sha = await repos.resolve_commit(full, ref)
    if commit_sha is None:
        raise ApiError(404, f"No commit found for the ref {ref}")
    entry = await repos.entry_at(full, commit_sha, path)
    if entry is None:
        raise not_found()
    if entry.type == "tree":
        listing = await repos.ls_tree(full, entry.sha)
        return respond([content_entry(repo, e, f"{path}/{e.path}" if path else e.path, ref) for e in listing])
    if entry.type == "blob" and requested_media(request, "raw"):
        return media_response(request, await repos.read_blob(full, entry.sha) or b"", "raw")
    body = content_entry(repo, entry, path, ref)
    if entry.type == "blob":
        raw = await repos.read_blob(full, entry.sha) or b""
        encoded = base64.b64encode(raw).decode()
        body["content"] = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60)) + ("\n" if encoded else "")
        body["encoding"] = "base64"
        body["size"] = len(raw)
    return respond(body)


async def put_contents(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    path = request.match_info.get("path", "").strip("/")
    body = await read_json(request)
    if not path or any(part in ("", ".", "..", ".git") for part in path.split("/")):
        raise validation_failed("Contents", "path", "invalid")
    if not isinstance(body.get("message"), str):
        raise validation_failed("Contents", "message", "missing_field")
    if not isinstance(body.get("content"), str):
        raise validation_failed("Contents", "content", "missing_field")
    try:
        content = base64.b64decode(body["content"], validate=False)
    except (binascii.Error, ValueError):
        raise ApiError(422, "content is not valid Base64") from None
    default_branch = repo.get("default_branch", "main")
    branch = body.get("branch") or default_branch
    ref = f"refs/heads/{branch}"
    if not valid_ref_name(ref):
        raise validation_failed("Contents", "branch", "invalid")
    caller = person(st, sender_login(request))
    committer = person_from_body(st, body.get("committer"), caller, "committer")
    author = person_from_body(
        st, body.get("author"), committer, "author"
    )  # GitHub: the author defaults to the committer
    async with repos.lock(full):
        parent = await repos.ref(full, ref)
        if parent is None and (branch != default_branch or await repos.refs(full, "refs/heads/")):
            raise ApiError(404, f"Branch {branch} not found")
        existing = await repos.entry_at(full, parent, path) if parent else None
        if existing is not None and existing.type == "tree":
            raise ApiError(422, f"{path} is a directory")
        given_sha = body.get("sha")
        if existing is not None and not given_sha:
            raise validation_failed("Contents", "sha", "missing_field", '"sha" wasn\'t supplied.')
        if existing is not None and given_sha != existing.sha:
            raise ApiError(409, f"{path} does not match {given_sha}")
        blob = await repos.write_blob(full, content)
        base_tree = await repos.tree_of(full, parent) if parent else None
        tree = await repos.write_tree(
            full, base_tree, {path: TreeEntry(existing.mode if existing else "100644", "blob", blob, path)}
        )
        sha = await repos.commit_tree(
            full, tree, [parent] if parent else [], body["message"], author=author, committer=committer
        )
        await move_ref(request, repo, ref, sha, parent, api="contents")
    commit = await repos.read_commit(full, sha)
    entry = await repos.entry_at(full, sha, path)
    assert commit is not None and entry is not None
    answer = {"content": content_entry(repo, entry, path, branch), "commit": render.git_commit(st, repo, commit)}
    return respond(answer, status=200 if existing is not None else 201)


async def delete_contents(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="write")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    path = request.match_info.get("path", "").strip("/")
    body = await read_json(request)
    if not isinstance(body.get("message"), str):
        raise validation_failed("Contents", "message", "missing_field")
    if not isinstance(body.get("sha"), str):
        raise validation_failed("Contents", "sha", "missing_field")
    branch = body.get("branch") or repo.get("default_branch", "main")
    ref = f"refs/heads/{branch}"
    caller = person(st, sender_login(request))
    async with repos.lock(full):
        parent = await repos.ref(full, ref) if valid_ref_name(ref) else None
        if parent is None:
            raise ApiError(404, f"Branch {branch} not found")
        existing = await repos.entry_at(full, parent, path)
        if existing is None or existing.type == "tree":
            raise not_found()
        if body["sha"] != existing.sha:
            raise ApiError(409, f"{path} does not match {body['sha']}")
        base_tree = await repos.tree_of(full, parent)
        tree = await repos.write_tree(full, base_tree, {path: None})
        sha = await repos.commit_tree(
            full,
            tree,
            [parent],
            body["message"],
            author=person_from_body(st, body.get("author"), caller, "author"),
            committer=person_from_body(st, body.get("committer"), caller, "committer"),
        )
        await move_ref(request, repo, ref, sha, parent, api="contents")
    commit = await repos.read_commit(full, sha)
    assert commit is not None
    return respond({"content": None, "commit": render.git_commit(st, repo, commit)})


# commits, branches, compare ----------------------------------------------------------------------


async def list_commits(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    start = request.query.get("sha") or repo.get("default_branch", "main")
    head = await repos.resolve_commit(full, start)
    if head is None:
        if not await repos.refs(full, "refs/heads/"):
            raise ApiError(409, "Git Repository is empty.")
        raise not_found()
    page, per_page = page_params(request)
    args = ["rev-list", head]
    if request.query.get("path"):
        args += ["--", request.query["path"]]
    shas = (await repos.out(full, *args)).split()
    chunk = set(shas[(page - 1) * per_page : page * per_page])
    commits = {c.sha: c for c in await repos.read_commits(full, [s for s in shas if s in chunk])}
    items: list[Any] = [render.commit(st, repo, commits[s]) if s in chunk else None for s in shas]
    return paginate(request, items)


async def get_commit(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    ref = request.match_info["ref"]
    sha = await repos.resolve_commit(full, ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    commit = await repos.read_commit(full, sha)
    assert commit is not None
    parent = commit.parents[0] if commit.parents else None
    media = requested_media(request, "diff", "patch", "sha")
    if media == "sha":
        return media_response(request, sha.encode(), media)
    if media == "diff":
        return media_response(request, await repos.unified_diff(full, parent, sha), media)
    if media == "patch":
        return media_response(request, await repos.format_patch(full, parent, sha), media)
    files = await repos.diff(full, parent, sha)
    return respond(render.commit(st, repo, commit, files))


async def get_branch(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    st, repos = store(request), git(request)
    name = request.match_info["branch"]
    sha = await repos.ref(repo["full_name"], f"refs/heads/{name}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    head = await repos.read_commit(repo["full_name"], sha)
    return respond(render.branch(st, repo, name, head, protection_summary(repo, name)))


async def list_branches(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    full = repo["full_name"]
    wanted = request.query.get("protected")
    branches = []
    for ref, sha, _ in await git(request).refs(full, "refs/heads/"):
        name = ref[len("refs/heads/") :]
        summary = protection_summary(repo, name)
        if wanted in ("true", "false") and summary["protected"] != (wanted == "true"):
            continue
        branch = {"name": name, "commit": {"sha": sha, "url": render.api(f"/repos/{full}/commits/{sha}")}, **summary}
        branch["protection_url"] = render.api(f"/repos/{full}/branches/{name}/protection")
        branches.append(branch)
    return paginate(request, branches)


async def compare(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="contents", level="read")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    basehead = request.match_info["basehead"]
    base_name, sep, head_name = basehead.partition("...")
    if not sep:
        base_name, sep, head_name = basehead.partition("..")
    if not sep or not base_name or not head_name:
        raise not_found()
    base_sha = await repos.resolve_commit(full, base_name)
    head_sha = await repos.resolve_commit(full, head_name)
    if base_sha is None or head_sha is None:
        raise not_found()
    merge_base = await repos.merge_base(full, base_sha, head_sha)
    if merge_base is None:
        raise ApiError(404, f"No common ancestor between {base_name} and {head_name}.")
    media = requested_media(request, "diff", "patch")
    if media == "diff":
        return media_response(request, await repos.unified_diff(full, merge_base, head_sha), media)
    if media == "patch":
        return media_response(request, await repos.format_patch(full, merge_base, head_sha), media)
    ahead = await repos.rev_list(full, head_sha, base_sha, reverse=True)
    behind_by = await repos.count(full, base_sha, head_sha)
    if base_sha == head_sha:
        status = "identical"
    elif not ahead:
        status = "behind"
    elif behind_by == 0:
        status = "ahead"
    else:
        status = "diverged"
    # Commits page as GitHub's compare does (250 by default when no page is asked for); files only on the first page.
    if "page" in request.query or "per_page" in request.query:
        page, per_page = page_params(request)
    else:
        page, per_page = 1, 250
    shown = ahead[(page - 1) * per_page : page * per_page]
    commits = await repos.read_commits(full, [base_sha, merge_base, *shown])
    by_sha = {c.sha: c for c in commits}
    files = await repos.diff(full, merge_base, head_sha)
    return respond(
        {
            "url": render.api(f"/repos/{full}/compare/{basehead}"),
            "html_url": render.html(f"/{full}/compare/{basehead}"),
            "permalink_url": render.html(f"/{full}/compare/{base_sha[:7]}...{head_sha[:7]}"),
            "diff_url": render.html(f"/{full}/compare/{basehead}.diff"),
            "patch_url": render.html(f"/{full}/compare/{basehead}.patch"),
            "base_commit": render.commit(st, repo, by_sha[base_sha]),
            "merge_base_commit": render.commit(st, repo, by_sha[merge_base]),
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": behind_by,
            "total_commits": len(ahead),
            "commits": [render.commit(st, repo, by_sha[s]) for s in shown],
            "files": [render.changed_file(repo, head_sha, f) for f in files[:300]] if page == 1 else [],
        },
        headers=_page_links(request, page, per_page, len(ahead)),
    )


def _page_links(request: web.Request, page: int, per_page: int, total: int) -> dict[str, str] | None:
    last = max(1, (total + per_page - 1) // per_page)
    if ("page" not in request.query and "per_page" not in request.query) or last == 1:
        return None

    def url_for(number: int) -> str:
        return str(request.url.update_query(page=str(number), per_page=str(per_page)))

    links = []
    if page < last:
        links += [f'<{url_for(page + 1)}>; rel="next"', f'<{url_for(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url_for(1)}>; rel="first"', f'<{url_for(page - 1)}>; rel="prev"']
    return {"Link": ", ".join(links)} if links else None


async def merge(request: web.Request) -> web.Response:
    """POST merges: a merge commit of head into base (never a fast-forward), 204 when already merged."""
    repo = repo_for(request, scope="contents", level="write")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    body = await read_json(request)
    base_name, head_name = body.get("base"), body.get("head")
    if not isinstance(base_name, str) or not base_name:
        raise validation_failed("Merge", "base", "missing_field")
    if not isinstance(head_name, str) or not head_name:
        raise validation_failed("Merge", "head", "missing_field")
    ref = f"refs/heads/{base_name}"
    async with repos.lock(full):
        base_sha = await repos.ref(full, ref) if valid_ref_name(ref) else None
        if base_sha is None:
            raise ApiError(404, "Base does not exist")
        head_sha = await repos.resolve_commit(full, head_name)
        if head_sha is None:
            raise ApiError(404, "Head does not exist")
        if await repos.is_ancestor(full, head_sha, base_sha):
            return no_content()
        outcome = await repos.merge_trees(full, base_sha, head_sha)
        if not outcome.clean:
            raise ApiError(409, "Merge conflict")
        who = person(st, sender_login(request))
        message = body.get("commit_message") or f"Merge {head_name} into {base_name}"
        sha = await repos.commit_tree(full, outcome.tree, [base_sha, head_sha], message, author=who, committer=who)
        await move_ref(request, repo, ref, sha, base_sha)
    commit = await repos.read_commit(full, sha)
    assert commit is not None
    return respond(render.commit(st, repo, commit), status=201)


async def commit_pulls(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="pull_requests", level="read")
    st = store(request)
    sha = request.match_info["sha"]
    full_sha = await git(request).resolve_commit(repo["full_name"], sha)
    if full_sha is None:
        raise ApiError(422, f"No commit found for SHA: {sha}")
    numbers = []
    for number, pr in repo.get("pulls", {}).items():
        if (
            full_sha in (pr.get("head_sha"), pr.get("merge_commit_sha"))
            or full_sha in pr.get("commit_shas", [])
            or full_sha in pr.get("landed_shas", [])
        ):
            numbers.append(int(number))
    numbers.sort(reverse=True)
    return paginate(request, [render.pull_request(st, repo, n, full=False) for n in numbers])


def setup(app: web.Application) -> None:
    r = app.router
    r.add_post("/orgs/{org}/repos", create_org_repo)
    r.add_post("/user/repos", create_user_repo)
    r.add_get("/repos/{owner}/{repo}", get_repo)
    r.add_patch("/repos/{owner}/{repo}", update_repo)
    r.add_get("/repos/{owner}/{repo}/contents/{path:.*}", get_contents)
    r.add_put("/repos/{owner}/{repo}/contents/{path:.+}", put_contents)
    r.add_delete("/repos/{owner}/{repo}/contents/{path:.+}", delete_contents)
    r.add_get("/repos/{owner}/{repo}/commits", list_commits)
    r.add_get("/repos/{owner}/{repo}/commits/{sha}/pulls", commit_pulls)
    # A ref may hold slashes (rc/1.5), but commits/{ref}/status and friends belong to other modules.
    r.add_get(
        "/repos/{owner}/{repo}/commits/{ref:[^/]+(?:/(?!(?:status|statuses|check-runs|check-suites|pulls|comments)$)[^/]+)*}",
        get_commit,
    )
    r.add_get("/repos/{owner}/{repo}/activity", list_activity)
    r.add_get("/repos/{owner}/{repo}/branches", list_branches)
    r.add_get("/repos/{owner}/{repo}/branches/{branch:.+(?<!/protection)}", get_branch)
    r.add_get("/repos/{owner}/{repo}/compare/{basehead:.+}", compare)
    r.add_post("/repos/{owner}/{repo}/merges", merge)
