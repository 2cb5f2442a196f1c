"""The sandbox's guard on workflow files: an installation without `workflows` changes nothing under
`.github/workflows/` (GitHub's REST answer: 404), while people and commits already on a branch pass."""

from __future__ import annotations

from bot.sandbox import seed
from bot.sandbox.harness import World
from sandbox_calls import as_app, installation_token

REPO = "acme/app"
WORKFLOW = ".github/workflows/ci.yml"


async def test_an_app_without_workflows_cannot_move_a_ref_onto_a_workflow_change(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice", files={"README.md": "hi\n"})
    main = (await sandbox.call("alice", "GET", f"/repos/{REPO}/git/ref/heads/main")).body["object"]["sha"]
    tree = (await sandbox.call("alice", "GET", f"/repos/{REPO}/git/commits/{main}")).body["tree"]["sha"]
    token = await installation_token(sandbox, "acme")
    # The app makes the objects of a commit that adds a workflow: objects alone change no branch.
    blob = await as_app(sandbox, token, "POST", f"/repos/{REPO}/git/blobs", {"content": "on: push\n"})
    made = await as_app(
        sandbox,
        token,
        "POST",
        f"/repos/{REPO}/git/trees",
        {"base_tree": tree, "tree": [{"path": WORKFLOW, "mode": "100644", "type": "blob", "sha": blob.body["sha"]}]},
    )
    commit = await as_app(
        sandbox,
        token,
        "POST",
        f"/repos/{REPO}/git/commits",
        {"message": "CI", "tree": made.body["sha"], "parents": [main]},
    )
    assert (blob.status, made.status, commit.status) == (201, 201, 201)
    sha = commit.body["sha"]
    # Moving a branch onto it, or making one there, is refused as GitHub refuses it.
    moved = await as_app(sandbox, token, "PATCH", f"/repos/{REPO}/git/refs/heads/main", {"sha": sha})
    assert moved.status == 404 and moved.body["message"] == "Not Found"
    created = await as_app(sandbox, token, "POST", f"/repos/{REPO}/git/refs", {"ref": "refs/heads/ci", "sha": sha})
    assert created.status == 404
    assert (await sandbox.call("alice", "GET", f"/repos/{REPO}/git/ref/heads/main")).body["object"]["sha"] == main
    # A person may; and a branch the app then makes at that commit, already on a branch, brings in nothing new.
    assert (await sandbox.call("alice", "PATCH", f"/repos/{REPO}/git/refs/heads/main", {"sha": sha})).status == 200
    again = await as_app(sandbox, token, "POST", f"/repos/{REPO}/git/refs", {"ref": "refs/heads/ci", "sha": sha})
    assert again.status == 201
    # A change elsewhere still goes through for the app.
    other = await as_app(sandbox, token, "POST", f"/repos/{REPO}/git/blobs", {"content": "notes\n"})
    notes_tree = await as_app(
        sandbox,
        token,
        "POST",
        f"/repos/{REPO}/git/trees",
        {
            "base_tree": made.body["sha"],
            "tree": [{"path": "notes.txt", "mode": "100644", "type": "blob", "sha": other.body["sha"]}],
        },
    )
    notes = await as_app(
        sandbox,
        token,
        "POST",
        f"/repos/{REPO}/git/commits",
        {"message": "Notes", "tree": notes_tree.body["sha"], "parents": [sha]},
    )
    assert (
        await as_app(sandbox, token, "PATCH", f"/repos/{REPO}/git/refs/heads/main", {"sha": notes.body["sha"]})
    ).status == 200
