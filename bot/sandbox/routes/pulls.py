"""Pull requests: open, list, get, update, their commits and files, merging them the three ways GitHub does, and "Update branch"."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.sandbox import render
from bot.sandbox.common import (
    BRANCH_LISTENERS,
    ApiError,
    git,
    hooks,
    media_response,
    no_content,
    not_found,
    paginate,
    read_json,
    repo_for,
    requested_media,
    respond,
    sender_login,
    store,
    validation_failed,
)
from bot.sandbox.git import GitRepos, Person, iso_now, valid_ref_name
from bot.sandbox.protection import guard_merge, merge_state
from bot.sandbox.routes.issues import issue_collections, record_issue_event
from bot.sandbox.routes.repos import move_ref, person
from bot.sandbox.state import now_iso

MAX_PR_COMMITS = 250
MERGE_METHODS = ("merge", "squash", "rebase")


def web_flow(date: str | None = None) -> Person:
    """GitHub commits merges made on the site or through the API as this committer."""
    return Person(name="GitHub", email="noreply@github.com", date=date or iso_now())


# keeping PR records current ------------------------------------------------------------------------


async def refresh_pull(repos: GitRepos, repo: dict[str, Any], pr: dict[str, Any]) -> None:
    """Recount the PR's commits and diff against its base, and forget the old mergeability."""
    full = repo["full_name"]
    head, base = pr["head_sha"], pr["base_sha"]
    shas = await repos.rev_list(full, head, base, reverse=True)
    merge_base = await repos.merge_base(full, base, head)
    files = await repos.diff(full, merge_base, head, patches=False) if merge_base else []
    pr.update(
        commit_shas=shas[:MAX_PR_COMMITS],
        commits=len(shas),
        additions=sum(f.additions for f in files),
        deletions=sum(f.deletions for f in files),
        changed_files=len(files),
        mergeable=None,
        rebaseable=None,
        mergeable_state="unknown",
    )


async def compute_mergeable(repos: GitRepos, repo: dict[str, Any], pr: dict[str, Any]) -> None:
    """GitHub's test merge, by merge-tree: clean or dirty (a conflict); blocked or behind when protection stops it."""
    full = repo["full_name"]
    outcome = await repos.merge_trees(full, pr["base_sha"], pr["head_sha"])
    pr["mergeable"] = outcome.clean
    pr["mergeable_state"] = ((await merge_state(repos, repo, pr)) or "clean") if outcome.clean else "dirty"
    pr["rebaseable"] = outcome.clean


def emit_pull(request: web.Request, repo: dict[str, Any], number: int, action: str, sender: str, **extra: Any) -> None:
    payload = {
        "action": action,
        "number": number,
        "pull_request": render.pull_request(store(request), repo, number),
        **extra,
    }
    hooks(request).emit("pull_request", payload, repo=repo, sender=sender)


async def branch_moved(
    request: web.Request, repo: dict[str, Any], branch: str, before: str | None, after: str | None
) -> None:
    """Called for every branch change: open PRs on it follow its new head (synchronize) or base."""
    st, repos = store(request), git(request)
    sender = sender_login(request)
    if after is None:
        # Deleting a PR's base branch closes the PR, as on GitHub.
        for number, pr in sorted(repo.get("pulls", {}).items(), key=lambda item: int(item[0])):
            issue_record = repo["issues"][number]
            if issue_record["state"] == "open" and pr["base_ref"] == branch:
                stamp = now_iso()
                issue_record.update(state="closed", closed_at=stamp, closed_by=sender, updated_at=stamp)
                st.touch()
                record_issue_event(st, repo, int(number), "closed", sender)
                emit_pull(request, repo, int(number), "closed", sender)
        return
    for number, pr in sorted(repo.get("pulls", {}).items(), key=lambda item: int(item[0])):
        issue_record = repo["issues"][number]
        if issue_record["state"] != "open":
            continue
        if pr["head_ref"] == branch and pr["head_sha"] != after:
            old = pr["head_sha"]
            pr["head_sha"] = after
            await refresh_pull(repos, repo, pr)
            issue_record["updated_at"] = now_iso()
            st.touch()
            emit_pull(request, repo, int(number), "synchronize", sender, before=old, after=after)
        if pr["base_ref"] == branch and pr["base_sha"] != after:
            pr["base_sha"] = after
            await refresh_pull(repos, repo, pr)
            st.touch()
            if await repos.is_ancestor(repo["full_name"], pr["head_sha"], after):
                # Pushing the head into the base merges the PR, as on GitHub.
                stamp = now_iso()
                pr.update(
                    merged=True,
                    merged_at=stamp,
                    merged_by=sender,
                    merge_commit_sha=pr["head_sha"],
                    mergeable=None,
                    mergeable_state="unknown",
                )
                issue_record.update(state="closed", closed_at=stamp, closed_by=sender, updated_at=stamp)
                record_issue_event(st, repo, int(number), "merged", sender, commit_id=pr["head_sha"])
                record_issue_event(st, repo, int(number), "closed", sender)
                emit_pull(request, repo, int(number), "closed", sender)


