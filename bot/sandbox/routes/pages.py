"""The sandbox's web view: read-only pages at every `html_url` it hands out, styled with GitHub's Primer CSS.

Pages read the sandbox's Store and git directly, answer only GET (and HEAD), and render people's
Markdown as GitHub does (bot/rules/markdown.py: the GFM parser that reads commands, then sanitised).
Everything else in a page is escaped by Jinja. The view is the sandbox operator's: it shows every
repository, private ones included, to whoever reaches the sandbox's loopback port.
"""

from __future__ import annotations

import re
import shlex
from importlib import resources
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from markupsafe import Markup

from bot.rules.markdown import render as render_markdown
from bot.sandbox import render
from bot.sandbox.common import GIT, SANDBOX, STORE
from bot.sandbox.git import Commit, GitRepos, is_sha
from bot.sandbox.protection import check_results, merge_blockers, protection_summary
from bot.sandbox.state import Store

PREFIX = "/_html"
STATIC = resources.files("bot.sandbox") / "static" / "primer"
COMMITS_SHOWN = 100
GOOD = ("success", "neutral", "skipped")


class Page:
    """What a page needs from the sandbox: the store, git, and the repository it is about."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.store: Store = request.app[STORE]
        self.git: GitRepos = request.app[GIT]

    def repo(self) -> dict[str, Any]:
        owner, name = self.request.match_info["owner"], self.request.match_info["repo"]
        found = self.store.repo(owner, name)
        if found is None:
            raise not_found(f"{owner}/{name}")
        return found

    async def commit(self, repo: dict[str, Any], rev: str) -> Commit:
        sha = await self.git.resolve_commit(repo["full_name"], rev)
        commit = await self.git.read_commit(repo["full_name"], sha) if sha else None
        if commit is None:
            raise not_found(f"{repo['full_name']}@{rev}")
        return commit

    async def split_ref(self, repo: dict[str, Any], rest: str) -> tuple[str, str, str]:
        """`rc/1.5/src/app.py` as (ref, sha, path): the longest leading part that names a commit, as GitHub reads it."""
        parts = rest.strip("/").split("/")
        for cut in range(len(parts), 0, -1):
            ref = "/".join(parts[:cut])
            sha = await self.git.resolve_commit(repo["full_name"], ref)
            if sha:
                return ref, sha, "/".join(parts[cut:])
        raise not_found(f"{repo['full_name']}@{rest}")


def not_found(what: str) -> web.HTTPNotFound:
    body = (
        '<!doctype html><html lang="en" data-color-mode="light" data-light-theme="light"><head><meta charset="utf-8">'
        f'<title>Page not found · Sandbox GitHub</title><link rel="stylesheet" href="{PREFIX}/_static/primer.css">'
        '</head><body><div class="container-md p-5"><div class="blankslate"><h1 class="blankslate-heading">404</h1>'
        f"<p>There is nothing at {Markup.escape(what)} in this sandbox.</p></div></div></body></html>"
    )
    return web.HTTPNotFound(text=body, content_type="text/html")


def markdown(text: str | None) -> Markup:
    """People's Markdown, rendered and sanitised as GitHub shows it (the only unescaped HTML in a page)."""
    return Markup(render_markdown(text or ""))  # sanitised by nh3 in bot.rules.markdown


def label_text(color: str) -> str:
    """Black or white text on a label of this colour, whichever GitHub's contrast rule picks."""
    red, green, blue = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return "#1f2328" if (red * 299 + green * 587 + blue * 114) / 1000 > 140 else "#ffffff"


def html_path(path: str) -> str:
    return PREFIX + path


def state_of(conclusion: str | None, status: str | None = "completed") -> str:
    """One word for a check run or status: success, failure, pending or neutral (the icon and colour it gets)."""
    if status not in (None, "completed"):
        return "pending"
    if conclusion in ("success",):
        return "success"
    if conclusion in ("neutral", "skipped"):
        return "neutral"
    if conclusion in ("pending", None):
        return "pending"
    return "failure"


# --- gathering what a page shows ---------------------------------------------------------------


