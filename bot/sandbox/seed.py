"""People's actions for tests and the demo, done through the sandbox's REST API as those people."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.sandbox.common import HOOKS, STORE
from bot.sandbox.harness import Answer, World


def _expect(answer: Answer, *statuses: int, doing: str) -> Any:
    if answer.status not in statuses:
        raise AssertionError(f"{doing}: expected {statuses}, got {answer.status}: {answer.body!r}")
    return answer.body


def _admin_of(world: World, owner: str) -> str:
    """Who acts for an owner: the user itself, or an organisation's first admin."""
    record = world.app[STORE].find_user(owner) or {}
    return str((record.get("admins") or [owner])[0])


def _repo_path(full_name: str) -> str:
    owner, _, name = full_name.partition("/")
    return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"


async def create_org_repo(
    world: World,
    org: str,
    name: str,
    *,
    admin: str,
    files: dict[str, str | bytes] | None = None,
    default_branch: str = "main",
    private: bool = False,
) -> dict[str, Any]:
    """A repository in org, created by admin (who owns the org if it is new), with an initial commit.

    files go into the first commit on default_branch (a README when none are given).
    """
    repo = _expect(
        await world.call(
            admin,
            "POST",
            f"/orgs/{quote(org, safe='')}/repos",
            {"name": name, "private": private, "auto_init": not files},
        ),
        201,
        doing=f"{admin} creates {org}/{name}",
    )
    full_name = repo["full_name"]
    if files:
        items = [await _blob_item(world, admin, full_name, path, content) for path, content in files.items()]
        tree = _expect(
            await world.call(admin, "POST", f"{_repo_path(full_name)}/git/trees", {"tree": items}),
            201,
            doing=f"tree for {full_name}",
        )
        first = _expect(
            await world.call(
                admin,
                "POST",
                f"{_repo_path(full_name)}/git/commits",
                {"message": "Initial commit", "tree": tree["sha"], "parents": []},
            ),
            201,
            doing=f"first commit of {full_name}",
        )
        _expect(
            await world.call(
                admin,
                "POST",
                f"{_repo_path(full_name)}/git/refs",
                {"ref": f"refs/heads/{default_branch}", "sha": first["sha"]},
            ),
            201,
            doing=f"branch {default_branch} of {full_name}",
        )
    elif default_branch != "main":
        main = _expect(await world.call(admin, "GET", f"{_repo_path(full_name)}/git/ref/heads/main"), 200, doing="main")
        await create_branch(world, admin, full_name, default_branch, main["object"]["sha"])
    if default_branch != "main" or files:
        repo = _expect(
            await world.call(admin, "PATCH", _repo_path(full_name), {"default_branch": default_branch}),
            200,
            doing=f"default branch of {full_name}",
        )
    return repo


def _tree_item(path: str, content: str | None) -> dict[str, Any]:
    if content is None:
        return {"path": path, "mode": "100644", "type": "blob", "sha": None}
    return {"path": path, "mode": "100644", "type": "blob", "content": content}


async def _blob_item(
    world: World, login: str, full_name: str, path: str, content: str | bytes | None
) -> dict[str, Any]:
    if content is None or isinstance(content, str):
        return _tree_item(path, content)
    blob = _expect(
        await world.call(
            login,
            "POST",
            f"{_repo_path(full_name)}/git/blobs",
            {"content": base64.b64encode(content).decode(), "encoding": "base64"},
        ),
        201,
        doing=f"blob {path}",
    )
    return {"path": path, "mode": "100644", "type": "blob", "sha": blob["sha"]}


