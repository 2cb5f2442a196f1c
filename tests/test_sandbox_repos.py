"""The sandbox's repositories through real HTTP: creation, contents, refs, commits, branches, compare, merges, push events."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from bot.sandbox import seed
from bot.sandbox.common import GIT, HOOKS
from bot.sandbox.harness import World
from git_cli import real_git

REFERENCE = Path(__file__).parent / "reference"
EXAMPLES = REFERENCE / "webhook-examples.json"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_story_create_commit_read(sandbox: World) -> None:
    repo = await seed.create_org_repo(
        sandbox, "acme", "app", admin="alice", files={"README.md": "hello\n", "src/app.py": "print(1)\n"}
    )
    assert repo["full_name"] == "acme/app"
    assert repo["owner"]["type"] == "Organization"
    assert repo["default_branch"] == "main"
    got = await sandbox.call("alice", "GET", "/repos/acme/app")
    assert got.status == 200 and got.body["permissions"]["admin"] is True
    sha = await seed.commit(
        sandbox, "alice", "acme/app", "main", {"src/app.py": "print(2)\n", "README.md": None}, "change"
    )
    contents = await sandbox.call("alice", "GET", "/repos/acme/app/contents/src/app.py")
    assert contents.status == 200, contents.body
    assert base64.b64decode(contents.body["content"]) == b"print(2)\n"
    assert contents.body["encoding"] == "base64" and contents.body["type"] == "file"
    listing = await sandbox.call("alice", "GET", "/repos/acme/app/contents/src")
    assert [e["name"] for e in listing.body] == ["app.py"]
    missing = await sandbox.call("alice", "GET", "/repos/acme/app/contents/README.md")
    assert missing.status == 404
    old = await sandbox.call(
        "alice",
        "GET",
        "/repos/acme/app/contents/README.md?ref="
        + (await sandbox.call("alice", "GET", f"/repos/acme/app/commits/{sha}")).body["parents"][0]["sha"],
    )
    assert old.status == 200 and base64.b64decode(old.body["content"]) == b"hello\n"
    commit = await sandbox.call("alice", "GET", "/repos/acme/app/commits/main")
    assert commit.body["sha"] == sha, commit.body
    assert commit.body["author"]["login"] == "alice"
    assert {f["filename"]: f["status"] for f in commit.body["files"]} == {
        "src/app.py": "modified",
        "README.md": "removed",
    }
    assert commit.body["stats"] == {"total": 3, "additions": 1, "deletions": 2}


async def test_org_belongs_to_its_first_creator(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    refused = await sandbox.call("mallory", "POST", "/orgs/acme/repos", {"name": "other"})
    assert refused.status == 403
    await seed.add_team_member(sandbox, "acme", "qa", "quinn")
    member_made = await sandbox.call("quinn", "POST", "/orgs/acme/repos", {"name": "qa-tools"})
    assert member_made.status == 201, member_made.body
    assert (await sandbox.call("quinn", "GET", "/repos/acme/qa-tools")).body["permissions"]["admin"] is True
    again = await sandbox.call("alice", "POST", "/orgs/acme/repos", {"name": "app"})
    assert again.status == 422
    own = await sandbox.call("bob", "POST", "/user/repos", {"name": "tools", "private": True, "auto_init": True})
    assert own.status == 201 and own.body["private"] is True and own.body["owner"]["type"] == "User"
    assert (await sandbox.call("alice", "GET", "/repos/bob/tools")).status == 404
    assert (await sandbox.call(None, "GET", "/repos/bob/tools")).status == 404


async def test_contents_put_create_update_and_conflicts(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    path = "/repos/acme/app/contents/docs/notes.md"
    created = await sandbox.call("alice", "PUT", path, {"message": "add notes", "content": b64("v1\n")})
    assert created.status == 201, created.body
    blob_sha = created.body["content"]["sha"]
    assert created.body["commit"]["message"] == "add notes"
    no_sha = await sandbox.call("alice", "PUT", path, {"message": "again", "content": b64("v2\n")})
    assert no_sha.status == 422
    wrong_sha = await sandbox.call("alice", "PUT", path, {"message": "again", "content": b64("v2\n"), "sha": "0" * 40})
    assert wrong_sha.status == 409
    updated = await sandbox.call("alice", "PUT", path, {"message": "v2", "content": b64("v2\n"), "sha": blob_sha})
    assert updated.status == 200, updated.body
    assert updated.body["commit"]["parents"][0]["sha"] == created.body["commit"]["sha"]
    no_branch = await sandbox.call("alice", "PUT", path, {"message": "x", "content": b64("x"), "branch": "nope"})
    assert no_branch.status == 404
    reader = await sandbox.call(
        "mallory", "PUT", "/repos/acme/app/contents/x.txt", {"message": "x", "content": b64("x")}
    )
    assert reader.status == 403
    deleted = await sandbox.call("alice", "DELETE", path, {"message": "rm", "sha": updated.body["content"]["sha"]})
    assert deleted.status == 200
    assert (await sandbox.call("alice", "GET", path)).status == 404


async def test_refs_create_update_force_delete(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    main = (await sandbox.call("alice", "GET", "/repos/acme/app/git/ref/heads/main")).body["object"]["sha"]
    created = await sandbox.call("alice", "POST", "/repos/acme/app/git/refs", {"ref": "refs/heads/rc/1.5", "sha": main})
    assert created.status == 201 and created.body["ref"] == "refs/heads/rc/1.5"
    dup = await sandbox.call("alice", "POST", "/repos/acme/app/git/refs", {"ref": "refs/heads/rc/1.5", "sha": main})
    assert dup.status == 422 and dup.body["message"] == "Reference already exists"
    bad = await sandbox.call("alice", "POST", "/repos/acme/app/git/refs", {"ref": "refs/heads/x", "sha": "1" * 40})
    assert bad.status == 422
    ahead = await seed.commit(sandbox, "alice", "acme/app", "rc/1.5", {"rc.txt": "rc\n"}, "rc work")
    side = await seed.commit(sandbox, "alice", "acme/app", "main", {"main.txt": "m\n"}, "main work")
    not_ff = await sandbox.call("alice", "PATCH", "/repos/acme/app/git/refs/heads/rc/1.5", {"sha": side})
    assert not_ff.status == 422 and not_ff.body["message"] == "Update is not a fast forward"
    forced = await sandbox.call("alice", "PATCH", "/repos/acme/app/git/refs/heads/rc/1.5", {"sha": side, "force": True})
    assert forced.status == 200 and forced.body["object"]["sha"] == side
    branch = await sandbox.call("alice", "GET", "/repos/acme/app/branches/rc/1.5")
    assert branch.status == 200 and branch.body["commit"]["sha"] == side and branch.body["protected"] is False
    by_slashed_name = await sandbox.call("alice", "GET", "/repos/acme/app/commits/rc/1.5")
    assert by_slashed_name.status == 200 and by_slashed_name.body["sha"] == side
    matching = await sandbox.call("alice", "GET", "/repos/acme/app/git/matching-refs/heads/rc/")
    assert [r["ref"] for r in matching.body] == ["refs/heads/rc/1.5"]
    assert (await sandbox.call("alice", "DELETE", "/repos/acme/app/git/refs/heads/rc/1.5")).status == 204
    assert (await sandbox.call("alice", "DELETE", "/repos/acme/app/git/refs/heads/rc/1.5")).status == 422
    assert (await sandbox.call("alice", "GET", "/repos/acme/app/git/ref/heads/rc/1.5")).status == 404
    assert (await sandbox.call("alice", "GET", "/repos/acme/app/branches/rc/1.5")).status == 404
    assert ahead != side


async def test_ref_changes_emit_push_create_delete(sandbox: World, receiver: seed.WebhookReceiver) -> None:
    sandbox.app[HOOKS].events.add("delete")  # an app subscribed to delete events too
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    await sandbox.settle()
    receiver.received.clear()
    base = await seed.create_branch(sandbox, "alice", "acme/app", "fr/FR-1-login", "main")
    one = await seed.commit(sandbox, "alice", "acme/app", "fr/FR-1-login", {"login.py": "x\n"}, "login")
    await sandbox.call("alice", "DELETE", "/repos/acme/app/git/refs/heads/fr/FR-1-login")
    await sandbox.settle()
    pushes = receiver.of("push")
    assert [(p["ref"], p["created"], p["deleted"]) for p in pushes] == [
        ("refs/heads/fr/FR-1-login", True, False),
        ("refs/heads/fr/FR-1-login", False, False),
        ("refs/heads/fr/FR-1-login", False, True),
    ]
    assert pushes[1]["before"] == base and pushes[1]["after"] == one
    assert [c["id"] for c in pushes[1]["commits"]] == [one]
    assert pushes[1]["commits"][0]["added"] == ["login.py"]
    assert pushes[1]["head_commit"]["id"] == one and pushes[1]["forced"] is False
    assert pushes[2]["after"] == "0" * 40 and pushes[2]["head_commit"] is None
    creates = receiver.of("create")
    assert [(c["ref"], c["ref_type"]) for c in creates] == [("fr/FR-1-login", "branch")]
    assert [(d["ref"], d["ref_type"]) for d in receiver.of("delete")] == [("fr/FR-1-login", "branch")]
    assert all(p["base_ref"] is None for p in pushes)
    main = (await sandbox.call("alice", "GET", "/repos/acme/app/git/ref/heads/main")).body["object"]["sha"]
    await sandbox.call("alice", "POST", "/repos/acme/app/git/refs", {"ref": "refs/tags/v1.0.0", "sha": main})
    await sandbox.settle()
    tag_push = receiver.of("push")[-1]
    assert (tag_push["ref"], tag_push["base_ref"], tag_push["created"], tag_push["commits"]) == (
        "refs/tags/v1.0.0",
        "refs/heads/main",
        True,
        [],
    )
    assert receiver.of("create")[-1]["ref_type"] == "tag"
    example = next(e for e in json.loads(EXAMPLES.read_text()) if e["name"] == "push")["examples"][0]
    assert set(example) <= set(pushes[1])
    assert set(example["repository"]) <= set(pushes[1]["repository"])
    assert set(example["head_commit"]) <= set(pushes[1]["head_commit"])


async def test_merges_endpoint_201_204_409_404(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice", files={"app.py": "a\nb\nc\n"})
    await seed.create_branch(sandbox, "alice", "acme/app", "feature", "main")
    head = await seed.commit(sandbox, "alice", "acme/app", "feature", {"app.py": "a\nb\nC\n"}, "feature")
    base = await seed.commit(sandbox, "alice", "acme/app", "main", {"app.py": "A\nb\nc\n"}, "main")
    merged = await sandbox.call("alice", "POST", "/repos/acme/app/merges", {"base": "main", "head": "feature"})
    assert merged.status == 201, merged.body
    assert [p["sha"] for p in merged.body["parents"]] == [base, head]
    assert merged.body["commit"]["message"] == "Merge feature into main"
    content = await sandbox.call("alice", "GET", "/repos/acme/app/contents/app.py")
    assert base64.b64decode(content.body["content"]) == b"A\nb\nC\n"
    again = await sandbox.call("alice", "POST", "/repos/acme/app/merges", {"base": "main", "head": head})
    assert again.status == 204
    await seed.create_branch(sandbox, "alice", "acme/app", "clash", base)
    await seed.commit(sandbox, "alice", "acme/app", "clash", {"app.py": "X\nb\nc\n"}, "clash")
    await seed.commit(sandbox, "alice", "acme/app", "main", {"app.py": "Y\nb\nC\n"}, "main again")
    conflict = await sandbox.call("alice", "POST", "/repos/acme/app/merges", {"base": "main", "head": "clash"})
    assert conflict.status == 409 and conflict.body["message"] == "Merge conflict"
    assert (
        await sandbox.call("alice", "POST", "/repos/acme/app/merges", {"base": "nope", "head": "clash"})
    ).status == 404
    assert (
        await sandbox.call("alice", "POST", "/repos/acme/app/merges", {"base": "main", "head": "nope"})
    ).status == 404


async def test_compare_statuses(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    root = await seed.create_branch(sandbox, "alice", "acme/app", "devel", "main")
    d1 = await seed.commit(sandbox, "alice", "acme/app", "devel", {"d1": "1\n"}, "d1")
    d2 = await seed.commit(sandbox, "alice", "acme/app", "devel", {"d2": "2\n"}, "d2")

    async def compare(basehead: str) -> dict[str, Any]:
        answer = await sandbox.call("alice", "GET", f"/repos/acme/app/compare/{basehead}")
        assert answer.status == 200, answer.body
        return answer.body

    ahead = await compare("main...devel")
    assert (ahead["status"], ahead["ahead_by"], ahead["behind_by"], ahead["total_commits"]) == ("ahead", 2, 0, 2)
    assert [c["sha"] for c in ahead["commits"]] == [d1, d2]
    assert ahead["merge_base_commit"]["sha"] == root
    assert sorted(f["filename"] for f in ahead["files"]) == ["d1", "d2"]
    behind = await compare("devel...main")
    assert (behind["status"], behind["ahead_by"], behind["behind_by"]) == ("behind", 0, 2)
    assert (await compare(f"devel...{d2}"))["status"] == "identical"
    m1 = await seed.commit(sandbox, "alice", "acme/app", "main", {"m1": "1\n"}, "m1")
    diverged = await compare("main...devel")
    assert (diverged["status"], diverged["ahead_by"], diverged["behind_by"]) == ("diverged", 2, 1)
    assert diverged["base_commit"]["sha"] == m1
    assert (await sandbox.call("alice", "GET", "/repos/acme/app/compare/main...nope")).status == 404
    paged = await sandbox.call("alice", "GET", "/repos/acme/app/compare/main...devel?per_page=1&page=2")
    assert [c["sha"] for c in paged.body["commits"]] == [d2] and paged.body["files"] == []
    assert paged.body["total_commits"] == 2 and 'rel="first"' in paged.headers["Link"]


async def test_commit_list_paginates(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    made = [await seed.commit(sandbox, "alice", "acme/app", "main", {"n.txt": f"{i}\n"}, f"c{i}") for i in range(4)]
    first = await sandbox.call("alice", "GET", "/repos/acme/app/commits?per_page=2")
    assert [c["sha"] for c in first.body] == [made[3], made[2]]
    assert 'rel="next"' in first.headers["Link"]
    second = await sandbox.call("alice", "GET", "/repos/acme/app/commits?per_page=2&page=2")
    assert [c["sha"] for c in second.body] == [made[1], made[0]]
    by_sha = await sandbox.call("alice", "GET", f"/repos/acme/app/commits?sha={made[1]}&per_page=100")
    assert len(by_sha.body) == 3  # two commits and the initial one
    assert (await sandbox.call("alice", "GET", "/repos/acme/app/commits/" + "f" * 40)).status == 422


async def test_git_data_round_trip(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice", files={"keep.txt": "k\n", "dir/gone.txt": "g\n"})
    main = (await sandbox.call("alice", "GET", "/repos/acme/app/git/ref/heads/main")).body["object"]["sha"]
    head = (await sandbox.call("alice", "GET", f"/repos/acme/app/git/commits/{main}")).body
    blob = await sandbox.call(
        "alice", "POST", "/repos/acme/app/git/blobs", {"content": b64("\x00bin"), "encoding": "base64"}
    )
    assert blob.status == 201
    got = await sandbox.call("alice", "GET", f"/repos/acme/app/git/blobs/{blob.body['sha']}")
    assert base64.b64decode(got.body["content"]) == b"\x00bin" and got.body["size"] == 4
    tree = await sandbox.call(
        "alice",
        "POST",
        "/repos/acme/app/git/trees",
        {
            "base_tree": head["tree"]["sha"],
            "tree": [
                {"path": "dir/gone.txt", "mode": "100644", "type": "blob", "sha": None},
                {"path": "bin/data", "mode": "100644", "type": "blob", "sha": blob.body["sha"]},
            ],
        },
    )
    assert tree.status == 201, tree.body
    recursive = await sandbox.call("alice", "GET", f"/repos/acme/app/git/trees/{tree.body['sha']}?recursive=1")
    assert sorted(e["path"] for e in recursive.body["tree"] if e["type"] == "blob") == ["bin/data", "keep.txt"]
    made = await sandbox.call(
        "alice",
        "POST",
        "/repos/acme/app/git/commits",
        {
            "message": "m",
            "tree": tree.body["sha"],
            "parents": [main],
            "author": {"name": "Bob", "email": "bob@example.com", "date": "2024-01-02T03:04:05Z"},
        },
    )
    assert made.status == 201 and made.body["author"]["date"] == "2024-01-02T03:04:05Z"
    assert made.body["verification"]["verified"] is False
    bad_parent = await sandbox.call(
        "alice",
        "POST",
        "/repos/acme/app/git/commits",
        {"message": "m", "tree": tree.body["sha"], "parents": ["0" * 40]},
    )
    assert bad_parent.status == 422
    tag = await sandbox.call(
        "alice",
        "POST",
        "/repos/acme/app/git/tags",
        {
            "tag": "v1.5.0",
            "message": "Release 1.5.0",
            "object": made.body["sha"],
            "type": "commit",
            "tagger": {"name": "Alice", "email": "alice@example.com", "date": "2024-01-03T00:00:00Z"},
        },
    )
    assert tag.status == 201, tag.body
    read_tag = await sandbox.call("alice", "GET", f"/repos/acme/app/git/tags/{tag.body['sha']}")
    assert read_tag.body["object"]["sha"] == made.body["sha"] and read_tag.body["message"] == "Release 1.5.0"
    ref = await sandbox.call(
        "alice", "POST", "/repos/acme/app/git/refs", {"ref": "refs/tags/v1.5.0", "sha": tag.body["sha"]}
    )
    assert ref.status == 201 and ref.body["object"]["type"] == "tag"
    by_tag = await sandbox.call("alice", "GET", "/repos/acme/app/commits/v1.5.0")
    assert by_tag.body["sha"] == made.body["sha"]
    # The repository on disk holds exactly what the API says.
    repos = sandbox.app[GIT]
    assert await repos.ref("acme/app", "refs/tags/v1.5.0") == tag.body["sha"]


async def test_first_file_in_an_empty_repository_creates_its_default_branch(sandbox: World) -> None:
    made = await sandbox.call("alice", "POST", "/orgs/acme/repos", {"name": "empty"})
    assert made.status == 201
    assert (await sandbox.call("alice", "GET", "/repos/acme/empty/commits")).status == 409
    assert (await sandbox.call("alice", "GET", "/repos/acme/empty/contents/README.md")).status == 404
    first = await sandbox.call(
        "alice", "PUT", "/repos/acme/empty/contents/README.md", {"message": "first", "content": b64("hi\n")}
    )
    assert first.status == 201 and first.body["commit"]["parents"] == []
    assert (await sandbox.call("alice", "GET", "/repos/acme/empty/branches/main")).body["commit"]["sha"] == first.body[
        "commit"
    ]["sha"]


async def test_seed_writes_binary_files(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice", files={"logo.png": b"\x89PNG\xff\x00"})
    await seed.commit(sandbox, "alice", "acme/app", "main", {"data.bin": b"\xfe\xff"}, "binary")
    for path, raw in (("logo.png", b"\x89PNG\xff\x00"), ("data.bin", b"\xfe\xff")):
        got = await sandbox.call("alice", "GET", f"/repos/acme/app/contents/{path}")
        assert base64.b64decode(got.body["content"]) == raw
    root = await sandbox.call("alice", "GET", "/repos/acme/app/contents/")
    assert sorted(e["name"] for e in root.body) == ["data.bin", "logo.png"]


async def test_default_branch_update(sandbox: World) -> None:
    repo = await seed.create_org_repo(sandbox, "acme", "app", admin="alice", default_branch="devel")
    assert repo["default_branch"] == "devel"
    missing = await sandbox.call("alice", "PATCH", "/repos/acme/app", {"default_branch": "nope"})
    assert missing.status == 422
    config_sha = await seed.put_config(sandbox, "alice", "acme/app", "branches:\n  devel: devel\n")
    devel = (await sandbox.call("alice", "GET", "/repos/acme/app/branches/devel")).body
    assert devel["commit"]["sha"] == config_sha


async def test_repository_carries_every_key_github_sends(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    answer = (await sandbox.call("alice", "GET", "/repos/acme/app")).body
    openapi = json.loads((REFERENCE / "openapi-operations.json").read_text())
    required = set(openapi["components"]["schemas"]["full-repository"]["required"])
    assert required <= set(answer), sorted(required - set(answer))
    for event in json.loads(EXAMPLES.read_text()):
        if event["name"] in ("push", "pull_request", "issues", "create"):
            for example in event["examples"]:
                expected = set(example["repository"])
                assert expected <= set(answer), (event["name"], sorted(expected - set(answer)))


async def test_restart_keeps_repositories_history_and_pulls(tmp_path: Path, session: Any) -> None:
    from bot.sandbox.harness import start_world

    first = await start_world(tmp_path, with_bot=False, session=session)
    try:
        await seed.create_org_repo(first, "acme", "app", admin="alice")
        await seed.create_branch(first, "alice", "acme/app", "fr/x", "main")
        sha = await seed.commit(first, "alice", "acme/app", "fr/x", {"x.txt": "x\n"}, "x")
        pr = await seed.open_pr(first, "alice", "acme/app", head="fr/x", base="main", title="X")
    finally:
        await first.close()
    second = await start_world(tmp_path, with_bot=False, session=session)
    try:
        again = await second.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}")
        assert again.status == 200 and again.body["head"]["sha"] == sha and again.body["mergeable"] is True
        merged = await seed.merge_pr(second, "alice", "acme/app", pr["number"], "squash")
        content = await second.call("alice", "GET", "/repos/acme/app/contents/x.txt")
        assert content.status == 200 and merged["merged"] is True
    finally:
        await second.close()


async def test_concurrent_merges_into_one_branch_all_land(sandbox: World) -> None:
    import asyncio

    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    heads = []
    for i in range(4):
        await seed.create_branch(sandbox, "alice", "acme/app", f"fix/{i}", "main")
        heads.append(await seed.commit(sandbox, "alice", "acme/app", f"fix/{i}", {f"fix{i}.txt": "x\n"}, f"fix {i}"))
    answers = await asyncio.gather(
        *(
            sandbox.call("alice", "POST", "/repos/acme/app/merges", {"base": "main", "head": f"fix/{i}"})
            for i in range(4)
        )
    )
    assert [a.status for a in answers] == [201] * 4
    repos = sandbox.app[GIT]
    main = await repos.ref("acme/app", "refs/heads/main")
    for head in heads:
        assert await repos.is_ancestor("acme/app", head, main)
    assert len(await repos.rev_list("acme/app", main, first_parent=True)) == 5  # four merges on the initial commit


async def test_design_cherry_pick_through_the_api_equals_git_cherry_pick(sandbox: World, tmp_path: Path) -> None:
    """DESIGN.md's pick without a clone: sibling commit, POST merges, commit the merged tree onto the target."""
    await seed.create_org_repo(
        sandbox, "acme", "app", admin="alice", files={"app.py": "a\nb\nc\nd\ne\nf\n", "old.txt": "o\n"}
    )
    await seed.create_branch(sandbox, "alice", "acme/app", "rc/1.5", "main")
    rc_head = await seed.commit(sandbox, "alice", "acme/app", "rc/1.5", {"app.py": "a\nb\nc\nd\ne\nf\nrc\n"}, "rc only")
    await seed.commit(sandbox, "alice", "acme/app", "main", {"app.py": "A\nb\nc\nd\ne\nf\n"}, "devel moves")
    fix = await seed.commit(
        sandbox,
        "alice",
        "acme/app",
        "main",
        {"app.py": "A\nb\nC\nd\ne\nf\n", "old.txt": None, "new.txt": "n\n"},
        "fix: c",
    )

    async def call(method: str, path: str, body: Any = None) -> Any:
        answer = await sandbox.call("alice", method, f"/repos/acme/app{path}", body)
        assert answer.status in (200, 201, 204), (path, answer.status, answer.body)
        return answer.body

    picked = await call("GET", f"/git/commits/{fix}")
    target = await call("GET", f"/git/commits/{rc_head}")
    sibling = await call(
        "POST",
        "/git/commits",
        {"message": "sibling", "tree": target["tree"]["sha"], "parents": [picked["parents"][0]["sha"]]},
    )
    await call("POST", "/git/refs", {"ref": "refs/heads/tmp-pick", "sha": sibling["sha"]})
    merged = await call("POST", "/merges", {"base": "tmp-pick", "head": fix})
    final = await call(
        "POST",
        "/git/commits",
        {
            "message": picked["message"] + f"\n\n(cherry picked from commit {fix})",
            "tree": merged["commit"]["tree"]["sha"],
            "parents": [rc_head],
            "author": picked["author"],
        },
    )
    await call("PATCH", "/git/refs/heads/rc/1.5", {"sha": final["sha"]})
    await call("DELETE", "/git/refs/heads/tmp-pick")

    work = tmp_path / "work"
    real_git(tmp_path, "clone", "--quiet", str(sandbox.app[GIT].path("acme/app")), str(work))
    real_git(work, "checkout", "--quiet", "-b", "expected", rc_head)
    real_git(work, "cherry-pick", "-x", fix)
    assert final["tree"]["sha"] == real_git(work, "rev-parse", "HEAD^{tree}")
    assert final["author"] == picked["author"]
