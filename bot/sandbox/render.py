"""GitHub-shaped JSON for sandbox records, shared by REST answers and webhook payloads.

Every function returns the full set of keys that GitHub's own answer carries for that object, so
payloads match `github-webhook-examples.json` and answers match the OpenAPI schemas.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from bot.sandbox.state import Store

# Set by the app factory to the sandbox's own base URL (no trailing slash).
BASE = {"api": "http://127.0.0.1", "html": "http://127.0.0.1/_html"}


def node(kind: str, number: int) -> str:
    return base64.b64encode(f"0:{kind}{number}".encode()).decode().rstrip("=")


def auto_merge(st: Store, record: dict[str, Any] | None) -> dict[str, Any] | None:
    """A PR's `auto_merge` (GitHub's auto-merge object), from its record {enabled_by (login), merge_method, commit_title, commit_message}."""
    if not record:
        return None
    return {
        "enabled_by": user(st, record["enabled_by"]),
        "merge_method": record["merge_method"],
        "commit_title": record.get("commit_title") or "",
        "commit_message": record.get("commit_message") or "",
    }


def api(path: str) -> str:
    return f"{BASE['api']}{path}"


def html(path: str) -> str:
    return f"{BASE['html']}{path}"


def user(st: Store, login: str) -> dict[str, Any]:
    record = st.user(login) if not login.endswith("[bot]") else st.user(login, kind="Bot")
    name = record["login"]
    return {
        "login": name,
        "id": record["id"],
        "node_id": node("User", record["id"]),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{record['id']}?v=4",
        "gravatar_id": "",
        "url": api(f"/users/{name}"),
        "html_url": html(f"/{name}"),
        "followers_url": api(f"/users/{name}/followers"),
        "following_url": api(f"/users/{name}/following{{/other_user}}"),
        "gists_url": api(f"/users/{name}/gists{{/gist_id}}"),
        "starred_url": api(f"/users/{name}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": api(f"/users/{name}/subscriptions"),
        "organizations_url": api(f"/users/{name}/orgs"),
        "repos_url": api(f"/users/{name}/repos"),
        "events_url": api(f"/users/{name}/events{{/privacy}}"),
        "received_events_url": api(f"/users/{name}/received_events"),
        "type": record["type"],
        "user_view_type": "public",
        "site_admin": False,
    }


def organization(st: Store, login: str) -> dict[str, Any]:
    record = st.user(login, kind="Organization")
    name = record["login"]
    return {
        "login": name,
        "id": record["id"],
        "node_id": node("Organization", record["id"]),
        "url": api(f"/orgs/{name}"),
        "repos_url": api(f"/orgs/{name}/repos"),
        "events_url": api(f"/orgs/{name}/events"),
        "hooks_url": api(f"/orgs/{name}/hooks"),
        "issues_url": api(f"/orgs/{name}/issues"),
        "members_url": api(f"/orgs/{name}/members{{/member}}"),
        "public_members_url": api(f"/orgs/{name}/public_members{{/member}}"),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{record['id']}?v=4",
        "description": None,
    }


def repository(st: Store, repo: dict[str, Any]) -> dict[str, Any]:
    """The full repository object, as REST answers and webhook payloads carry it."""
    full = repo["full_name"]
    base = f"/repos/{full}"
    open_issues = sum(1 for i in repo.get("issues", {}).values() if i.get("state") == "open")
    owner = st.find_user(repo["owner"]["login"]) or {}
    body: dict[str, Any] = {
        "id": repo["id"],
        "node_id": node("Repository", repo["id"]),
        "name": repo["name"],
        "full_name": full,
        "private": repo.get("private", False),
        "owner": user(st, repo["owner"]["login"]),
        "html_url": html(f"/{full}"),
        "description": repo.get("description"),
        "fork": False,
        "url": api(base),
        "forks_url": api(f"{base}/forks"),
        "keys_url": api(f"{base}/keys{{/key_id}}"),
        "collaborators_url": api(f"{base}/collaborators{{/collaborator}}"),
        "teams_url": api(f"{base}/teams"),
        "hooks_url": api(f"{base}/hooks"),
        "issue_events_url": api(f"{base}/issues/events{{/number}}"),
        "events_url": api(f"{base}/events"),
        "assignees_url": api(f"{base}/assignees{{/user}}"),
        "branches_url": api(f"{base}/branches{{/branch}}"),
        "tags_url": api(f"{base}/tags"),
        "blobs_url": api(f"{base}/git/blobs{{/sha}}"),
        "git_tags_url": api(f"{base}/git/tags{{/sha}}"),
        "git_refs_url": api(f"{base}/git/refs{{/sha}}"),
        "trees_url": api(f"{base}/git/trees{{/sha}}"),
        "statuses_url": api(f"{base}/statuses/{{sha}}"),
        "languages_url": api(f"{base}/languages"),
        "stargazers_url": api(f"{base}/stargazers"),
        "contributors_url": api(f"{base}/contributors"),
        "subscribers_url": api(f"{base}/subscribers"),
        "subscription_url": api(f"{base}/subscription"),
        "commits_url": api(f"{base}/commits{{/sha}}"),
        "git_commits_url": api(f"{base}/git/commits{{/sha}}"),
        "comments_url": api(f"{base}/comments{{/number}}"),
        "issue_comment_url": api(f"{base}/issues/comments{{/number}}"),
        "contents_url": api(f"{base}/contents/{{+path}}"),
        "compare_url": api(f"{base}/compare/{{base}}...{{head}}"),
        "merges_url": api(f"{base}/merges"),
        "archive_url": api(f"{base}/{{archive_format}}{{/ref}}"),
        "downloads_url": api(f"{base}/downloads"),
        "issues_url": api(f"{base}/issues{{/number}}"),
        "pulls_url": api(f"{base}/pulls{{/number}}"),
        "milestones_url": api(f"{base}/milestones{{/number}}"),
        "notifications_url": api(f"{base}/notifications{{?since,all,participating}}"),
        "labels_url": api(f"{base}/labels{{/name}}"),
        "releases_url": api(f"{base}/releases{{/id}}"),
        "deployments_url": api(f"{base}/deployments"),
        "created_at": repo.get("created_at"),
        "updated_at": repo.get("updated_at", repo.get("created_at")),
        "pushed_at": repo.get("pushed_at", repo.get("created_at")),
        "git_url": f"git://sandbox.invalid/{full}.git",
        "ssh_url": f"git@sandbox.invalid:{full}.git",
        "clone_url": html(f"/{full}.git"),
        "svn_url": html(f"/{full}"),
        "homepage": repo.get("homepage"),
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": None,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": True,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": repo.get("archived", False),
        "disabled": False,
        "open_issues_count": open_issues,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "web_commit_signoff_required": False,
        "topics": [],
        "visibility": "private" if repo.get("private", False) else "public",
        "forks": 0,
        "open_issues": open_issues,
        "watchers": 0,
        "default_branch": repo.get("default_branch", "main"),
        "allow_squash_merge": True,
        "allow_merge_commit": True,
        "allow_rebase_merge": True,
        "allow_auto_merge": bool(repo.get("allow_auto_merge", False)),
        "delete_branch_on_merge": False,
        "allow_update_branch": False,
        "use_squash_pr_title_as_default": False,
        "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
        "squash_merge_commit_message": "COMMIT_MESSAGES",
        "merge_commit_title": "MERGE_MESSAGE",
        "merge_commit_message": "PR_TITLE",
        "stargazers": 0,
        "master_branch": repo.get("default_branch", "main"),
        "network_count": 0,
        "subscribers_count": 0,
        "custom_properties": {},
    }
    if owner.get("type") == "Organization":
        # A full repository's organization is a simple-user object (type "Organization"), not the org shape.
        body["organization"] = user(st, owner["login"])
    return body


# commits, branches and pull requests (routes/repos.py and routes/pulls.py) ---------------------

NOREPLY = "users.noreply.github.com"


def person_email(st: Store, login: str) -> str:
    """The noreply address GitHub gives a login; commits made as a user carry it."""
    record = st.user(login) if not login.endswith("[bot]") else st.user(login, kind="Bot")
    return f"{record['id']}+{record['login']}@{NOREPLY}"


def login_for_email(st: Store, email: str) -> str | None:
    """The account a commit's email belongs to (noreply form), as GitHub links commit authors."""
    local, _, domain = email.partition("@")
    if domain.lower() != NOREPLY:
        return None
    login = local.split("+", 1)[1] if "+" in local else local
    record = st.find_user(login)
    return record["login"] if record else None


