"""The sandbox's releases and generated notes, deployments, and workflow/repository dispatches, over real HTTP."""

from __future__ import annotations

from typing import Any

from bot.sandbox import seed
from bot.sandbox.harness import World
from sandbox_calls import HookLog, as_app, installation_token, make_repo, settle_hooks

BUILD_WORKFLOW = """\
name: Build images
on:
  workflow_dispatch:
    inputs:
      version:
        description: RC version
        required: true
      sha:
        required: true
      registry:
        required: false
        default: quay.io/acme
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo building
"""


async def merged_pr(world: World, branch: str, title: str, author: str, files: dict[str, Any]) -> int:
    await seed.create_branch(world, author, "acme/app", branch, "main")
    await seed.commit(world, author, "acme/app", branch, files, title)
    pr = await seed.open_pr(world, author, "acme/app", head=branch, base="main", title=title)
    await seed.merge_pr(world, "alice", "acme/app", pr["number"], "squash")
    return int(pr["number"])


async def test_releases_tag_the_target_and_notes_list_the_merged_prs(sandbox: World, hook_log: HookLog) -> None:
    await make_repo(sandbox)
    await seed.grant(sandbox, "acme/app", "dev", "write")
    first = await merged_pr(sandbox, "feat/login", "Add login", "dev", {"login.py": "ok\n"})
    token = await installation_token(sandbox, "acme")

    v1 = await as_app(
        sandbox,
        token,
        "POST",
        "/repos/acme/app/releases",
        {"tag_name": "v1.0.0", "target_commitish": "main", "name": "v1.0.0", "generate_release_notes": True},
    )
    assert v1.status == 201, v1.body
    assert v1.body["tag_name"] == "v1.0.0" and v1.body["draft"] is False and v1.body["published_at"]
    assert v1.body["author"]["login"] == "release-train[bot]"
    url = v1.body["html_url"].rsplit("/acme/app/", 1)[0]
    assert f"* Add login by @dev in {url}/acme/app/pull/{first}" in v1.body["body"]
    assert f"**Full Changelog**: {url}/acme/app/commits/v1.0.0" in v1.body["body"]
    # The tag exists in git now, at main's head.
    main_sha = (await sandbox.call("alice", "GET", "/repos/acme/app/branches/main")).body["commit"]["sha"]
    tag = await sandbox.call("alice", "GET", "/repos/acme/app/git/ref/tags/v1.0.0")
    assert tag.status == 200 and tag.body["object"]["sha"] == main_sha

    duplicate = await as_app(sandbox, token, "POST", "/repos/acme/app/releases", {"tag_name": "v1.0.0"})
    assert duplicate.status == 422 and duplicate.body["errors"][0]["code"] == "already_exists"
    assert (await as_app(sandbox, token, "POST", "/repos/acme/app/releases", {"name": "no tag"})).status == 422
    bad_target = await as_app(
        sandbox, token, "POST", "/repos/acme/app/releases", {"tag_name": "v9", "target_commitish": "nope"}
    )
    assert bad_target.status == 422
    assert (await sandbox.call("bob", "POST", "/repos/acme/app/releases", {"tag_name": "v2"})).status == 403

    second = await merged_pr(sandbox, "fix/crash", "Fix crash", "dev", {"crash.py": "fixed\n"})
    notes = await as_app(
        sandbox,
        token,
        "POST",
        "/repos/acme/app/releases/generate-notes",
        {"tag_name": "v1.1.0", "target_commitish": "main"},
    )
    assert notes.status == 200
    assert notes.body["name"] == "v1.1.0"
    assert f"* Fix crash by @dev in {url}/acme/app/pull/{second}" in notes.body["body"]
    assert "Add login" not in notes.body["body"]  # released in v1.0.0 already
    assert f"**Full Changelog**: {url}/acme/app/compare/v1.0.0...v1.1.0" in notes.body["body"]
    from_start = await as_app(
        sandbox,
        token,
        "POST",
        "/repos/acme/app/releases/generate-notes",
        {"tag_name": "v1.1.0", "previous_tag_name": "v0.0.1"},
    )
    assert from_start.status == 404

    draft = await sandbox.call(
        "alice", "POST", "/repos/acme/app/releases", {"tag_name": "v1.1.0", "draft": True, "body": "soon"}
    )
    assert draft.status == 201 and draft.body["draft"] is True and draft.body["published_at"] is None
    assert (await sandbox.call("alice", "GET", "/repos/acme/app/git/ref/tags/v1.1.0")).status == 404
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/releases/tags/v1.1.0")).status == 404
    published = await sandbox.call("alice", "PATCH", f"/repos/acme/app/releases/{draft.body['id']}", {"draft": False})
    assert published.status == 200 and published.body["published_at"]
    assert (await sandbox.call("alice", "GET", "/repos/acme/app/git/ref/tags/v1.1.0")).status == 200

    by_tag = await sandbox.call("bob", "GET", "/repos/acme/app/releases/tags/v1.0.0")
    assert by_tag.status == 200 and by_tag.body["id"] == v1.body["id"]
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/releases/tags/v7")).status == 404
    assert (await sandbox.call("bob", "GET", f"/repos/acme/app/releases/{v1.body['id']}")).body["tag_name"] == "v1.0.0"
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/releases/424242")).status == 404
    listed = await sandbox.call("bob", "GET", "/repos/acme/app/releases")
    assert [r["tag_name"] for r in listed.body] == ["v1.1.0", "v1.0.0"]
    assert (await sandbox.call("bob", "GET", "/repos/acme/app/releases/latest")).body["tag_name"] == "v1.1.0"

    await settle_hooks(sandbox)
    creates = [(p["ref"], p["ref_type"]) for p in hook_log.of("create")]
    assert ("v1.0.0", "tag") in creates and ("v1.1.0", "tag") in creates