async def commit(
    world: World, login: str, full_name: str, branch: str, files: dict[str, str | bytes | None], message: str
) -> str:
    """One commit by login on top of branch changing files (None deletes a file), pushed; its sha."""
    path = _repo_path(full_name)
    head = _expect(
        await world.call(login, "GET", f"{path}/git/ref/heads/{quote(branch)}"), 200, doing=f"{branch} of {full_name}"
    )
    parent = _expect(
        await world.call(login, "GET", f"{path}/git/commits/{head['object']['sha']}"), 200, doing="head commit"
    )
    items = [await _blob_item(world, login, full_name, p, c) for p, c in files.items()]
    tree = _expect(
        await world.call(login, "POST", f"{path}/git/trees", {"base_tree": parent["tree"]["sha"], "tree": items}),
        201,
        doing=f"tree for {message!r}",
    )
    made = _expect(
        await world.call(
            login, "POST", f"{path}/git/commits", {"message": message, "tree": tree["sha"], "parents": [parent["sha"]]}
        ),
        201,
        doing=f"commit {message!r}",
    )
    _expect(
        await world.call(login, "PATCH", f"{path}/git/refs/heads/{quote(branch)}", {"sha": made["sha"]}),
        200,
        doing=f"push {message!r} to {branch}",
    )
    return str(made["sha"])


async def create_branch(world: World, login: str, full_name: str, branch: str, from_ref: str) -> str:
    """A new branch at from_ref (a branch name or a sha); its sha."""
    path = _repo_path(full_name)
    if len(from_ref) == 40 and all(c in "0123456789abcdef" for c in from_ref):
        sha = from_ref
    else:
        sha = _expect(
            await world.call(login, "GET", f"{path}/git/ref/heads/{quote(from_ref)}"),
            200,
            doing=f"{from_ref} of {full_name}",
        )["object"]["sha"]
    _expect(
        await world.call(login, "POST", f"{path}/git/refs", {"ref": f"refs/heads/{branch}", "sha": sha}),
        201,
        doing=f"create branch {branch}",
    )
    return sha


async def open_pr(
    world: World, login: str, full_name: str, *, head: str, base: str, title: str, body: str = ""
) -> dict[str, Any]:
    return _expect(
        await world.call(
            login, "POST", f"{_repo_path(full_name)}/pulls", {"title": title, "head": head, "base": base, "body": body}
        ),
        201,
        doing=f"{login} opens {head} -> {base}",
    )


async def merge_pr(world: World, login: str, full_name: str, number: int, method: str = "merge") -> dict[str, Any]:
    return _expect(
        await world.call(login, "PUT", f"{_repo_path(full_name)}/pulls/{number}/merge", {"merge_method": method}),
        200,
        doing=f"{login} merges #{number} ({method})",
    )


async def add_labels(world: World, login: str, full_name: str, number: int, *labels: str) -> list[dict[str, Any]]:
    return _expect(
        await world.call(login, "POST", f"{_repo_path(full_name)}/issues/{number}/labels", {"labels": list(labels)}),
        200,
        doing=f"{login} labels #{number} {labels}",
    )


async def remove_label(world: World, login: str, full_name: str, number: int, label: str) -> Any:
    return _expect(
        await world.call(login, "DELETE", f"{_repo_path(full_name)}/issues/{number}/labels/{quote(label, safe='')}"),
        200,
        doing=f"{login} removes {label} from #{number}",
    )


async def comment(world: World, login: str, full_name: str, number: int, body: str) -> dict[str, Any]:
    return _expect(
        await world.call(login, "POST", f"{_repo_path(full_name)}/issues/{number}/comments", {"body": body}),
        201,
        doing=f"{login} comments on #{number}",
    )


async def grant(world: World, full_name: str, login: str, permission: str = "write") -> Any:
    """The repository's owner (or the org's first admin) gives login a permission."""
    acting = _admin_of(world, full_name.partition("/")[0])
    return _expect(
        await world.call(
            acting, "PUT", f"{_repo_path(full_name)}/collaborators/{quote(login, safe='')}", {"permission": permission}
        ),
        201,
        204,
        doing=f"grant {login} {permission} on {full_name}",
    )


async def add_team_member(world: World, org: str, team_slug: str, login: str, role: str = "member") -> Any:
    """The org's first admin adds login to the team (which GitHub creates on first use here)."""
    acting = _admin_of(world, org)
    return _expect(
        await world.call(
            acting,
            "PUT",
            f"/orgs/{quote(org, safe='')}/teams/{quote(team_slug, safe='')}/memberships/{quote(login, safe='')}",
            {"role": role},
        ),
        200,
        doing=f"add {login} to {org}/{team_slug}",
    )