def git_person(person: Any) -> dict[str, Any]:
    return {"name": person.name, "email": person.email, "date": person.date}


def verification() -> dict[str, Any]:
    return {"verified": False, "reason": "unsigned", "signature": None, "payload": None, "verified_at": None}


def git_commit(st: Store, repo: dict[str, Any], commit: Any) -> dict[str, Any]:
    """A git data commit (`git/commits/{sha}`); commit is a bot.sandbox.git.Commit."""
    full = repo["full_name"]
    return {
        "sha": commit.sha,
        "node_id": node("Commit", int(commit.sha[:8], 16)),
        "url": api(f"/repos/{full}/git/commits/{commit.sha}"),
        "html_url": html(f"/{full}/commit/{commit.sha}"),
        "author": git_person(commit.author),
        "committer": git_person(commit.committer),
        "tree": {"sha": commit.tree, "url": api(f"/repos/{full}/git/trees/{commit.tree}")},
        "message": commit.message,
        "parents": [
            {"sha": p, "url": api(f"/repos/{full}/git/commits/{p}"), "html_url": html(f"/{full}/commit/{p}")}
            for p in commit.parents
        ],
        "verification": verification(),
    }


def changed_file(repo: dict[str, Any], ref_sha: str, changed: Any) -> dict[str, Any]:
    full = repo["full_name"]
    body: dict[str, Any] = {
        "sha": changed.sha or "0" * 40,
        "filename": changed.filename,
        "status": changed.status,
        "additions": changed.additions,
        "deletions": changed.deletions,
        "changes": changed.additions + changed.deletions,
        "blob_url": html(f"/{full}/blob/{ref_sha}/{changed.filename}"),
        "raw_url": html(f"/{full}/raw/{ref_sha}/{changed.filename}"),
        "contents_url": api(f"/repos/{full}/contents/{changed.filename}?ref={ref_sha}"),
    }
    if changed.patch is not None:
        body["patch"] = changed.patch
    if changed.previous_filename:
        body["previous_filename"] = changed.previous_filename
    return body