async def test_deployments_check_contexts_and_list_by_environment(sandbox: World) -> None:
    await make_repo(sandbox)
    token = await installation_token(sandbox, "acme")
    main_sha = (await sandbox.call("alice", "GET", "/repos/acme/app/branches/main")).body["commit"]["sha"]
    await sandbox.call(
        "alice", "POST", f"/repos/acme/app/statuses/{main_sha}", {"state": "failure", "context": "nightly"}
    )

    blocked = await as_app(
        sandbox, token, "POST", "/repos/acme/app/deployments", {"ref": "main", "environment": "production"}
    )
    assert blocked.status == 409
    assert blocked.body["errors"][0]["contexts"] == [{"context": "nightly", "state": "failure"}]
    deployed = await as_app(
        sandbox,
        token,
        "POST",
        "/repos/acme/app/deployments",
        {
            "ref": "main",
            "environment": "production",
            "required_contexts": [],
            "payload": {"version": "1.5.0"},
            "description": "Promote 1.5.0",
        },
    )
    assert deployed.status == 201, deployed.body
    assert deployed.body["sha"] == main_sha and deployed.body["environment"] == "production"
    assert (
        deployed.body["payload"] == {"version": "1.5.0"} and deployed.body["creator"]["login"] == "release-train[bot]"
    )
    assert deployed.body["production_environment"] is True
    await sandbox.call(
        "alice", "POST", f"/repos/acme/app/statuses/{main_sha}", {"state": "success", "context": "nightly"}
    )
    staging = await sandbox.call(
        "alice",
        "POST",
        "/repos/acme/app/deployments",
        {"ref": main_sha, "environment": "staging", "payload": '{"a": 1}'},
    )
    assert staging.status == 201 and staging.body["payload"] == {"a": 1}
    assert (await sandbox.call("alice", "POST", "/repos/acme/app/deployments", {"ref": "nope"})).status == 422
    assert (await sandbox.call("alice", "POST", "/repos/acme/app/deployments", {})).status == 422

    every = await sandbox.call("bob", "GET", "/repos/acme/app/deployments")
    assert [d["environment"] for d in every.body] == ["staging", "production"]
    production = await as_app(sandbox, token, "GET", "/repos/acme/app/deployments?environment=production")
    assert [d["id"] for d in production.body] == [deployed.body["id"]]
    assert (await sandbox.call("bob", "GET", f"/repos/acme/app/deployments?sha={'0' * 40}")).body == []

    # auto_merge (GitHub's default) merges the default branch into a branch that is behind it.
    await seed.create_branch(sandbox, "alice", "acme/app", "rc/1.5", "main")
    await seed.commit(sandbox, "alice", "acme/app", "rc/1.5", {"rc.txt": "rc\n"}, "RC fix")
    await seed.commit(sandbox, "alice", "acme/app", "main", {"main.txt": "main\n"}, "Main moves on")
    merged = await sandbox.call("alice", "POST", "/repos/acme/app/deployments", {"ref": "rc/1.5"})
    assert merged.status == 202 and merged.body["message"] == "Auto-merged main into rc/1.5 on deployment."
    rc_head = (await sandbox.call("alice", "GET", "/repos/acme/app/branches/rc%2F1.5")).body["commit"]
    assert len(rc_head["parents"]) == 2
    then = await sandbox.call("alice", "POST", "/repos/acme/app/deployments", {"ref": "rc/1.5", "environment": "qa"})
    assert then.status == 201 and then.body["sha"] == rc_head["sha"]