async def give_team_access(world: World, org: str, team_slug: str, full_name: str, permission: str = "triage") -> Any:
    """The org's first admin gives the team a permission on the repository (its members then have it)."""
    acting = _admin_of(world, org)
    return _expect(
        await world.call(
            acting,
            "PUT",
            f"/orgs/{quote(org, safe='')}/teams/{quote(team_slug, safe='')}/repos/{full_name}",
            {"permission": permission},
        ),
        204,
        doing=f"give {org}/{team_slug} {permission} on {full_name}",
    )


async def put_config(
    world: World,
    login: str,
    full_name: str,
    yaml_text: str,
    path: str = ".github/release-train.yml",
    branch: str | None = None,
) -> str:
    """Write the bot's config file on the default branch (or branch) through the contents API; the commit sha."""
    repo_path = _repo_path(full_name)
    query = f"?ref={quote(branch)}" if branch else ""
    existing = await world.call(login, "GET", f"{repo_path}/contents/{path}{query}")
    request: dict[str, Any] = {"message": f"Update {path}", "content": base64.b64encode(yaml_text.encode()).decode()}
    if existing.status == 200:
        request["sha"] = existing.body["sha"]
    if branch:
        request["branch"] = branch
    answer = _expect(
        await world.call(login, "PUT", f"{repo_path}/contents/{path}", request), 200, 201, doing=f"put {path}"
    )
    return str(answer["commit"]["sha"])


async def ci_check_run(
    world: World, full_name: str, sha: str, name: str, conclusion: str | None = "success", *, app_slug: str = "ci"
) -> dict[str, Any]:
    """A check run by another CI app (`app_slug`, made on first use), completed with conclusion (None: in progress)."""
    body: dict[str, Any] = {"name": name, "head_sha": sha, "app_slug": app_slug}
    body.update({"status": "completed", "conclusion": conclusion} if conclusion else {"status": "in_progress"})
    return _expect(
        await world.call(None, "POST", f"/_sandbox/ci/{full_name}/check-runs", body),
        201,
        doing=f"{app_slug} runs {name} on {sha[:7]}",
    )


def app_id_of(world: World, slug: str) -> int:
    """The id of this sandbox's app (its slug) or of a CI app that has posted a check run."""
    st = world.app[STORE]
    own = st.data["app"]
    if slug == own["slug"]:
        return int(own["id"])
    return int(st.data["ci_apps"][slug.lower()]["id"])


async def protect_branch(
    world: World,
    full_name: str,
    branch: str,
    *,
    checks: list[str | tuple[str, int]] | None = None,
    strict: bool = False,
    enforce_admins: bool = False,
    pull_requests: bool = False,
    push_apps: list[str] | None = None,
    push_users: list[str] | None = None,
    bypass_apps: list[str] | None = None,
    admin: str | None = None,
) -> dict[str, Any]:
    """Classic branch protection, set by the repository's admin through PUT .../protection.

    checks: required check names, or (name, app_id) pinned to an app; pull_requests: changes only
    through pull requests (no approvals asked), with bypass_apps allowed around that; push_apps /
    push_users: restrict who may push at all (None: no restriction).
    """
    acting = admin or _admin_of(world, full_name.partition("/")[0])
    required = None
    if checks is not None:
        required = {
            "strict": strict,
            "checks": [
                {"context": c, "app_id": -1} if isinstance(c, str) else {"context": c[0], "app_id": c[1]}
                for c in checks
            ],
        }
    reviews: dict[str, Any] | None = None
    if pull_requests:
        reviews = {"required_approving_review_count": 0}
        if bypass_apps:
            reviews["bypass_pull_request_allowances"] = {"apps": list(bypass_apps)}
    restrictions = None
    if push_apps is not None or push_users is not None:
        restrictions = {"users": list(push_users or []), "teams": [], "apps": list(push_apps or [])}
    return _expect(
        await world.call(
            acting,
            "PUT",
            f"{_repo_path(full_name)}/branches/{quote(branch, safe='')}/protection",
            {
                "required_status_checks": required,
                "enforce_admins": enforce_admins,
                "required_pull_request_reviews": reviews,
                "restrictions": restrictions,
            },
        ),
        200,
        doing=f"protect {branch} of {full_name}",
    )