def commit(st: Store, repo: dict[str, Any], commit: Any, files: list[Any] | None = None) -> dict[str, Any]:
    """A commit as `GET commits/{ref}` and lists of commits answer it (files only when given)."""
    full = repo["full_name"]
    author_login = login_for_email(st, commit.author.email)
    committer_login = login_for_email(st, commit.committer.email)
    body: dict[str, Any] = {
        "url": api(f"/repos/{full}/commits/{commit.sha}"),
        "sha": commit.sha,
        "node_id": node("Commit", int(commit.sha[:8], 16)),
        "html_url": html(f"/{full}/commit/{commit.sha}"),
        "comments_url": api(f"/repos/{full}/commits/{commit.sha}/comments"),
        "commit": {
            "url": api(f"/repos/{full}/git/commits/{commit.sha}"),
            "author": git_person(commit.author),
            "committer": git_person(commit.committer),
            "message": commit.message,
            "tree": {"sha": commit.tree, "url": api(f"/repos/{full}/git/trees/{commit.tree}")},
            "comment_count": 0,
            "verification": verification(),
        },
        "author": user(st, author_login) if author_login else None,
        "committer": user(st, committer_login) if committer_login else None,
        "parents": [
            {"sha": p, "url": api(f"/repos/{full}/commits/{p}"), "html_url": html(f"/{full}/commit/{p}")}
            for p in commit.parents
        ],
    }
    if files is not None:
        additions = sum(f.additions for f in files)
        deletions = sum(f.deletions for f in files)
        body["stats"] = {"total": additions + deletions, "additions": additions, "deletions": deletions}
        body["files"] = [changed_file(repo, commit.sha, f) for f in files]
    return body


def push_commit(st: Store, repo: dict[str, Any], commit: Any, files: list[Any]) -> dict[str, Any]:
    """A commit as a push event lists it."""
    full = repo["full_name"]

    def person(p: Any) -> dict[str, Any]:
        login = login_for_email(st, p.email)
        out = {"name": p.name, "email": p.email}
        if login:
            out["username"] = login
        return out

    return {
        "id": commit.sha,
        "tree_id": commit.tree,
        "distinct": True,
        "message": commit.message,
        "timestamp": commit.committer.date,
        "url": html(f"/{full}/commit/{commit.sha}"),
        "author": person(commit.author),
        "committer": person(commit.committer),
        "added": [f.filename for f in files if f.status in ("added", "renamed", "copied")],
        "removed": [f.filename for f in files if f.status == "removed"]
        + [f.previous_filename for f in files if f.status == "renamed"],
        "modified": [f.filename for f in files if f.status not in ("added", "removed", "renamed", "copied")],
    }


def branch(st: Store, repo: dict[str, Any], name: str, head: Any, summary: dict[str, Any]) -> dict[str, Any]:
    """`GET branches/{branch}`: the branch with its head commit and its protection summary (`protected`, `protection`)."""
    full = repo["full_name"]
    return {
        "name": name,
        "commit": commit(st, repo, head),
        "_links": {"self": api(f"/repos/{full}/branches/{name}"), "html": html(f"/{full}/tree/{name}")},
        **summary,
        "protection_url": api(f"/repos/{full}/branches/{name}/protection"),
    }