async def test_workflow_dispatch_reads_the_workflow_file_on_the_ref(sandbox: World) -> None:
    await make_repo(sandbox)
    await seed.commit(
        sandbox,
        "alice",
        "acme/app",
        "main",
        {".github/workflows/build-images.yml": BUILD_WORKFLOW, ".github/workflows/ci.yml": "on: [push]\njobs: {}\n"},
        "CI",
    )
    await seed.create_branch(sandbox, "alice", "acme/app", "rc/1.5", "main")
    token = await installation_token(sandbox, "acme")
    sha = (await sandbox.call("alice", "GET", "/repos/acme/app/branches/rc%2F1.5")).body["commit"]["sha"]

    ok = await as_app(
        sandbox,
        token,
        "POST",
        "/repos/acme/app/actions/workflows/build-images.yml/dispatches",
        {"ref": "rc/1.5", "inputs": {"version": "1.5", "sha": sha}},
    )
    assert ok.status == 204, ok.body
    missing = await as_app(
        sandbox,
        token,
        "POST",
        "/repos/acme/app/actions/workflows/build-images.yml/dispatches",
        {"ref": "rc/1.5", "inputs": {"version": "1.5"}},
    )
    assert missing.status == 422 and missing.body["message"] == "Required input 'sha' not provided"
    unexpected = await as_app(
        sandbox,
        token,
        "POST",
        "/repos/acme/app/actions/workflows/build-images.yml/dispatches",
        {"ref": "rc/1.5", "inputs": {"version": "1.5", "sha": sha, "colour": "red"}},
    )
    assert unexpected.status == 422 and "colour" in unexpected.body["message"]
    no_file = await as_app(
        sandbox, token, "POST", "/repos/acme/app/actions/workflows/deploy.yml/dispatches", {"ref": "rc/1.5"}
    )
    assert no_file.status == 404
    no_trigger = await as_app(
        sandbox, token, "POST", "/repos/acme/app/actions/workflows/ci.yml/dispatches", {"ref": "main"}
    )
    assert no_trigger.status == 422 and "workflow_dispatch" in no_trigger.body["message"]
    no_ref = await as_app(
        sandbox, token, "POST", "/repos/acme/app/actions/workflows/build-images.yml/dispatches", {"ref": "rc/9.9"}
    )
    assert no_ref.status == 422
    assert (
        await sandbox.call(
            "bob", "POST", "/repos/acme/app/actions/workflows/build-images.yml/dispatches", {"ref": "main"}
        )
    ).status == 403
    details = await as_app(
        sandbox,
        token,
        "POST",
        "/repos/acme/app/actions/workflows/build-images.yml/dispatches",
        {"ref": "main", "inputs": {"version": "1.6", "sha": sha}, "return_run_details": True},
    )
    assert details.status == 200 and details.body["workflow_run_id"]

    runs = await as_app(sandbox, token, "GET", "/repos/acme/app/actions/runs?event=workflow_dispatch&branch=rc/1.5")
    assert runs.status == 200 and runs.body["total_count"] == 1
    run = runs.body["workflow_runs"][0]
    assert (
        run["path"] == ".github/workflows/build-images.yml" and run["head_sha"] == sha and run["name"] == "Build images"
    )

    dispatched = await sandbox.call(None, "GET", "/_sandbox/dispatches/acme/app")
    first = dispatched.body["workflow_dispatches"][0]
    assert first["inputs"] == {"version": "1.5", "sha": sha, "registry": "quay.io/acme"}  # defaults filled in
    assert first["actor"] == "release-train[bot]" and first["ref"] == "rc/1.5"