async def create_ruleset(
    world: World,
    full_name: str,
    name: str,
    *,
    include: list[str],
    rules: list[dict[str, Any]],
    target: str = "branch",
    exclude: list[str] | None = None,
    bypass_app_ids: list[int] | None = None,
    enforcement: str = "active",
    admin: str | None = None,
) -> dict[str, Any]:
    """A repository ruleset, made by the repository's admin through POST .../rulesets.

    include/exclude are ref patterns (refs/heads/rc/*, refs/tags/v*, ~DEFAULT_BRANCH, ~ALL); the
    apps in bypass_app_ids (seed.app_id_of) may always bypass it.
    """
    acting = admin or _admin_of(world, full_name.partition("/")[0])
    body = {
        "name": name,
        "target": target,
        "enforcement": enforcement,
        "conditions": {"ref_name": {"include": include, "exclude": exclude or []}},
        "rules": rules,
        "bypass_actors": [
            {"actor_id": app_id, "actor_type": "Integration", "bypass_mode": "always"}
            for app_id in bypass_app_ids or []
        ],
    }
    return _expect(
        await world.call(acting, "POST", f"{_repo_path(full_name)}/rulesets", body),
        201,
        doing=f"ruleset {name} on {full_name}",
    )


def pull_request_rule(approvals: int = 0) -> dict[str, Any]:
    """A ruleset rule: changes only through pull requests, with this many approvals."""
    return {
        "type": "pull_request",
        "parameters": {
            "dismiss_stale_reviews_on_push": False,
            "require_code_owner_review": False,
            "require_last_push_approval": False,
            "required_approving_review_count": approvals,
            "required_review_thread_resolution": False,
        },
    }


def required_checks_rule(*checks: str | tuple[str, int], strict: bool = False) -> dict[str, Any]:
    """A ruleset rule: these checks must pass (a (name, app_id) pair pins one to an app's integration_id)."""
    return {
        "type": "required_status_checks",
        "parameters": {
            "strict_required_status_checks_policy": strict,
            "required_status_checks": [
                {"context": c} if isinstance(c, str) else {"context": c[0], "integration_id": c[1]} for c in checks
            ],
        },
    }


def subscribe(world: World, event: str) -> None:
    """The app subscribes to one more webhook event, as its settings page allows."""
    world.sandbox.config.events.add(event)
    world.app[HOOKS].events.add(event)


async def require_app_for_environment(
    world: World, full_name: str, environment: str, app_id: int, *, admin: str | None = None
) -> dict[str, Any]:
    """The environment (made if new) with a custom deployment protection rule by the app, set by the admin."""
    acting = admin or _admin_of(world, full_name.partition("/")[0])
    path = f"{_repo_path(full_name)}/environments/{quote(environment, safe='')}"
    _expect(await world.call(acting, "PUT", path, {}), 200, doing=f"environment {environment}")
    return _expect(
        await world.call(acting, "POST", f"{path}/deployment_protection_rules", {"integration_id": app_id}),
        201,
        doing=f"protection rule of app {app_id} on {environment}",
    )


class WebhookReceiver:
    """A webhook endpoint on loopback that keeps what the sandbox sends it, in order (for tests without the bot)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.runner: web.AppRunner | None = None

    async def start(self, world: World) -> None:
        async def take(request: web.Request) -> web.Response:
            self.received.append((request.headers["X-GitHub-Event"], await request.json()))
            return web.Response(status=202)

        app = web.Application()
        app.router.add_post("/webhook", take)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        world.point_webhooks_at(f"http://127.0.0.1:{port}/webhook")

    def of(self, event: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.received if name == event]

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