def pull_request(st: Store, repo: dict[str, Any], number: int, *, full: bool = True) -> dict[str, Any]:
    """A pull request; full=False gives the shorter form that lists answer with."""
    full_name = repo["full_name"]
    issue_record = repo["issues"][str(number)]
    pr = repo["pulls"][str(number)]
    base = f"/repos/{full_name}"
    assignees = [user(st, a) for a in issue_record.get("assignees", [])]
    milestone_number = issue_record.get("milestone")

    def side(ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{repo['owner']['login']}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": user(st, repo["owner"]["login"]),
            "repo": repository(st, repo),
        }

    body: dict[str, Any] = {
        "url": api(f"{base}/pulls/{number}"),
        "id": pr["id"],
        "node_id": node("PullRequest", pr["id"]),
        "html_url": html(f"/{full_name}/pull/{number}"),
        "diff_url": html(f"/{full_name}/pull/{number}.diff"),
        "patch_url": html(f"/{full_name}/pull/{number}.patch"),
        "issue_url": api(f"{base}/issues/{number}"),
        "commits_url": api(f"{base}/pulls/{number}/commits"),
        "review_comments_url": api(f"{base}/pulls/{number}/comments"),
        "review_comment_url": api(f"{base}/pulls/comments{{/number}}"),
        "comments_url": api(f"{base}/issues/{number}/comments"),
        "statuses_url": api(f"{base}/statuses/{pr['head_sha']}"),
        "number": number,
        "state": issue_record["state"],
        "locked": issue_record.get("locked", False),
        "title": issue_record["title"],
        "user": user(st, issue_record["user"]),
        "body": issue_record.get("body"),
        "labels": [
            label(st, repo, name) for name in issue_record.get("labels", []) if name.lower() in repo.get("labels", {})
        ],
        "milestone": milestone(st, repo, milestone_number) if milestone_number else None,
        "active_lock_reason": None,
        "created_at": issue_record["created_at"],
        "updated_at": issue_record["updated_at"],
        "closed_at": issue_record.get("closed_at"),
        "merged_at": pr.get("merged_at"),
        "merge_commit_sha": pr.get("merge_commit_sha"),
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "requested_reviewers": [],
        "requested_teams": [],
        "head": side(pr["head_ref"], pr["head_sha"]),
        "base": side(pr["base_ref"], pr["base_sha"]),
        "_links": {
            "self": {"href": api(f"{base}/pulls/{number}")},
            "html": {"href": html(f"/{full_name}/pull/{number}")},
            "issue": {"href": api(f"{base}/issues/{number}")},
            "comments": {"href": api(f"{base}/issues/{number}/comments")},
            "review_comments": {"href": api(f"{base}/pulls/{number}/comments")},
            "review_comment": {"href": api(f"{base}/pulls/comments{{/number}}")},
            "commits": {"href": api(f"{base}/pulls/{number}/commits")},
            "statuses": {"href": api(f"{base}/statuses/{pr['head_sha']}")},
        },
        "author_association": author_association(st, repo, issue_record["user"]),
        "auto_merge": auto_merge(st, pr.get("auto_merge")),
        "draft": pr.get("draft", False),
    }
    if full:
        merged_by = pr.get("merged_by")
        comments = sum(1 for c in repo.get("comments", {}).values() if c.get("issue_number") == number)
        body.update(
            {
                "merged": bool(pr.get("merged")),
                "mergeable": pr.get("mergeable"),
                "rebaseable": pr.get("rebaseable"),
                "mergeable_state": pr.get("mergeable_state", "unknown"),
                "merged_by": user(st, merged_by) if merged_by else None,
                "comments": comments,
                "review_comments": 0,
                "maintainer_can_modify": pr.get("maintainer_can_modify", False),
                "commits": pr.get("commits", 0),
                "additions": pr.get("additions", 0),
                "deletions": pr.get("deletions", 0),
                "changed_files": pr.get("changed_files", 0),
            }
        )
    return body


# --- issues, labels, comments, reactions, issue events (S2) ---------------------------------

REACTION_CONTENTS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


def author_association(st: Store, repo: dict[str, Any], login: str) -> str:
    """OWNER, MEMBER (org admin or team member), COLLABORATOR, or NONE, as GitHub reports it."""
    owner_login = repo["owner"]["login"]
    if login.lower() == owner_login.lower():
        return "OWNER"
    owner = st.find_user(owner_login) or {}
    if owner.get("type") == "Organization":
        if login.lower() in {a.lower() for a in owner.get("admins", [])}:
            return "MEMBER"
        prefix = owner_login.lower() + "/"
        for key, team in st.data["teams"].items():
            if key.lower().startswith(prefix) and login.lower() in team.get("members", {}):
                return "MEMBER"
    if login.lower() in repo.get("collaborators", {}):
        return "COLLABORATOR"
    return "NONE"