# routes --------------------------------------------------------------------------------------------


def the_pull(repo: dict[str, Any], number: str) -> dict[str, Any]:
    pr = repo.get("pulls", {}).get(number)
    if pr is None:
        raise not_found()
    return pr


def head_branch(repo: dict[str, Any], head: str) -> str:
    owner, sep, branch = head.partition(":")
    if sep and owner.lower() == repo["owner"]["login"].lower():
        return branch
    return head if not sep else ""


async def create_pull(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="pull_requests", level="write")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    issue_collections(repo)
    repo.setdefault("pulls", {})
    sender = sender_login(request)
    body = await read_json(request)
    title, head, base = body.get("title"), body.get("head"), body.get("base")
    if not isinstance(title, str) or not title.strip():
        raise validation_failed("PullRequest", "title", "missing_field")
    if not isinstance(base, str) or not base:
        raise validation_failed("PullRequest", "base", "missing_field")
    if not isinstance(head, str) or not head:
        raise validation_failed("PullRequest", "head", "missing_field")
    head_ref = head_branch(repo, head)
    head_sha = (
        await repos.ref(full, f"refs/heads/{head_ref}")
        if head_ref and valid_ref_name(f"refs/heads/{head_ref}")
        else None
    )
    if head_sha is None:
        raise validation_failed("PullRequest", "head", "invalid")
    base_sha = await repos.ref(full, f"refs/heads/{base}") if valid_ref_name(f"refs/heads/{base}") else None
    if base_sha is None:
        raise validation_failed("PullRequest", "base", "invalid")
    for number, other in repo["pulls"].items():
        if other["head_ref"] == head_ref and other["base_ref"] == base and repo["issues"][number]["state"] == "open":
            raise ApiError(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"A pull request already exists for {repo['owner']['login']}:{head_ref}.",
                    }
                ],
            )
    if await repos.is_ancestor(full, head_sha, base_sha):
        raise ApiError(
            422,
            "Validation Failed",
            [{"resource": "PullRequest", "code": "custom", "message": f"No commits between {base} and {head_ref}"}],
        )
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
        "milestone": None,
        "locked": False,
        "created_at": stamp,
        "updated_at": stamp,
        "closed_at": None,
        "closed_by": None,
        "is_pull": True,
    }
    pr = {
        "id": st.new_id(),
        "head_ref": head_ref,
        "head_sha": head_sha,
        "head_repo": full,
        "base_ref": base,
        "base_sha": base_sha,
        "draft": bool(body.get("draft", False)),
        "merged": False,
        "merged_at": None,
        "merged_by": None,
        "merge_commit_sha": None,
        "merge_method": None,
        "maintainer_can_modify": bool(body.get("maintainer_can_modify", False)),
        "auto_merge": None,
    }
    repo["pulls"][str(number)] = pr
    await refresh_pull(repos, repo, pr)
    st.touch()
    emit_pull(request, repo, number, "opened", sender)
    return respond(
        render.pull_request(st, repo, number),
        status=201,
        headers={"Location": render.api(f"/repos/{full}/pulls/{number}")},
    )


