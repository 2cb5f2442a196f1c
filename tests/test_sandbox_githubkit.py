"""A real client sees no difference: githubkit drives the sandbox through the operations the bot uses.

githubkit (a GitHub SDK for Python) types every answer with pydantic models generated from GitHub's
OpenAPI description, REST API version 2022-11-28 (the one the sandbox serves). Each call below
reads `parsed_data`, which validates the whole answer against its model, so an answer of the wrong
shape fails here as it would in a user's own client. The operations are those of the bot's one door
(bot/github/repo/): repositories, branches, commits and compare, contents, git data, pull requests,
issues, labels, comments and reactions, check runs, statuses, releases, deployments and their
statuses, workflow dispatches, rulesets, people; the app's own calls (installations, tokens,
deliveries) go through githubkit's app authentication.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable
from typing import Any, TypeVar

from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub, Response
from githubkit.exception import RequestFailed

from bot.sandbox import seed
from bot.sandbox.harness import World

T = TypeVar("T")
VERSION = "2022-11-28"
CONFIG = "roles:\n  qa: [bob]\n  rte: [alice]\n"
WORKFLOW = (
    "name: Build images\non:\n  workflow_dispatch:\n    inputs:\n      version:\n        required: true\njobs: {}\n"
)


async def parsed(call: Awaitable[Response[T, Any]]) -> T:
    """The answer, validated against githubkit's model for the operation (pydantic raises on a mismatch)."""
    response = await call
    return response.parsed_data


def client(world: World, auth: Any) -> GitHub[Any]:
    return GitHub(auth, base_url=world.api_url + "/", http_cache=False, auto_retry=False)


async def story(world: World) -> dict[str, Any]:
    """acme/app: devel with a config and a workflow, fr/FR-1 one commit ahead with an open PR."""
    await seed.create_org_repo(
        world,
        "acme",
        "app",
        admin="alice",
        default_branch="devel",
        files={
            "README.md": "app\n",
            ".github/release-train.yml": CONFIG,
            ".github/workflows/build-images.yml": WORKFLOW,
        },
    )
    await seed.grant(world, "acme/app", "bob", "write")
    await seed.add_team_member(world, "acme", "qa", "bob")
    await seed.create_branch(world, "alice", "acme/app", "fr/FR-1-login", "devel")
    head = await seed.commit(world, "alice", "acme/app", "fr/FR-1-login", {"login.py": "print('login')\n"}, "Login")
    pr = await seed.open_pr(world, "alice", "acme/app", head="fr/FR-1-login", base="devel", title="FR-1 login")
    comment = await seed.comment(world, "bob", "acme/app", pr["number"], "/cherry-pick 1.5")
    return {"head": head, "number": pr["number"], "comment": comment["id"]}