def checks_on(st: Store, repo: dict[str, Any], sha: str) -> list[dict[str, Any]]:
    """The latest check run per app and name on a commit, and the latest status per context, as the merge box lists them."""
    latest: dict[tuple[int, str], dict[str, Any]] = {}
    for run in sorted(repo.get("check_runs", {}).values(), key=lambda r: r["id"]):
        if run["head_sha"] == sha:
            suite = repo["check_suites"][str(run["check_suite_id"])]
            latest[(int(suite["app"]["id"]), run["name"])] = run
    rows = []
    for (_, _), run in sorted(latest.items(), key=lambda item: item[1]["name"]):
        shaped = render.check_run(st, repo, run["id"])
        rows.append(
            {
                "name": run["name"],
                "app": shaped["app"]["name"],
                "app_slug": shaped["app"]["slug"],
                "state": state_of(run.get("conclusion"), run.get("status")),
                "conclusion": run.get("conclusion") or run.get("status"),
                "title": (run.get("output") or {}).get("title") or "",
                "url": html_path(f"/{repo['full_name']}/runs/{run['id']}"),
            }
        )
    statuses: dict[str, dict[str, Any]] = {}
    for record in sorted(repo.get("statuses", []), key=lambda r: r["id"]):
        if record["sha"] == sha:
            statuses[record["context"]] = record
    for context, record in sorted(statuses.items()):
        rows.append(
            {
                "name": context,
                "app": record.get("creator") or "",
                "app_slug": "",
                "state": {"success": "success", "pending": "pending"}.get(record["state"], "failure"),
                "conclusion": record["state"],
                "title": record.get("description") or "",
                "url": record.get("target_url") or "",
            }
        )
    return rows