async def list_pulls(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="pull_requests", level="read")
    st = store(request)
    query = request.query
    state = query.get("state", "open")
    if state not in ("open", "closed", "all"):
        raise validation_failed("PullRequest", "state", "invalid")
    head = head_branch(repo, query["head"]) if query.get("head") else None
    if query.get("head") and not head:
        return respond([])
    base = query.get("base")
    chosen = []
    for number, pr in repo.get("pulls", {}).items():
        issue_record = repo["issues"][number]
        if state != "all" and issue_record["state"] != state:
            continue
        if head is not None and pr["head_ref"] != head:
            continue
        if base is not None and pr["base_ref"] != base:
            continue
        chosen.append(int(number))
    sort = query.get("sort", "created")
    direction = query.get("direction", "desc" if sort in ("created", "updated") or "sort" not in query else "asc")
    key = "updated_at" if sort == "updated" else "created_at"
    chosen.sort(key=lambda n: (repo["issues"][str(n)][key], n), reverse=direction == "desc")
    return paginate(request, [render.pull_request(st, repo, n, full=False) for n in chosen])


async def get_pull(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="pull_requests", level="read")
    st, repos = store(request), git(request)
    number = request.match_info["pull_number"]
    pr = the_pull(repo, number)
    media = requested_media(request, "diff", "patch")
    if media is not None:
        full = repo["full_name"]
        merge_base = await repos.merge_base(full, pr["base_sha"], pr["head_sha"])
        if media == "diff":
            return media_response(request, await repos.unified_diff(full, merge_base, pr["head_sha"]), media)
        return media_response(request, await repos.format_patch(full, merge_base, pr["head_sha"]), media)
    if repo["issues"][number]["state"] == "open":
        await compute_mergeable(repos, repo, pr)
        st.touch()
    return respond(render.pull_request(st, repo, int(number)))


async def update_pull(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="pull_requests", level="write")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    sender = sender_login(request)
    number = request.match_info["pull_number"]
    pr = the_pull(repo, number)
    issue_record = repo["issues"][number]
    body = await read_json(request)
    if "state" in body and body["state"] not in ("open", "closed"):
        raise validation_failed("PullRequest", "state", "invalid")
    if "title" in body and (not isinstance(body["title"], str) or not body["title"].strip()):
        raise validation_failed("PullRequest", "title", "missing_field")
    changes: dict[str, Any] = {}
    for key in ("title", "body"):
        if key in body and body[key] != issue_record.get(key):
            changes[key] = {"from": issue_record.get(key)}
            if key == "title":
                record_issue_event(
                    st,
                    repo,
                    int(number),
                    "renamed",
                    sender,
                    rename={"from": issue_record["title"], "to": body["title"]},
                )
            issue_record[key] = body[key]
    if "base" in body and body["base"] != pr["base_ref"]:
        new_base = body["base"]
        new_sha = (
            await repos.ref(full, f"refs/heads/{new_base}")
            if isinstance(new_base, str) and valid_ref_name(f"refs/heads/{new_base}")
            else None
        )
        if new_sha is None or issue_record["state"] != "open":
            raise validation_failed("PullRequest", "base", "invalid")
        changes["base"] = {"ref": {"from": pr["base_ref"]}, "sha": {"from": pr["base_sha"]}}
        pr.update(base_ref=new_base, base_sha=new_sha)
        await refresh_pull(repos, repo, pr)
    if "maintainer_can_modify" in body:
        pr["maintainer_can_modify"] = bool(body["maintainer_can_modify"])
    if changes:
        issue_record["updated_at"] = now_iso()
        st.touch()
        emit_pull(request, repo, int(number), "edited", sender, changes=changes)
    state = body.get("state")
    if state == "closed" and issue_record["state"] == "open":
        stamp = now_iso()
        issue_record.update(state="closed", closed_at=stamp, closed_by=sender, updated_at=stamp)
        st.touch()
        record_issue_event(st, repo, int(number), "closed", sender)
        emit_pull(request, repo, int(number), "closed", sender)
    elif state == "open" and issue_record["state"] == "closed":
        if pr.get("merged"):
            raise validation_failed(
                "PullRequest", "state", "invalid", "state cannot be changed. The pull request has been merged."
            )
        head_sha = await repos.ref(full, f"refs/heads/{pr['head_ref']}")
        if head_sha is None:
            raise validation_failed(
                "PullRequest", "state", "invalid", "state cannot be changed. The head branch was deleted."
            )
        pr["head_sha"] = head_sha
        pr["base_sha"] = await repos.ref(full, f"refs/heads/{pr['base_ref']}") or pr["base_sha"]
        await refresh_pull(repos, repo, pr)
        issue_record.update(state="open", closed_at=None, closed_by=None, updated_at=now_iso())
        st.touch()
        record_issue_event(st, repo, int(number), "reopened", sender)
        emit_pull(request, repo, int(number), "reopened", sender)
    return respond(render.pull_request(st, repo, int(number)))


