"""The sandbox's repositories through real HTTP: creation, contents, refs, commits, branches, compare, merges."""

from __future__ import annotations

import base64

from bot.sandbox import seed
from bot.sandbox.harness import World


async def test_story_create_commit_read(sandbox: World) -> None:
    repo = await seed.create_org_repo(sandbox, "acme", "app", admin="alice", files={"README.md": "hello\n", "src/app.py": "print(1)\n"})
    assert repo["full_name"] == "acme/app"
    assert repo["owner"]["type"] == "Organization"
    got = await sandbox.call("alice", "GET", "/repos/acme/app")
    assert got.status == 200, got.body
    sha = await seed.commit(sandbox, "alice", "acme/app", "main", {"src/app.py": "print(2)\n", "README.md": None}, "change")
    contents = await sandbox.call("alice", "GET", "/repos/acme/app/contents/src/app.py")
    assert contents.status == 200, contents.body
    assert base64.b64decode(contents.body["content"]) == b"print(2)\n"
    missing = await sandbox.call("alice", "GET", "/repos/acme/app/contents/README.md")
    assert missing.status == 404
    commit = await sandbox.call("alice", "GET", "/repos/acme/app/commits/main")
    assert commit.body["sha"] == sha, commit.body
    assert {f["filename"]: f["status"] for f in commit.body["files"]} == {"src/app.py": "modified", "README.md": "removed"}
    cfg = await seed.put_config(sandbox, "alice", "acme/app", "branches:\n  devel: main\n")
    again = await seed.put_config(sandbox, "alice", "acme/app", "branches:\n  devel: devel\n")
    assert cfg != again