def people_of(st: Store, repo: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted((st.user(login)["login"], level) for login, level in repo.get("collaborators", {}).items())


def labels_of(st: Store, repo: dict[str, Any], names: list[str]) -> list[dict[str, Any]]:
    return [render.label(st, repo, n) for n in names if n.lower() in repo.get("labels", {})]


def timeline(st: Store, repo: dict[str, Any], number: int) -> list[dict[str, Any]]:
    """Comments and events of an issue or PR, oldest first, as GitHub's conversation shows them."""
    entries: list[dict[str, Any]] = []
    for record in repo.get("comments", {}).values():
        if record.get("issue_number") == number:
            shaped = render.comment(st, repo, record["id"])
            reactions = {k: len(v) for k, v in (record.get("reactions") or {}).items() if v}
            entries.append(
                {
                    "kind": "comment",
                    "id": record["id"],
                    "at": record["created_at"],
                    "comment": shaped,
                    "reactions": reactions,
                }
            )
    for record in repo.get("issue_events", []):
        if record.get("issue_number") == number:
            entries.append({"kind": "event", "id": record["id"], "at": record["created_at"], "event": record})
    return sorted(entries, key=lambda e: (e["at"], e["id"]))


REACTION_EMOJI = {
    "+1": "👍",
    "-1": "👎",
    "laugh": "😄",
    "confused": "😕",
    "heart": "❤️",
    "hooray": "🎉",
    "rocket": "🚀",
    "eyes": "👀",
}


def query_filter(q: str) -> dict[str, list[str]]:
    """GitHub's search box words (`is:open label:release-blocker base:rc/1.5`) as {qualifier: values}."""
    words: dict[str, list[str]] = {}
    try:
        parts = shlex.split(q)
    except ValueError:
        parts = q.split()
    for part in parts:
        key, sep, value = part.partition(":")
        if sep and value:
            words.setdefault(key.lower(), []).append(value)
        else:
            words.setdefault("text", []).append(part)
    return words


def matches(record: dict[str, Any], pull: dict[str, Any] | None, words: dict[str, list[str]]) -> bool:
    for value in words.get("is", []):
        if value in ("open", "closed") and record["state"] != value:
            return False
        if value == "merged" and not (pull and pull.get("merged")):
            return False
        if value in ("pr", "pull-request") and pull is None:
            return False
        if value == "issue" and pull is not None:
            return False
    names = {n.lower() for n in record.get("labels", [])}
    if any(value.lower() not in names for value in words.get("label", [])):
        return False
    if pull is not None:
        if any(value != pull["base_ref"] for value in words.get("base", [])):
            return False
        if any(value != pull["head_ref"] for value in words.get("head", [])):
            return False
    if any(value.lower() != record["user"].lower() for value in words.get("author", [])):
        return False
    text = " ".join(words.get("text", [])).lower()
    return not text or text in (record["title"] + " " + (record.get("body") or "")).lower()


# --- pages -----------------------------------------------------------------------------------


def show(request: web.Request, template: str, context: dict[str, Any]) -> web.Response:
    return aiohttp_jinja2.render_template(f"pages/{template}", request, context)


async def home(request: web.Request) -> web.Response:
    st: Store = request.app[STORE]
    owners: dict[str, list[dict[str, Any]]] = {}
    for repo in sorted(st.data["repos"].values(), key=lambda r: r["full_name"].lower()):
        owners.setdefault(repo["owner"]["login"], []).append(repo)
    return show(request, "home.html", {"owners": owners})


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name != "primer.css":
        raise not_found(name)
    return web.Response(
        body=(STATIC / name).read_bytes(),
        content_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


async def owner_page(request: web.Request) -> web.Response:
    st: Store = request.app[STORE]
    login = request.match_info["owner"]
    record = st.find_user(login)
    if record is None:
        raise not_found(login)
    repos = sorted(
        (r for r in st.data["repos"].values() if r["owner"]["login"].lower() == login.lower()),
        key=lambda r: r["full_name"].lower(),
    )
    teams = sorted(
        (t for key, t in st.data["teams"].items() if key.split("/", 1)[0] == login.lower()), key=lambda t: t["slug"]
    )
    memberships = sorted(
        (key.split("/", 1)[0], t["slug"])
        for key, t in st.data["teams"].items()
        if login.lower() in {m.lower() for m in t.get("members", {})}
    )
    return show(
        request,
        "owner.html",
        {
            "owner": record,
            "repos": repos,
            "teams": teams,
            "memberships": memberships,
            "admins": record.get("admins", []),
        },
    )


async def team_page(request: web.Request) -> web.Response:
    st: Store = request.app[STORE]
    org, slug = request.match_info["org"], request.match_info["slug"]
    record = st.data["teams"].get(f"{org}/{slug}".lower())
    if record is None:
        raise not_found(f"@{org}/{slug}")
    members = sorted((st.user(login)["login"], role) for login, role in record.get("members", {}).items())
    org_login = st.user(org)["login"]
    return show(request, "team.html", {"org": org_login, "team": record, "members": members})


async def app_page(request: web.Request) -> web.Response:
    st: Store = request.app[STORE]
    slug = request.match_info["slug"].lower()
    own = st.data["app"]
    record: dict[str, Any] | None
    if own.get("slug", "").lower() == slug:
        config = request.app[SANDBOX]
        record = {**own, "permissions": config.permissions, "events": sorted(config.events)}
    else:
        record = (st.data.get("ci_apps") or {}).get(slug)
    if record is None:
        raise not_found(f"apps/{slug}")
    return show(request, "app.html", {"app": record})


async def repo_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    return await tree_view(page, repo, repo.get("default_branch", "main"), "")


async def tree_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    ref, _, path = await page.split_ref(repo, request.match_info["rest"])
    return await tree_view(page, repo, ref, path)


async def tree_view(page: Page, repo: dict[str, Any], ref: str, path: str) -> web.Response:
    full = repo["full_name"]
    branches = [name.removeprefix("refs/heads/") for name, _, _ in await page.git.refs(full, "refs/heads/")]
    sha = await page.git.resolve_commit(full, ref)
    entries: list[Any] = []
    readme = None
    head = None
    if sha:
        head = await page.git.read_commit(full, sha)
        listing = await page.git.ls_tree(full, f"{sha}:{path}" if path else sha)
        if path and not listing:
            raise not_found(f"{full}/{path}@{ref}")
        entries = sorted(listing, key=lambda e: (e.type != "tree", e.path.lower()))
        for entry in entries:
            if entry.type == "blob" and entry.path.lower() in ("readme.md", "readme"):
                blob = await page.git.read_blob(full, entry.sha)
                readme = {"name": entry.path, "html": markdown((blob or b"").decode("utf-8", errors="replace"))}
                break
    return show(
        page.request,
        "tree.html",
        {
            **repo_context(page.store, repo, "code"),
            "ref": ref,
            "path": path,
            "crumbs": crumbs(path),
            "entries": entries,
            "readme": readme,
            "head": head,
            "branches": sorted(branches),
            "empty": sha is None,
        },
    )


def crumbs(path: str) -> list[tuple[str, str]]:
    parts = [p for p in path.split("/") if p]
    return [(name, "/".join(parts[: i + 1])) for i, name in enumerate(parts)]


def repo_context(st: Store, repo: dict[str, Any], tab: str) -> dict[str, Any]:
    issues = repo.get("issues", {}).values()
    return {
        "repo": repo,
        "full": repo["full_name"],
        "tab": tab,
        "open_issues": sum(1 for i in issues if i["state"] == "open" and not i.get("is_pull")),
        "open_pulls": sum(1 for i in issues if i["state"] == "open" and i.get("is_pull")),
    }


async def blob_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    ref, sha, path = await page.split_ref(repo, request.match_info["rest"])
    entry = await page.git.entry_at(repo["full_name"], sha, path) if path else None
    if entry is None or entry.type != "blob":
        raise not_found(f"{repo['full_name']}/{path}@{ref}")
    content = await page.git.read_blob(repo["full_name"], entry.sha) or b""
    text = content.decode("utf-8", errors="replace") if b"\0" not in content[:8000] else None
    rendered = markdown(text) if text is not None and path.lower().endswith((".md", ".markdown")) else None
    return show(
        request,
        "blob.html",
        {
            **repo_context(page.store, repo, "code"),
            "ref": ref,
            "path": path,
            "crumbs": crumbs(path),
            "text": text,
            "lines": (text or "").splitlines(),
            "rendered": rendered,
            "size": len(content),
        },
    )


async def raw_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    _, sha, path = await page.split_ref(repo, request.match_info["rest"])
    entry = await page.git.entry_at(repo["full_name"], sha, path) if path else None
    if entry is None or entry.type != "blob":
        raise not_found(f"{repo['full_name']}/{path}")
    content = await page.git.read_blob(repo["full_name"], entry.sha) or b""
    # GitHub's raw host serves text/plain so that no file becomes a page.
    return web.Response(body=content, content_type="text/plain", charset="utf-8")


async def branches_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    full = repo["full_name"]
    rows = []
    for name, sha, _ in await page.git.refs(full, "refs/heads/"):
        branch = name.removeprefix("refs/heads/")
        commit = await page.git.read_commit(full, sha)
        rows.append(
            {
                "name": branch,
                "commit": commit,
                "protected": protection_summary(repo, branch).get("protected", False),
                "default": branch == repo.get("default_branch"),
                "checks": checks_on(page.store, repo, sha),
            }
        )
    rows.sort(key=lambda r: (not r["default"], r["name"]))
    return show(request, "branches.html", {**repo_context(page.store, repo, "code"), "branches": rows})


async def tags_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    full = repo["full_name"]
    rows: list[dict[str, Any]] = []
    for name, _, _ in await page.git.refs(full, "refs/tags/"):
        tag = name.removeprefix("refs/tags/")
        commit_sha = await page.git.resolve_commit(full, name)
        rows.append(
            {
                "name": tag,
                "sha": commit_sha,
                "commit": await page.git.read_commit(full, commit_sha) if commit_sha else None,
            }
        )
    rows.sort(key=lambda r: r["name"], reverse=True)
    return show(request, "tags.html", {**repo_context(page.store, repo, "code"), "tags": rows})


async def commits_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    ref, sha, _ = await page.split_ref(repo, request.match_info.get("rest") or repo.get("default_branch", "main"))
    full = repo["full_name"]
    shas = await page.git.rev_list(full, sha, limit=COMMITS_SHOWN)
    commits = await page.git.read_commits(full, shas)
    return show(
        request,
        "commits.html",
        {**repo_context(page.store, repo, "code"), "ref": ref, "commits": commits, "shown": COMMITS_SHOWN},
    )


async def commit_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    commit = await page.commit(repo, request.match_info["sha"])
    full = repo["full_name"]
    files = await page.git.diff(full, commit.parents[0] if commit.parents else None, commit.sha)
    pulls = [
        (int(number), pr, repo["issues"][number])
        for number, pr in repo.get("pulls", {}).items()
        if commit.sha in (pr.get("commit_shas") or []) or pr.get("merge_commit_sha") == commit.sha
    ]
    return show(
        request,
        "commit.html",
        {
            **repo_context(page.store, repo, "code"),
            "commit": commit,
            "files": files,
            "checks": checks_on(page.store, repo, commit.sha),
            "pulls": sorted(pulls, key=lambda p: p[0]),
        },
    )


async def compare_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    basehead = request.match_info["basehead"]
    diff_only = basehead.endswith((".diff", ".patch"))
    basehead = re.sub(r"\.(diff|patch)$", "", basehead)
    base_rev, sep, head_rev = basehead.partition("...")
    if not sep:
        raise not_found(basehead)
    full = repo["full_name"]
    head = await page.commit(repo, head_rev)
    base = await page.commit(repo, base_rev) if base_rev.strip("0") else None
    merge_base = await page.git.merge_base(full, base.sha, head.sha) if base else None
    shas = await page.git.rev_list(full, head.sha, merge_base, reverse=True, limit=COMMITS_SHOWN)
    files = await page.git.diff(full, merge_base, head.sha)
    if diff_only:
        return web.Response(text=diff_text(files), content_type="text/plain")
    return show(
        request,
        "compare.html",
        {
            **repo_context(page.store, repo, "code"),
            "base": base_rev,
            "head": head_rev,
            "commits": await page.git.read_commits(full, shas),
            "files": files,
        },
    )


def diff_text(files: list[Any]) -> str:
    out = []
    for f in files:
        before = f.previous_filename or f.filename
        out.append(f"diff --git a/{before} b/{f.filename}\n--- a/{before}\n+++ b/{f.filename}\n{f.patch or ''}\n")
    return "".join(out)


async def pulls_page(request: web.Request) -> web.Response:
    return await listing(request, pulls=True)


async def issues_page(request: web.Request) -> web.Response:
    return await listing(request, pulls=False)


async def listing(request: web.Request, *, pulls: bool) -> web.Response:
    page = Page(request)
    repo = page.repo()
    q = request.query.get("q") or ("is:open is:pr" if pulls else "is:open is:issue")
    words = query_filter(q)
    words.setdefault("is", []).append("pr" if pulls else "issue")
    rows = []
    for number, record in repo.get("issues", {}).items():
        pull = repo.get("pulls", {}).get(number) if record.get("is_pull") else None
        if matches(record, pull, words):
            rows.append(
                {
                    "number": int(number),
                    "issue": record,
                    "pull": pull,
                    "labels": labels_of(page.store, repo, record.get("labels", [])),
                }
            )
    rows.sort(key=lambda r: r["number"], reverse=True)
    return show(
        request,
        "list.html",
        {**repo_context(page.store, repo, "pulls" if pulls else "issues"), "rows": rows, "q": q, "pulls": pulls},
    )


async def issue_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    number = request.match_info["number"]
    record = repo.get("issues", {}).get(number)
    if record is None:
        raise not_found(f"{repo['full_name']}#{number}")
    if record.get("is_pull"):
        raise web.HTTPFound(html_path(f"/{repo['full_name']}/pull/{number}"))
    return show(
        request,
        "issue.html",
        {**repo_context(page.store, repo, "issues"), **issue_context(page.store, repo, int(number))},
    )


def issue_context(st: Store, repo: dict[str, Any], number: int) -> dict[str, Any]:
    record = repo["issues"][str(number)]
    milestone = record.get("milestone")
    return {
        "number": number,
        "issue": record,
        "body": markdown(record.get("body")),
        "labels": labels_of(st, repo, record.get("labels", [])),
        "timeline": timeline(st, repo, number),
        "assignees": record.get("assignees", []),
        "milestone": repo.get("milestones", {}).get(str(milestone)) if milestone else None,
        "emoji": REACTION_EMOJI,
    }


async def pull_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    number = request.match_info["number"]
    pr = repo.get("pulls", {}).get(number)
    if pr is None:
        if number in repo.get("issues", {}):
            raise web.HTTPFound(html_path(f"/{repo['full_name']}/issues/{number}"))
        raise not_found(f"{repo['full_name']}#{number}")
    full = repo["full_name"]
    commits = await page.git.read_commits(full, list(pr.get("commit_shas") or []))
    context = {
        **repo_context(page.store, repo, "pulls"),
        **issue_context(page.store, repo, int(number)),
        "pr": pr,
        "commits": commits,
        "checks": checks_on(page.store, repo, pr["head_sha"]),
        "merge_box": await merge_box(page, repo, pr)
        if not pr.get("merged") and repo["issues"][number]["state"] == "open"
        else None,
    }
    return show(request, "pull.html", context)


async def merge_box(page: Page, repo: dict[str, Any], pr: dict[str, Any]) -> dict[str, Any]:
    """What GitHub's merge box says: conflicts, what protection asks that is missing, or ready to merge."""
    outcome = await page.git.merge_trees(repo["full_name"], pr["base_sha"], pr["head_sha"])
    blockers, _, behind = await merge_blockers(page.git, repo, pr, None)
    results = check_results(repo, pr["head_sha"])
    failing = sum(1 for _, _, state in results if state == "failure")
    pending = sum(1 for _, _, state in results if state == "pending")
    if not outcome.clean:
        state, title = "dirty", "This branch has conflicts that must be resolved"
    elif blockers:
        state, title = ("behind" if behind else "blocked"), "Merging is blocked"
    elif failing:
        state, title = "unstable", "Some checks were not successful"
    else:
        state, title = "clean", "This branch has no conflicts with the base branch"
    return {
        "state": state,
        "title": title,
        "blockers": blockers,
        "conflicts": list(outcome.conflicts),
        "failing": failing,
        "pending": pending,
        "passing": len(results) - failing - pending,
        "protected": protection_summary(repo, pr["base_ref"]).get("protected", False),
    }


async def pull_diff(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    pr = repo.get("pulls", {}).get(request.match_info["number"])
    if pr is None:
        raise not_found(f"{repo['full_name']}#{request.match_info['number']}")
    full = repo["full_name"]
    merge_base = await page.git.merge_base(full, pr["base_sha"], pr["head_sha"])
    return web.Response(
        text=diff_text(await page.git.diff(full, merge_base, pr["head_sha"])), content_type="text/plain"
    )


async def run_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    record = repo.get("check_runs", {}).get(request.match_info["run_id"])
    if record is None:
        raise not_found(f"{repo['full_name']} check run {request.match_info['run_id']}")
    shaped = render.check_run(page.store, repo, record["id"])
    output = record.get("output") or {}
    prs = [(n, repo["issues"][str(n)]) for n in record.get("pull_requests", []) if str(n) in repo.get("issues", {})]
    return show(
        request,
        "run.html",
        {
            **repo_context(page.store, repo, "pulls"),
            "run": record,
            "app": shaped["app"],
            "state": state_of(record.get("conclusion"), record.get("status")),
            "title": output.get("title") or record["name"],
            "summary": markdown(output.get("summary")),
            "text": markdown(output.get("text")) if output.get("text") else None,
            "annotations": record.get("annotations", []),
            "pulls": prs,
            "others": checks_on(page.store, repo, record["head_sha"]),
        },
    )


async def workflow_run_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    run_id = int(request.match_info["run_id"]) if request.match_info["run_id"].isdigit() else -1
    found = [r for r in repo.get("workflow_runs", []) if r["id"] == run_id]
    if not found:
        raise not_found(f"{repo['full_name']} workflow run {request.match_info['run_id']}")
    return show(request, "workflow_run.html", {**repo_context(page.store, repo, "actions"), "run": found[0]})


async def releases_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    rows = [
        {**record, "html": markdown(record.get("body"))}
        for record in sorted(repo.get("releases", {}).values(), key=lambda r: r["id"], reverse=True)
    ]
    return show(
        request, "releases.html", {**repo_context(page.store, repo, "releases"), "releases": rows, "single": False}
    )


async def release_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    tag = request.match_info["tag"]
    found = [r for r in repo.get("releases", {}).values() if r["tag_name"] == tag]
    if not found:
        raise not_found(f"{repo['full_name']} release {tag}")
    rows = [{**found[0], "html": markdown(found[0].get("body"))}]
    return show(
        request, "releases.html", {**repo_context(page.store, repo, "releases"), "releases": rows, "single": True}
    )


async def deployments_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    wanted = request.query.get("environments_filter") or request.match_info.get("environment")
    rows = [
        record
        for record in sorted(repo.get("deployments", {}).values(), key=lambda r: r["id"], reverse=True)
        if not wanted or record["environment"] == wanted
    ]
    environments = sorted(
        {r["environment"] for r in repo.get("deployments", {}).values()} | set(repo.get("environments", {}))
    )
    return show(
        request,
        "deployments.html",
        {
            **repo_context(page.store, repo, "deployments"),
            "deployments": rows,
            "environments": environments,
            "wanted": wanted,
        },
    )


async def milestone_page(request: web.Request) -> web.Response:
    page = Page(request)
    repo = page.repo()
    number = request.match_info["number"]
    record = repo.get("milestones", {}).get(number)
    if record is None:
        raise not_found(f"{repo['full_name']} milestone {number}")
    rows = [
        {
            "number": int(n),
            "issue": i,
            "pull": repo.get("pulls", {}).get(n),
            "labels": labels_of(page.store, repo, i.get("labels", [])),
        }
        for n, i in repo.get("issues", {}).items()
        if i.get("milestone") == int(number)
    ]
    return show(
        request,
        "list.html",
        {
            **repo_context(page.store, repo, "issues"),
            "rows": rows,
            "q": f"milestone:{record.get('title', number)}",
            "pulls": False,
            "milestone": record,
        },
    )


def setup(app: web.Application) -> None:
    env = aiohttp_jinja2.get_env(app)
    env.filters["short"] = lambda sha: (sha or "")[:7]
    env.filters["first_line"] = lambda text: (text or "").split("\n", 1)[0]
    env.filters["rest_lines"] = lambda text: (text or "").split("\n", 1)[1].strip() if "\n" in (text or "") else ""
    env.filters["quote"] = lambda text: quote(text or "", safe="/")
    env.filters["markdown"] = markdown
    env.filters["label_text"] = label_text
    env.tests["hexcolor"] = lambda value: isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F]{6}", value) is not None
    env.globals["PREFIX"] = PREFIX
    env.globals["is_sha"] = is_sha
    r = app.router
    r.add_get(PREFIX, home)
    r.add_get(PREFIX + "/", home)
    r.add_get(PREFIX + "/_static/{name}", static)
    r.add_get(PREFIX + "/apps/{slug}", app_page)
    r.add_get(PREFIX + "/orgs/{org}/teams/{slug}", team_page)
    base = PREFIX + "/{owner}/{repo}"
    r.add_get(base + "/tree/{rest:.+}", tree_page)
    r.add_get(base + "/blob/{rest:.+}", blob_page)
    r.add_get(base + "/raw/{rest:.+}", raw_page)
    r.add_get(base + "/branches", branches_page)
    r.add_get(base + "/tags", tags_page)
    r.add_get(base + "/commits", commits_page)
    r.add_get(base + "/commits/{rest:.+}", commits_page)
    r.add_get(base + "/commit/{sha}", commit_page)
    r.add_get(base + "/compare/{basehead:.+}", compare_page)
    r.add_get(base + "/pulls", pulls_page)
    r.add_get(base + r"/pull/{number:\d+}", pull_page)
    r.add_get(base + r"/pull/{number:\d+}/{tab:files|commits|checks}", pull_page)
    r.add_get(base + r"/pull/{number:\d+}.{kind:diff|patch}", pull_diff)
    r.add_get(base + "/issues", issues_page)
    r.add_get(base + r"/issues/{number:\d+}", issue_page)
    r.add_get(base + r"/runs/{run_id:\d+}", run_page)
    r.add_get(base + "/actions/runs/{run_id}", workflow_run_page)
    r.add_get(base + "/releases", releases_page)
    r.add_get(base + "/releases/tag/{tag:.+}", release_page)
    r.add_get(base + "/deployments", deployments_page)
    r.add_get(base + "/deployments/activity_log", deployments_page)
    r.add_get(base + "/deployments/{environment}", deployments_page)
    r.add_get(base + r"/milestone/{number:\d+}", milestone_page)
    r.add_get(base, repo_page)
    r.add_get(PREFIX + "/{owner}", owner_page)