async def pull_commits(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="pull_requests", level="read")
    st, repos = store(request), git(request)
    pr = the_pull(repo, request.match_info["pull_number"])
    commits = await repos.read_commits(repo["full_name"], pr.get("commit_shas", []))
    return paginate(request, [render.commit(st, repo, c) for c in commits])


async def pull_files(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="pull_requests", level="read")
    repos = git(request)
    pr = the_pull(repo, request.match_info["pull_number"])
    merge_base = await repos.merge_base(repo["full_name"], pr["base_sha"], pr["head_sha"])
    files = await repos.diff(repo["full_name"], merge_base, pr["head_sha"])
    return paginate(request, [render.changed_file(repo, pr["head_sha"], f) for f in files])


async def is_merged(request: web.Request) -> web.Response:
    repo = repo_for(request, scope="pull_requests", level="read")
    pr = the_pull(repo, request.match_info["pull_number"])
    if pr.get("merged"):
        return no_content()
    raise not_found()


async def merge_pull(request: web.Request) -> web.Response:
    """PUT pulls/{n}/merge: a merge commit, a squash commit, or the commits replayed (rebase)."""
    repo = repo_for(request, scope="contents", level="write")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    sender = sender_login(request)
    number = request.match_info["pull_number"]
    pr = the_pull(repo, number)
    issue_record = repo["issues"][number]
    body = await read_json(request)
    method = body.get("merge_method", "merge")
    if method not in MERGE_METHODS:
        raise validation_failed("PullRequest", "merge_method", "invalid")
    base_ref = f"refs/heads/{pr['base_ref']}"
    async with repos.lock(full):
        if pr.get("merged") or issue_record["state"] != "open":
            raise ApiError(405, "Pull Request is not mergeable")
        if body.get("sha") and body["sha"] != pr["head_sha"]:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        base_sha = await repos.ref(full, base_ref)
        if base_sha is None:
            raise ApiError(405, "Base branch was deleted")
        pr["base_sha"] = base_sha
        await guard_merge(request, repo, pr)
        merger = person(st, sender)
        title = issue_record["title"]
        replayed: list[str] = []
        if method == "rebase":
            current = base_sha
            picked = await repos.read_commits(full, await repos.rev_list(full, pr["head_sha"], base_sha, reverse=True))
            if any(len(c.parents) > 1 for c in picked):
                raise ApiError(405, "This branch can't be rebased")
            for commit in picked:
                outcome = await repos.cherry_pick_tree(full, current, commit.sha, committer=web_flow())
                if not outcome.clean:
                    raise ApiError(405, "This branch can't be rebased")
                current = await repos.commit_tree(
                    full, outcome.tree, [current], commit.message, author=commit.author, committer=web_flow()
                )
                replayed.append(current)
            new_sha = current
        else:
            outcome = await repos.merge_trees(full, base_sha, pr["head_sha"])
            if not outcome.clean:
                pr.update(mergeable=False, mergeable_state="dirty")
                raise ApiError(405, "Pull Request is not mergeable")
            if method == "merge":
                commit_title = (
                    body.get("commit_title")
                    or f"Merge pull request #{number} from {repo['owner']['login']}/{pr['head_ref']}"
                )
                commit_message = body.get("commit_message", title)
                message = f"{commit_title}\n\n{commit_message}" if commit_message else commit_title
                new_sha = await repos.commit_tree(
                    full, outcome.tree, [base_sha, pr["head_sha"]], message, author=merger, committer=web_flow()
                )
            else:
                picked = await repos.read_commits(
                    full, await repos.rev_list(full, pr["head_sha"], base_sha, reverse=True)
                )
                # COMMIT_OR_PR_TITLE / COMMIT_MESSAGES, the repository defaults render.repository reports.
                if len(picked) == 1:
                    subject, _, rest = picked[0].message.strip().partition("\n")
                    default_title, default_message = f"{subject} (#{number})", rest.strip()
                else:
                    default_title = f"{title} (#{number})"
                    default_message = "\n\n".join(f"* {c.message.strip()}" for c in picked)
                commit_title = body.get("commit_title") or default_title
                commit_message = body.get("commit_message", default_message)
                message = f"{commit_title}\n\n{commit_message}" if commit_message else commit_title
                author = person(st, issue_record["user"])
                new_sha = await repos.commit_tree(
                    full, outcome.tree, [base_sha], message, author=author, committer=web_flow()
                )
        stamp = now_iso()
        # Marked merged before the base moves, so the push does not look like a manual merge.
        # The commits that brought the PR into its base find it again through commits/{sha}/pulls.
        pr["landed_shas"] = replayed[:MAX_PR_COMMITS]
        pr.update(
            merged=True,
            merged_at=stamp,
            merged_by=sender,
            merge_commit_sha=new_sha,
            merge_method=method,
            mergeable=None,
            rebaseable=None,
            mergeable_state="unknown",
        )
        issue_record.update(state="closed", closed_at=stamp, closed_by=sender, updated_at=stamp)
        st.touch()
        try:
            await move_ref(request, repo, base_ref, new_sha, base_sha, api=None, activity_type="pr_merge")
        except ApiError:
            pr.update(merged=False, merged_at=None, merged_by=None, merge_commit_sha=None, merge_method=None)
            issue_record.update(state="open", closed_at=None, closed_by=None)
            raise
    record_issue_event(st, repo, int(number), "merged", sender, commit_id=new_sha)
    record_issue_event(st, repo, int(number), "closed", sender, commit_id=new_sha)
    emit_pull(request, repo, int(number), "closed", sender)
    return respond({"sha": new_sha, "merged": True, "message": "Pull Request successfully merged"})