def reaction_rollup(url: str, reactions: dict[str, list[str]]) -> dict[str, Any]:
    counts = {content: len(reactions.get(content, [])) for content in REACTION_CONTENTS}
    return {"url": url, "total_count": sum(counts.values()), **counts}


def label(st: Store, repo: dict[str, Any], name: str) -> dict[str, Any]:
    record = repo["labels"][name.lower()]
    return {
        "id": record["id"],
        "node_id": node("Label", record["id"]),
        "url": api(f"/repos/{repo['full_name']}/labels/{quote(record['name'], safe='')}"),
        "name": record["name"],
        "color": record["color"],
        "default": bool(record.get("default", False)),
        "description": record.get("description"),
        "archived_at": record.get("archived_at"),
        "archived_by": None,
    }


def milestone(st: Store, repo: dict[str, Any], number: int) -> dict[str, Any]:
    record = repo.get("milestones", {})[str(number)]
    full = repo["full_name"]
    counted = [i for i in repo.get("issues", {}).values() if i.get("milestone") == number]
    return {
        "url": api(f"/repos/{full}/milestones/{number}"),
        "html_url": html(f"/{full}/milestone/{number}"),
        "labels_url": api(f"/repos/{full}/milestones/{number}/labels"),
        "id": record["id"],
        "node_id": node("Milestone", record["id"]),
        "number": number,
        "title": record["title"],
        "description": record.get("description"),
        "creator": user(st, record["creator"]),
        "open_issues": sum(1 for i in counted if i["state"] == "open"),
        "closed_issues": sum(1 for i in counted if i["state"] == "closed"),
        "state": record.get("state", "open"),
        "created_at": record["created_at"],
        "updated_at": record.get("updated_at", record["created_at"]),
        "due_on": record.get("due_on"),
        "closed_at": record.get("closed_at"),
    }


def issue(st: Store, repo: dict[str, Any], number: int) -> dict[str, Any]:
    """An issue, or the issue side of a pull request (with its `pull_request` key), as /issues answers it."""
    record = repo["issues"][str(number)]
    full = repo["full_name"]
    base = f"/repos/{full}/issues/{number}"
    assignees = [user(st, login) for login in record.get("assignees", [])]
    comments = sum(1 for c in repo.get("comments", {}).values() if c["issue_number"] == number)
    body: dict[str, Any] = {
        "url": api(base),
        "repository_url": api(f"/repos/{full}"),
        "labels_url": api(f"{base}/labels{{/name}}"),
        "comments_url": api(f"{base}/comments"),
        "events_url": api(f"{base}/events"),
        "html_url": html(f"/{full}/{'pull' if record.get('is_pull') else 'issues'}/{number}"),
        "id": record["id"],
        "node_id": node("PullRequest" if record.get("is_pull") else "Issue", record["id"]),
        "number": number,
        "title": record["title"],
        "user": user(st, record["user"]),
        "labels": [label(st, repo, name) for name in record.get("labels", []) if name.lower() in repo["labels"]],
        "state": record["state"],
        "locked": bool(record.get("locked", False)),
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "milestone": milestone(st, repo, record["milestone"]) if record.get("milestone") else None,
        "comments": comments,
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "closed_at": record.get("closed_at"),
        "closed_by": user(st, record["closed_by"]) if record.get("closed_by") else None,
        "author_association": author_association(st, repo, record["user"]),
        "active_lock_reason": None,
        "body": record.get("body"),
        "reactions": reaction_rollup(api(f"{base}/reactions"), record.get("reactions", {})),
        "timeline_url": api(f"{base}/timeline"),
        "performed_via_github_app": None,
        "state_reason": record.get("state_reason"),
        "draft": False,
    }
    if record.get("is_pull"):
        pull = repo.get("pulls", {}).get(str(number), {})
        body["draft"] = bool(pull.get("draft", False))
        body["pull_request"] = {
            "url": api(f"/repos/{full}/pulls/{number}"),
            "html_url": html(f"/{full}/pull/{number}"),
            "diff_url": html(f"/{full}/pull/{number}.diff"),
            "patch_url": html(f"/{full}/pull/{number}.patch"),
            "merged_at": pull.get("merged_at"),
        }
    return body