async def test_githubkit_reads_every_answer_the_bot_relies_on(sandbox: World) -> None:
    made = await story(sandbox)
    app_auth = AppAuthStrategy(sandbox.sandbox.config.app_id, sandbox.private_key())
    as_app = client(sandbox, app_auth)
    app = as_app.rest(VERSION)

    # The app itself (JWT): who it is, where it is installed, its token, its deliveries.
    me = await parsed(app.apps.async_get_authenticated())
    assert me is not None and me.slug == "release-train"
    installations = await parsed(app.apps.async_list_installations())
    installation = await parsed(app.apps.async_get_org_installation("acme"))
    assert installation.id in {i.id for i in installations}
    assert (await parsed(app.apps.async_get_repo_installation("acme", "app"))).id == installation.id
    token = await parsed(app.apps.async_create_installation_access_token(installation.id))
    assert token.token.startswith("ghs_")
    await parsed(app.apps.async_list_webhook_deliveries())

    # The installation, as the bot acts: githubkit exchanges the JWT for a token itself.
    gh = client(
        sandbox, AppInstallationAuthStrategy(sandbox.sandbox.config.app_id, sandbox.private_key(), installation.id)
    )
    rest = gh.rest(VERSION)
    o, r, n = "acme", "app", made["number"]
    await parsed(rest.apps.async_list_repos_accessible_to_installation())
    await parsed(rest.rate_limit.async_get())

    # repositories, branches, commits, compare, contents
    repo = await parsed(rest.repos.async_get(o, r))
    assert repo.default_branch == "devel"
    branch = await parsed(rest.repos.async_get_branch(o, r, "fr/FR-1-login"))
    assert branch.commit.sha == made["head"]
    assert {b.name for b in await parsed(rest.repos.async_list_branches(o, r, per_page=100))} >= {
        "devel",
        "fr/FR-1-login",
    }
    await parsed(rest.repos.async_list_activities(o, r, ref="devel", per_page=10))
    compare = await parsed(rest.repos.async_compare_commits(o, r, "devel...fr/FR-1-login"))
    assert (compare.status, compare.ahead_by) == ("ahead", 1)
    commits = await parsed(rest.repos.async_list_commits(o, r, sha="fr/FR-1-login", per_page=5))
    assert commits[0].sha == made["head"]
    commit = await parsed(rest.repos.async_get_commit(o, r, made["head"]))
    assert [f.filename for f in commit.files or []] == ["login.py"]
    content = await parsed(rest.repos.async_get_content(o, r, ".github/release-train.yml", ref="devel"))
    assert base64.b64decode(getattr(content, "content", "")).decode() == CONFIG
    listing = await parsed(rest.repos.async_get_content(o, r, ".github"))
    assert isinstance(listing, list) and {e.name for e in listing} == {"release-train.yml", "workflows"}

    # git data: refs, commits, trees, blobs, tags, and a merge (the API cherry-pick's pieces)
    devel = await parsed(rest.git.async_get_ref(o, r, "heads/devel"))
    await parsed(rest.git.async_list_matching_refs(o, r, "heads/fr/"))
    git_commit = await parsed(rest.git.async_get_commit(o, r, devel.object_.sha))
    await parsed(rest.git.async_get_tree(o, r, git_commit.tree.sha))
    blob = await parsed(rest.git.async_create_blob(o, r, content="fix\n", encoding="utf-8"))
    await parsed(rest.git.async_get_blob(o, r, blob.sha))
    tree = await parsed(
        rest.git.async_create_tree(
            o,
            r,
            base_tree=git_commit.tree.sha,
            tree=[{"path": "fix.txt", "mode": "100644", "type": "blob", "sha": blob.sha}],
        )
    )
    fix = await parsed(rest.git.async_create_commit(o, r, message="Fix", tree=tree.sha, parents=[devel.object_.sha]))
    await parsed(rest.git.async_create_ref(o, r, ref="refs/heads/rc/1.5", sha=devel.object_.sha))
    await parsed(rest.git.async_create_ref(o, r, ref="refs/heads/cherry-pick/1.5/fix", sha=fix.sha))
    moved = await parsed(rest.git.async_update_ref(o, r, "heads/cherry-pick/1.5/fix", sha=fix.sha, force=True))
    assert moved.object_.sha == fix.sha
    await parsed(rest.git.async_create_ref(o, r, ref="refs/heads/sibling", sha=devel.object_.sha))
    merged = await parsed(rest.repos.async_merge(o, r, base="sibling", head="cherry-pick/1.5/fix"))
    assert merged is not None and merged.sha
    tag = await parsed(
        rest.git.async_create_tag(o, r, tag="v1.5.0", message="v1.5.0", object_=devel.object_.sha, type="commit")
    )
    await parsed(rest.git.async_create_ref(o, r, ref="refs/tags/v1.5.0", sha=tag.sha))
    await parsed(rest.git.async_get_tag(o, r, tag.sha))

    # pull requests
    pull = await parsed(rest.pulls.async_get(o, r, n))
    assert (pull.number, pull.head.sha) == (n, made["head"])
    assert n in [p.number for p in await parsed(rest.pulls.async_list(o, r, state="open", base="devel"))]
    await parsed(rest.pulls.async_list_commits(o, r, n))
    await parsed(rest.pulls.async_list_files(o, r, n))
    pick = await parsed(
        rest.pulls.async_create(o, r, title="[1.5] Fix", head="cherry-pick/1.5/fix", base="rc/1.5", body="Picked")
    )
    await parsed(rest.pulls.async_update(o, r, pick.number, body="Picked by the bot"))

    # issues, labels, milestones, comments, reactions, events
    issue = await parsed(rest.issues.async_create(o, r, title="Release 1.5", body="Tracking", labels=["release-train"]))
    await parsed(rest.issues.async_get(o, r, issue.number))
    await parsed(rest.issues.async_update(o, r, issue.number, body="Tracking, edited"))
    await parsed(rest.issues.async_list_for_repo(o, r, labels="release-train", state="open"))
    await parsed(rest.issues.async_create_milestone(o, r, title="1.5"))
    await parsed(rest.issues.async_list_milestones(o, r, state="open"))
    await parsed(rest.issues.async_create_label(o, r, name="qa/verified", color="0e8a16", description="QA checked it"))
    await parsed(rest.issues.async_get_label(o, r, "qa/verified"))
    await parsed(rest.issues.async_list_labels_for_repo(o, r))
    await parsed(rest.issues.async_update_label(o, r, "qa/verified", description="QA verified it"))
    labels = await parsed(rest.issues.async_add_labels(o, r, n, labels=["qa/verified", "cherry-pick/1.5"]))
    assert {label.name for label in labels} >= {"qa/verified", "cherry-pick/1.5"}
    await parsed(rest.issues.async_list_labels_on_issue(o, r, n))
    await parsed(rest.issues.async_remove_label(o, r, n, "cherry-pick/1.5"))
    await parsed(rest.issues.async_list_events(o, r, n))
    await parsed(rest.issues.async_list_comments(o, r, n))
    note = await parsed(rest.issues.async_create_comment(o, r, n, body="Picked into rc/1.5"))
    await parsed(rest.issues.async_update_comment(o, r, note.id, body="Picked into rc/1.5 (#2)"))
    await parsed(rest.issues.async_get_comment(o, r, made["comment"]))
    await parsed(rest.reactions.async_create_for_issue_comment(o, r, made["comment"], content="eyes"))
    await parsed(rest.reactions.async_list_for_issue_comment(o, r, made["comment"]))

    # check runs, suites, statuses
    run = await parsed(
        rest.checks.async_create(o, r, name="release-train/gate", head_sha=made["head"], status="in_progress")
    )
    done = await parsed(
        rest.checks.async_update(
            o, r, run.id, status="completed", conclusion="success", output={"title": "Green", "summary": "All good"}
        )
    )
    assert done.conclusion == "success"
    await parsed(rest.checks.async_get(o, r, run.id))
    runs = await parsed(rest.checks.async_list_for_ref(o, r, made["head"], check_name="release-train/gate"))
    assert [c.id for c in runs.check_runs] == [run.id]
    await parsed(rest.checks.async_list_annotations(o, r, run.id))
    suites = await parsed(rest.checks.async_list_suites_for_ref(o, r, made["head"]))
    await parsed(rest.checks.async_get_suite(o, r, suites.check_suites[0].id))
    alice = client(sandbox, "alice")  # a person's CI posts statuses; the app only reads them
    ci = alice.rest(VERSION)
    await parsed(ci.repos.async_create_commit_status(o, r, made["head"], state="success", context="sanity"))
    await parsed(rest.repos.async_list_commit_statuses_for_ref(o, r, made["head"]))
    combined = await parsed(rest.repos.async_get_combined_status_for_ref(o, r, made["head"]))
    assert combined.state == "success"

    # releases, deployments, workflow runs
    notes = await parsed(rest.repos.async_generate_release_notes(o, r, tag_name="v1.5.0", target_commitish="rc/1.5"))
    release = await parsed(rest.repos.async_create_release(o, r, tag_name="v1.5.0", name="v1.5.0", body=notes.body))
    await parsed(rest.repos.async_get_release_by_tag(o, r, "v1.5.0"))
    await parsed(rest.repos.async_get_release(o, r, release.id))
    await parsed(rest.repos.async_update_release(o, r, release.id, body="Notes, edited"))
    await parsed(rest.repos.async_list_releases(o, r))
    await parsed(rest.repos.async_get_latest_release(o, r))
    deployment = await parsed(
        rest.repos.async_create_deployment(
            o, r, ref="v1.5.0", environment="production", auto_merge=False, required_contexts=[]
        )
    )
    assert getattr(deployment, "environment", None) == "production"
    await parsed(rest.repos.async_list_deployments(o, r, environment="production"))
    deployment_id = deployment.id  # type: ignore[union-attr]
    assert (await parsed(rest.repos.async_get_deployment(o, r, deployment_id))).id == deployment_id
    status = await parsed(
        rest.repos.async_create_deployment_status(
            o, r, deployment_id, state="success", environment_url="https://app.example.com", description="Deployed"
        )
    )
    assert (status.state, status.environment, status.description) == ("success", "production", "Deployed")
    statuses = await parsed(rest.repos.async_list_deployment_statuses(o, r, deployment_id))
    assert [s.id for s in statuses] == [status.id]
    assert (await parsed(rest.repos.async_get_deployment_status(o, r, deployment_id, status.id))).id == status.id
    await rest.actions.async_create_workflow_dispatch(o, r, "build-images.yml", ref="devel", inputs={"version": "1.5"})
    await parsed(rest.actions.async_list_workflow_runs_for_repo(o, r))

    # rules and people
    await parsed(rest.repos.async_get_branch_rules(o, r, "rc/1.5"))
    await parsed(rest.repos.async_get_repo_rulesets(o, r, includes_parents=True))
    permission = await parsed(rest.repos.async_get_collaborator_permission_level(o, r, "bob"))
    assert permission.permission == "write"
    membership = await parsed(rest.teams.async_get_membership_for_user_in_org("acme", "qa", "bob"))
    assert membership.state == "active"


async def test_githubkit_reads_githubs_errors(sandbox: World) -> None:
    """The refusals the bot reads (404 for what is not there, 422 for what is refused) come in GitHub's
    error shape, which githubkit parses into its error models."""
    await story(sandbox)
    alice = client(sandbox, "alice")  # the client must outlive its namespaces
    people = alice.rest(VERSION)
    for call, status in (
        (people.repos.async_get_branch("acme", "app", "nowhere"), 404),
        (people.pulls.async_get("acme", "app", 999), 404),
        (people.issues.async_create_label("acme", "app", name="bug"), 422),
        (people.git.async_create_ref("acme", "app", ref="refs/heads/devel", sha="0" * 40), 422),
    ):
        try:
            await call
        except RequestFailed as failure:
            assert failure.response.status_code == status
            body = failure.response.json()
            assert isinstance(body["message"], str) and body["documentation_url"].startswith("https://docs.github.com")
        else:
            raise AssertionError(f"expected {status}")