async def update_branch(request: web.Request) -> web.Response:
    """PUT pulls/{n}/update-branch: "Update branch", GitHub merging the base's head into the PR's head branch.

    The merge commit is GitHub's (committer web-flow, author the person who asked), with the PR's head as
    first parent and the base's head as second, and the push is the asker's: it sends `synchronize`.
    """
    repo = repo_for(request, scope="contents", level="write")
    st, repos = store(request), git(request)
    full = repo["full_name"]
    number = request.match_info["pull_number"]
    pr = the_pull(repo, number)
    body = await read_json(request)
    expected = body.get("expected_head_sha")
    if expected is not None and not isinstance(expected, str):
        raise validation_failed("PullRequest", "expected_head_sha", "invalid")
    head_ref = f"refs/heads/{pr['head_ref']}"
    async with repos.lock(full):
        if repo["issues"][number]["state"] != "open":
            raise ApiError(422, "Pull request is not open.")
        head = await repos.ref(full, head_ref)
        base = await repos.ref(full, f"refs/heads/{pr['base_ref']}")
        if head is None or base is None:
            raise ApiError(422, "The head or base branch of this pull request no longer exists.")
        if expected and expected != head:
            raise ApiError(422, "expected head sha didn't match current head ref.")
        if await repos.is_ancestor(full, base, head):
            raise ApiError(422, "There are no new commits on the base branch.")
        outcome = await repos.merge_trees(full, head, base)
        if not outcome.clean:
            raise ApiError(422, "merge conflict between base and head")
        message = f"Merge branch '{pr['base_ref']}' into {pr['head_ref']}"
        merged = await repos.commit_tree(
            full, outcome.tree, [head, base], message, author=person(st, sender_login(request)), committer=web_flow()
        )
        await move_ref(request, repo, head_ref, merged, head)
    return respond(
        {"message": "Updating pull request branch.", "url": render.html(f"/{full}/pull/{number}")}, status=202
    )


def setup(app: web.Application) -> None:
    app.setdefault(BRANCH_LISTENERS, []).append(branch_moved)
    r = app.router
    base = "/repos/{owner}/{repo}/pulls"
    r.add_post(base, create_pull)
    r.add_get(base, list_pulls)
    r.add_get(base + "/{pull_number:[0-9]+}", get_pull)
    r.add_patch(base + "/{pull_number:[0-9]+}", update_pull)
    r.add_get(base + "/{pull_number:[0-9]+}/commits", pull_commits)
    r.add_get(base + "/{pull_number:[0-9]+}/files", pull_files)
    r.add_get(base + "/{pull_number:[0-9]+}/merge", is_merged)
    r.add_put(base + "/{pull_number:[0-9]+}/merge", merge_pull)
    r.add_put(base + "/{pull_number:[0-9]+}/update-branch", update_branch)