def comment(st: Store, repo: dict[str, Any], comment_id: int) -> dict[str, Any]:
    record = repo["comments"][str(comment_id)]
    full = repo["full_name"]
    number = record["issue_number"]
    is_pull = bool(repo["issues"].get(str(number), {}).get("is_pull"))
    return {
        "url": api(f"/repos/{full}/issues/comments/{comment_id}"),
        "html_url": html(f"/{full}/{'pull' if is_pull else 'issues'}/{number}#issuecomment-{comment_id}"),
        "issue_url": api(f"/repos/{full}/issues/{number}"),
        "id": record["id"],
        "node_id": node("IssueComment", record["id"]),
        "user": user(st, record["user"]),
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "author_association": author_association(st, repo, record["user"]),
        "body": record["body"],
        "reactions": reaction_rollup(
            api(f"/repos/{full}/issues/comments/{comment_id}/reactions"), record.get("reactions", {})
        ),
        "performed_via_github_app": None,
    }


def reaction(st: Store, record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "node_id": node("Reaction", record["id"]),
        "user": user(st, record["user"]),
        "content": record["content"],
        "created_at": record["created_at"],
    }


def issue_event(st: Store, repo: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """One entry of GET /issues/{n}/events: labeled/unlabeled carry `label`, assigned `assignee`, ..."""
    body: dict[str, Any] = {
        "id": record["id"],
        "node_id": node("IssueEvent", record["id"]),
        "url": api(f"/repos/{repo['full_name']}/issues/events/{record['id']}"),
        "actor": user(st, record["actor"]),
        "event": record["event"],
        "commit_id": record.get("commit_id"),
        "commit_url": api(f"/repos/{repo['full_name']}/commits/{record['commit_id']}")
        if record.get("commit_id")
        else None,
        "created_at": record["created_at"],
        "performed_via_github_app": None,
    }
    if "label" in record:
        body["label"] = {"name": record["label"]["name"], "color": record["label"]["color"]}
    if "assignee" in record:
        body["assignee"] = user(st, record["assignee"])
        body["assigner"] = user(st, record["actor"])
    if "milestone" in record:
        body["milestone"] = {"title": record["milestone"]}
    if "rename" in record:
        body["rename"] = dict(record["rename"])
    if "state_reason" in record:
        body["state_reason"] = record["state_reason"]
    return body


# --- statuses, check runs, check suites (S2) ------------------------------------------------


def github_app(st: Store, record: dict[str, Any]) -> dict[str, Any]:
    """A GitHub App as check runs and suites name it (the `integration` schema)."""
    return {
        "id": record["id"],
        "slug": record["slug"],
        "node_id": node("App", record["id"]),
        "client_id": f"Iv1.{record['id']:016x}",
        "owner": user(st, record.get("owner", "release-train-owner")),
        "name": record["name"],
        "description": record.get("description", ""),
        "external_url": record.get("external_url", f"https://example.com/{record['slug']}"),
        "html_url": html(f"/apps/{record['slug']}"),
        "created_at": record.get("created_at", "2024-01-01T00:00:00Z"),
        "updated_at": record.get("updated_at", record.get("created_at", "2024-01-01T00:00:00Z")),
        "permissions": dict(record.get("permissions", {})),
        "events": list(record.get("events", [])),
    }


def status(st: Store, repo: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    creator = user(st, record["creator"])
    return {
        "url": api(f"/repos/{repo['full_name']}/statuses/{record['sha']}"),
        "avatar_url": creator["avatar_url"],
        "id": record["id"],
        "node_id": node("StatusContext", record["id"]),
        "state": record["state"],
        "description": record.get("description"),
        "target_url": record.get("target_url"),
        "context": record["context"],
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "creator": creator,
    }


def combined_status(st: Store, repo: dict[str, Any], sha: str, latest: list[dict[str, Any]]) -> dict[str, Any]:
    """GitHub's combined state: failure if any error/failure, pending if any pending or none at all."""
    states = {s["state"] for s in latest}
    if states & {"error", "failure"}:
        state = "failure"
    elif not latest or "pending" in states:
        state = "pending"
    else:
        state = "success"
    statuses = []
    for record in latest:
        one = status(st, repo, record)
        one.pop("creator")
        one["required"] = False
        statuses.append(one)
    return {
        "state": state,
        "statuses": statuses,
        "sha": sha,
        "total_count": len(latest),
        "repository": minimal_repository(st, repo),
        "commit_url": api(f"/repos/{repo['full_name']}/commits/{sha}"),
        "url": api(f"/repos/{repo['full_name']}/commits/{sha}/status"),
    }


def minimal_repository(st: Store, repo: dict[str, Any]) -> dict[str, Any]:
    """The `minimal-repository` shape (the URL templates GitHub lists for every repository)."""
    full = repo["full_name"]
    base = api(f"/repos/{full}")
    body = dict(repository(st, repo))
    templates = {
        "archive_url": "/{archive_format}{/ref}",
        "assignees_url": "/assignees{/user}",
        "blobs_url": "/git/blobs{/sha}",
        "branches_url": "/branches{/branch}",
        "collaborators_url": "/collaborators{/collaborator}",
        "comments_url": "/comments{/number}",
        "commits_url": "/commits{/sha}",
        "compare_url": "/compare/{base}...{head}",
        "contents_url": "/contents/{+path}",
        "contributors_url": "/contributors",
        "deployments_url": "/deployments",
        "downloads_url": "/downloads",
        "events_url": "/events",
        "forks_url": "/forks",
        "git_commits_url": "/git/commits{/sha}",
        "git_refs_url": "/git/refs{/sha}",
        "git_tags_url": "/git/tags{/sha}",
        "hooks_url": "/hooks",
        "issue_comment_url": "/issues/comments{/number}",
        "issue_events_url": "/issues/events{/number}",
        "issues_url": "/issues{/number}",
        "keys_url": "/keys{/key_id}",
        "labels_url": "/labels{/name}",
        "languages_url": "/languages",
        "merges_url": "/merges",
        "milestones_url": "/milestones{/number}",
        "notifications_url": "/notifications{?since,all,participating}",
        "pulls_url": "/pulls{/number}",
        "releases_url": "/releases{/id}",
        "stargazers_url": "/stargazers",
        "statuses_url": "/statuses/{sha}",
        "subscribers_url": "/subscribers",
        "subscription_url": "/subscription",
        "tags_url": "/tags",
        "teams_url": "/teams",
        "trees_url": "/git/trees{/sha}",
    }
    for key, suffix in templates.items():
        body.setdefault(key, base + suffix)
    body.setdefault("description", repo.get("description"))
    body.setdefault("fork", False)
    return body


def pull_request_minimal(st: Store, repo: dict[str, Any], number: int) -> dict[str, Any]:
    pull = repo["pulls"][str(number)]
    repo_ref = {"id": repo["id"], "url": api(f"/repos/{repo['full_name']}"), "name": repo["name"]}
    return {
        "url": api(f"/repos/{repo['full_name']}/pulls/{number}"),
        "id": pull["id"],
        "number": number,
        "head": {"ref": pull["head_ref"], "sha": pull["head_sha"], "repo": repo_ref},
        "base": {"ref": pull["base_ref"], "sha": pull.get("base_sha", ""), "repo": repo_ref},
    }


def check_suite(st: Store, repo: dict[str, Any], suite_id: int, *, full: bool = True) -> dict[str, Any]:
    """A check suite; `full` adds what the REST answer carries beyond the copy inside a check run."""
    record = repo["check_suites"][str(suite_id)]
    app_record = record["app"]
    body: dict[str, Any] = {
        "id": record["id"],
        "node_id": node("CheckSuite", record["id"]),
        "head_branch": record.get("head_branch"),
        "head_sha": record["head_sha"],
        "status": record["status"],
        "conclusion": record.get("conclusion"),
        "url": api(f"/repos/{repo['full_name']}/check-suites/{record['id']}"),
        "before": record.get("before"),
        "after": record["head_sha"],
        "pull_requests": [pull_request_minimal(st, repo, n) for n in record.get("pull_requests", [])],
        "app": github_app(st, app_record),
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
    }
    if full:
        body["latest_check_runs_count"] = sum(
            1 for run in repo.get("check_runs", {}).values() if run["check_suite_id"] == record["id"]
        )
        body["check_runs_url"] = api(f"/repos/{repo['full_name']}/check-suites/{record['id']}/check-runs")
        body["head_commit"] = record.get("head_commit")
        body["repository"] = minimal_repository(st, repo)
        body["rerequestable"] = True
        body["runs_rerequestable"] = True
    return body


def check_run(st: Store, repo: dict[str, Any], run_id: int) -> dict[str, Any]:
    record = repo["check_runs"][str(run_id)]
    full = repo["full_name"]
    output = record.get("output", {})
    return {
        "id": record["id"],
        "head_sha": record["head_sha"],
        "node_id": node("CheckRun", record["id"]),
        "external_id": record.get("external_id") or "",
        "url": api(f"/repos/{full}/check-runs/{record['id']}"),
        "html_url": html(f"/{full}/runs/{record['id']}"),
        "details_url": record.get("details_url") or html(f"/{full}/runs/{record['id']}"),
        "status": record["status"],
        "conclusion": record.get("conclusion"),
        "started_at": record.get("started_at"),
        "completed_at": record.get("completed_at"),
        "output": {
            "title": output.get("title"),
            "summary": output.get("summary"),
            "text": output.get("text"),
            "annotations_count": len(record.get("annotations", [])),
            "annotations_url": api(f"/repos/{full}/check-runs/{record['id']}/annotations"),
        },
        "name": record["name"],
        "check_suite": check_suite(st, repo, record["check_suite_id"], full=False),
        "app": github_app(st, repo["check_suites"][str(record["check_suite_id"])]["app"]),
        "pull_requests": [pull_request_minimal(st, repo, n) for n in record.get("pull_requests", [])],
    }


# --- releases, deployments, teams (S2) ------------------------------------------------------


def release(st: Store, repo: dict[str, Any], release_id: int) -> dict[str, Any]:
    record = repo["releases"][str(release_id)]
    full = repo["full_name"]
    tag = record["tag_name"]
    return {
        "url": api(f"/repos/{full}/releases/{record['id']}"),
        "assets_url": api(f"/repos/{full}/releases/{record['id']}/assets"),
        "upload_url": f"{BASE['api']}/uploads/repos/{full}/releases/{record['id']}/assets{{?name,label}}",
        "html_url": html(f"/{full}/releases/tag/{tag}"),
        "id": record["id"],
        "node_id": node("Release", record["id"]),
        "tag_name": tag,
        "target_commitish": record["target_commitish"],
        "name": record.get("name"),
        "draft": bool(record.get("draft", False)),
        "author": user(st, record["author"]),
        "prerelease": bool(record.get("prerelease", False)),
        "immutable": False,
        "created_at": record["created_at"],
        "updated_at": record.get("updated_at", record["created_at"]),
        "published_at": record.get("published_at"),
        "assets": [],
        "tarball_url": api(f"/repos/{full}/tarball/{tag}"),
        "zipball_url": api(f"/repos/{full}/zipball/{tag}"),
        "body": record.get("body"),
    }


def deployment(st: Store, repo: dict[str, Any], deployment_id: int) -> dict[str, Any]:
    record = repo["deployments"][str(deployment_id)]
    full = repo["full_name"]
    return {
        "url": api(f"/repos/{full}/deployments/{record['id']}"),
        "id": record["id"],
        "node_id": node("Deployment", record["id"]),
        "sha": record["sha"],
        "ref": record["ref"],
        "task": record.get("task", "deploy"),
        "payload": record.get("payload", {}),
        "original_environment": record["environment"],
        "environment": record["environment"],
        "description": record.get("description"),
        "creator": user(st, record["creator"]),
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "statuses_url": api(f"/repos/{full}/deployments/{record['id']}/statuses"),
        "repository_url": api(f"/repos/{full}"),
        "transient_environment": bool(record.get("transient_environment", False)),
        "production_environment": bool(record.get("production_environment", record["environment"] == "production")),
        "performed_via_github_app": None,
    }


def team(st: Store, org: str, slug: str, *, full: bool = False) -> dict[str, Any]:
    record = st.data["teams"][f"{org}/{slug}".lower()]
    org_login = st.user(org, kind="Organization")["login"]
    body: dict[str, Any] = {
        "id": record["id"],
        "node_id": node("Team", record["id"]),
        "url": api(f"/organizations/{st.user(org)['id']}/team/{record['id']}"),
        "html_url": html(f"/orgs/{org_login}/teams/{record['slug']}"),
        "name": record["name"],
        "slug": record["slug"],
        "description": record.get("description"),
        "privacy": record.get("privacy", "closed"),
        "notification_setting": "notifications_enabled",
        "permission": record.get("permission", "pull"),
        "members_url": api(f"/organizations/{st.user(org)['id']}/team/{record['id']}/members{{/member}}"),
        "repositories_url": api(f"/organizations/{st.user(org)['id']}/team/{record['id']}/repos"),
        "parent": None,
        "type": "organization",
        "organization_id": st.user(org)["id"],
    }
    if full:
        org_record = st.user(org)
        body["members_count"] = len(record.get("members", {}))
        body["repos_count"] = len(record.get("repos", {}))
        body["created_at"] = record["created_at"]
        body["updated_at"] = record.get("updated_at", record["created_at"])
        body["organization"] = {
            **organization(st, org_login),
            "html_url": html(f"/{org_login}"),
            "has_organization_projects": True,
            "has_repository_projects": True,
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "type": "Organization",
            "created_at": org_record["created_at"],
            "updated_at": org_record["created_at"],
            "archived_at": None,
        }
    return body