async def test_repository_dispatch(sandbox: World) -> None:
    await make_repo(sandbox)
    token = await installation_token(sandbox, "acme")
    sent = await as_app(
        sandbox,
        token,
        "POST",
        "/repos/acme/app/dispatches",
        {"event_type": "rc-cut", "client_payload": {"version": "1.5"}},
    )
    assert sent.status == 204
    assert (await as_app(sandbox, token, "POST", "/repos/acme/app/dispatches", {"client_payload": {}})).status == 422
    too_many = {f"k{i}": i for i in range(11)}
    assert (
        await as_app(
            sandbox, token, "POST", "/repos/acme/app/dispatches", {"event_type": "x", "client_payload": too_many}
        )
    ).status == 422
    assert (await sandbox.call("bob", "POST", "/repos/acme/app/dispatches", {"event_type": "x"})).status == 403
    dispatched = await sandbox.call(None, "GET", "/_sandbox/dispatches/acme/app")
    assert [(d["event_type"], d["client_payload"]) for d in dispatched.body["repository_dispatches"]] == [
        ("rc-cut", {"version": "1.5"})
    ]


async def test_an_app_without_write_permissions_cannot_release_deploy_or_dispatch(tmp_path: Any, session: Any) -> None:
    from bot.sandbox.runner import start_sandbox

    manifest = tmp_path / "reader.yml"
    manifest.write_text(
        "name: Reader\ndefault_events: []\ndefault_permissions:\n  metadata: read\n  contents: read\n  deployments: read\n  actions: read\n"
    )
    running = await start_sandbox(state_dir=tmp_path / "reader", manifest=manifest)
    world = World(running, session)
    try:
        await make_repo(world)
        token = await installation_token(world, "acme")
        for path, body in [
            ("/repos/acme/app/releases", {"tag_name": "v1.0.0"}),
            ("/repos/acme/app/deployments", {"ref": "main"}),
            ("/repos/acme/app/actions/workflows/build.yml/dispatches", {"ref": "main"}),
            ("/repos/acme/app/dispatches", {"event_type": "x"}),
        ]:
            refused = await as_app(world, token, "POST", path, body)
            assert refused.status == 403 and refused.body["message"] == "Resource not accessible by integration", path
        assert (await as_app(world, token, "GET", "/repos/acme/app/releases")).status == 200
        assert (await as_app(world, token, "GET", "/repos/acme/app/deployments")).status == 200
        assert (await as_app(world, token, "GET", "/repos/acme/app/actions/runs")).status == 200
    finally:
        await world.close()
