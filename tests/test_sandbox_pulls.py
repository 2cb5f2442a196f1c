"""Sandbox pull requests through real HTTP: opening, listing, editing, and merging them as GitHub does, checked against git."""

from __future__ import annotations

import json
from pathlib import Path

from bot.sandbox import seed
from bot.sandbox.common import GIT
from bot.sandbox.git import GitRepos
from bot.sandbox.harness import World
from git_cli import real_git

EXAMPLES = Path(__file__).parent / "reference" / "webhook-examples.json"
REPO = "acme/app"


async def feature_repo(world: World) -> dict[str, str]:
    """main with a file; fr/FR-1 two commits ahead (by alice), main one commit ahead elsewhere."""
    await seed.create_org_repo(
        world, "acme", "app", admin="alice", files={"app.py": "one\ntwo\nthree\n", "lib.py": "lib\n"}
    )
    root = await seed.create_branch(world, "alice", REPO, "fr/FR-1", "main")
    f1 = await seed.commit(world, "alice", REPO, "fr/FR-1", {"app.py": "ONE\ntwo\nthree\n"}, "FR-1: first")
    f2 = await seed.commit(
        world, "alice", REPO, "fr/FR-1", {"new.py": "new\n", "lib.py": None}, "FR-1: second\n\nwith a body"
    )
    m1 = await seed.commit(world, "alice", REPO, "main", {"app.py": "one\ntwo\nTHREE\n"}, "main moves")
    return {"root": root, "f1": f1, "f2": f2, "m1": m1}


def repos_of(world: World) -> GitRepos:
    return world.app[GIT]


async def test_open_list_get_and_refusals(sandbox: World) -> None:
    shas = await feature_repo(sandbox)
    pr = await seed.open_pr(sandbox, "alice", REPO, head="fr/FR-1", base="main", title="FR-1 login", body="Adds login")
    assert (pr["state"], pr["head"]["ref"], pr["head"]["sha"], pr["base"]["ref"]) == (
        "open",
        "fr/FR-1",
        shas["f2"],
        "main",
    )
    assert (pr["commits"], pr["changed_files"], pr["merged"]) == (2, 3, False)
    assert pr["head"]["label"] == "acme:fr/FR-1"
    dup = await sandbox.call(
        "alice", "POST", "/repos/acme/app/pulls", {"title": "again", "head": "acme:fr/FR-1", "base": "main"}
    )
    assert dup.status == 422 and dup.body["errors"][0]["message"] == "A pull request already exists for acme:fr/FR-1."
    await seed.create_branch(sandbox, "alice", REPO, "old", shas["root"])
    nothing = await sandbox.call(
        "alice", "POST", "/repos/acme/app/pulls", {"title": "x", "head": "old", "base": "main"}
    )
    assert nothing.status == 422 and nothing.body["errors"][0]["message"].startswith("No commits between")
    assert (
        await sandbox.call("alice", "POST", "/repos/acme/app/pulls", {"title": "x", "head": "nope", "base": "main"})
    ).status == 422
    assert (
        await sandbox.call("alice", "POST", "/repos/acme/app/pulls", {"title": "x", "head": "fr/FR-1", "base": "nope"})
    ).status == 422

    got = await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}")
    assert (got.body["mergeable"], got.body["mergeable_state"]) == (True, "clean")
    listed = await sandbox.call("alice", "GET", "/repos/acme/app/pulls?state=open&base=main&head=acme:fr/FR-1")
    assert [p["number"] for p in listed.body] == [pr["number"]]
    assert (await sandbox.call("alice", "GET", "/repos/acme/app/pulls?base=devel")).body == []
    assert (await sandbox.call("alice", "GET", "/repos/acme/app/pulls?state=closed")).body == []
    commits = await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}/commits")
    assert [c["sha"] for c in commits.body] == [shas["f1"], shas["f2"]]
    files = await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}/files")
    assert {f["filename"]: f["status"] for f in files.body} == {
        "app.py": "modified",
        "new.py": "added",
        "lib.py": "removed",
    }
    by_sha = await sandbox.call("alice", "GET", f"/repos/acme/app/commits/{shas['f1']}/pulls")
    assert [p["number"] for p in by_sha.body] == [pr["number"]]


async def test_merge_commit_is_what_git_merge_gives(sandbox: World, tmp_path: Path) -> None:
    shas = await feature_repo(sandbox)
    pr = await seed.open_pr(sandbox, "alice", REPO, head="fr/FR-1", base="main", title="FR-1 login")
    stale = await sandbox.call("alice", "PUT", f"/repos/acme/app/pulls/{pr['number']}/merge", {"sha": shas["f1"]})
    assert stale.status == 409
    merged = await seed.merge_pr(sandbox, "alice", REPO, pr["number"], "merge")
    assert merged["merged"] is True
    repos = repos_of(sandbox)
    commit = await repos.read_commit(REPO, merged["sha"])
    assert commit is not None and commit.parents == (shas["m1"], shas["f2"])
    assert commit.message.startswith(f"Merge pull request #{pr['number']} from acme/fr/FR-1")
    work = tmp_path / "work"
    real_git(tmp_path, "clone", "--quiet", str(repos.path(REPO)), str(work))
    real_git(work, "checkout", "--quiet", "-b", "expected", shas["m1"])
    real_git(work, "merge", "--no-ff", "--no-edit", shas["f2"])
    assert commit.tree == real_git(work, "rev-parse", "HEAD^{tree}")
    after = await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}")
    assert (after.body["state"], after.body["merged"], after.body["merge_commit_sha"]) == (
        "closed",
        True,
        merged["sha"],
    )
    assert after.body["merged_by"]["login"] == "alice"
    assert (await sandbox.call("alice", "GET", "/repos/acme/app/branches/main")).body["commit"]["sha"] == merged["sha"]
    assert (await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}/merge")).status == 204
    again = await sandbox.call("alice", "PUT", f"/repos/acme/app/pulls/{pr['number']}/merge", {})
    assert again.status == 405
    by_merge = await sandbox.call("alice", "GET", f"/repos/acme/app/commits/{merged['sha']}/pulls")
    assert [p["number"] for p in by_merge.body] == [pr["number"]]


async def test_squash_keeps_pr_author_and_title(sandbox: World, tmp_path: Path) -> None:
    shas = await feature_repo(sandbox)
    pr = await seed.open_pr(sandbox, "alice", REPO, head="fr/FR-1", base="main", title="FR-1 login")
    merged = await seed.merge_pr(sandbox, "alice", REPO, pr["number"], "squash")
    repos = repos_of(sandbox)
    commit = await repos.read_commit(REPO, merged["sha"])
    assert commit is not None and commit.parents == (shas["m1"],)
    assert commit.message.startswith(f"FR-1 login (#{pr['number']})\n\n* FR-1: first\n\n* FR-1: second")
    assert commit.author.name == "alice"
    work = tmp_path / "work"
    real_git(tmp_path, "clone", "--quiet", str(repos.path(REPO)), str(work))
    real_git(work, "checkout", "--quiet", "-b", "expected", shas["m1"])
    real_git(work, "merge", "--squash", shas["f2"])
    real_git(work, "commit", "--quiet", "-m", "squash")
    assert commit.tree == real_git(work, "rev-parse", "HEAD^{tree}")
    after = (await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}")).body
    assert after["merge_commit_sha"] == merged["sha"]


async def test_rebase_replays_each_commit_like_cherry_pick(sandbox: World, tmp_path: Path) -> None:
    shas = await feature_repo(sandbox)
    pr = await seed.open_pr(sandbox, "alice", REPO, head="fr/FR-1", base="main", title="FR-1 login")
    merged = await seed.merge_pr(sandbox, "alice", REPO, pr["number"], "rebase")
    repos = repos_of(sandbox)
    last = await repos.read_commit(REPO, merged["sha"])
    assert last is not None
    first = await repos.read_commit(REPO, last.parents[0])
    assert first is not None and first.parents == (shas["m1"],)
    originals = await repos.read_commits(REPO, [shas["f1"], shas["f2"]])
    assert [(c.message, c.author) for c in (first, last)] == [(o.message, o.author) for o in originals]
    work = tmp_path / "work"
    real_git(tmp_path, "clone", "--quiet", str(repos.path(REPO)), str(work))
    real_git(work, "checkout", "--quiet", "-b", "expected", shas["m1"])
    real_git(work, "cherry-pick", shas["f1"])
    assert first.tree == real_git(work, "rev-parse", "HEAD^{tree}")
    real_git(work, "cherry-pick", shas["f2"])
    assert last.tree == real_git(work, "rev-parse", "HEAD^{tree}")
    after = (await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}")).body
    assert after["merge_commit_sha"] == merged["sha"] and after["merged"] is True
    still_listed = await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}/commits")
    assert [c["sha"] for c in still_listed.body] == [
        shas["f1"],
        shas["f2"],
    ]  # the PR's own commits, as GitHub keeps them
    for replayed in (first.sha, last.sha):
        found = await sandbox.call("alice", "GET", f"/repos/acme/app/commits/{replayed}/pulls")
        assert [p["number"] for p in found.body] == [pr["number"]]


async def test_conflicting_pr_is_not_mergeable(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice", files={"app.py": "v1\n"})
    await seed.create_branch(sandbox, "alice", REPO, "fix", "main")
    await seed.commit(sandbox, "alice", REPO, "fix", {"app.py": "fix\n"}, "fix")
    await seed.commit(sandbox, "alice", REPO, "main", {"app.py": "main\n"}, "main")
    pr = await seed.open_pr(sandbox, "alice", REPO, head="fix", base="main", title="Fix")
    got = (await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}")).body
    assert (got["mergeable"], got["mergeable_state"]) == (False, "dirty")
    for method in ("merge", "squash", "rebase"):
        refused = await sandbox.call(
            "alice", "PUT", f"/repos/acme/app/pulls/{pr['number']}/merge", {"merge_method": method}
        )
        assert refused.status == 405, (method, refused.body)
    assert (await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}/merge")).status == 404


async def test_pull_request_events(sandbox: World, receiver: seed.WebhookReceiver) -> None:
    shas = await feature_repo(sandbox)
    pr = await seed.open_pr(sandbox, "alice", REPO, head="fr/FR-1", base="main", title="FR-1 login")
    number = pr["number"]
    pushed = await seed.commit(sandbox, "alice", REPO, "fr/FR-1", {"more.py": "m\n"}, "FR-1: more")
    edited = await sandbox.call("alice", "PATCH", f"/repos/acme/app/pulls/{number}", {"title": "FR-1 login v2"})
    assert edited.status == 200 and edited.body["title"] == "FR-1 login v2"
    closed = await sandbox.call("alice", "PATCH", f"/repos/acme/app/pulls/{number}", {"state": "closed"})
    assert closed.body["state"] == "closed" and closed.body["merged"] is False
    reopened = await sandbox.call("alice", "PATCH", f"/repos/acme/app/pulls/{number}", {"state": "open"})
    assert reopened.body["state"] == "open"
    await seed.merge_pr(sandbox, "alice", REPO, number, "merge")
    await sandbox.settle()
    events = [(p["action"], p["pull_request"]["head"]["sha"]) for p in receiver.of("pull_request")]
    assert [a for a, _ in events] == ["opened", "synchronize", "edited", "closed", "reopened", "closed"]
    payloads = receiver.of("pull_request")
    assert payloads[1]["before"] == shas["f2"] and payloads[1]["after"] == pushed
    assert payloads[1]["pull_request"]["commits"] == 3
    assert payloads[2]["changes"] == {"title": {"from": "FR-1 login"}}
    assert payloads[3]["pull_request"]["merged"] is False
    assert payloads[5]["pull_request"]["merged"] is True and payloads[5]["pull_request"]["merge_commit_sha"]
    example = next(e for e in json.loads(EXAMPLES.read_text()) if e["name"] == "pull_request")
    opened_example = next(x for x in example["examples"] if x.get("action") == "opened")
    assert set(opened_example) - {"installation", "organization"} <= set(payloads[0])
    assert set(opened_example["pull_request"]) <= set(payloads[0]["pull_request"])
    assert set(opened_example["pull_request"]["head"]) <= set(payloads[0]["pull_request"]["head"])
    assert set(opened_example["pull_request"]["_links"]) <= set(payloads[0]["pull_request"]["_links"])


async def test_change_base_and_pushing_head_into_base_merges(sandbox: World, receiver: seed.WebhookReceiver) -> None:
    shas = await feature_repo(sandbox)
    await seed.create_branch(sandbox, "alice", REPO, "devel", "main")
    pr = await seed.open_pr(sandbox, "alice", REPO, head="fr/FR-1", base="main", title="FR-1")
    moved = await sandbox.call("alice", "PATCH", f"/repos/acme/app/pulls/{pr['number']}", {"base": "devel"})
    assert moved.status == 200 and moved.body["base"]["ref"] == "devel"
    assert (
        await sandbox.call("alice", "PATCH", f"/repos/acme/app/pulls/{pr['number']}", {"base": "nope"})
    ).status == 422
    # Someone merges the branch by hand (git merge + push): GitHub marks the PR merged.
    answer = await sandbox.call("alice", "POST", "/repos/acme/app/merges", {"base": "devel", "head": "fr/FR-1"})
    assert answer.status == 201
    after = (await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}")).body
    assert (after["state"], after["merged"]) == ("closed", True)
    await sandbox.settle()
    edits = [p for p in receiver.of("pull_request") if p["action"] == "edited"]
    assert edits[0]["changes"]["base"] == {"ref": {"from": "main"}, "sha": {"from": shas["m1"]}}


async def test_list_sort_and_pagination(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    numbers = []
    for i in range(3):
        await seed.create_branch(sandbox, "alice", REPO, f"b{i}", "main")
        await seed.commit(sandbox, "alice", REPO, f"b{i}", {f"f{i}": "x\n"}, f"c{i}")
        numbers.append(
            (await seed.open_pr(sandbox, "alice", REPO, head=f"b{i}", base="main", title=f"PR {i}"))["number"]
        )
    page = await sandbox.call("alice", "GET", "/repos/acme/app/pulls?per_page=2")
    assert [p["number"] for p in page.body] == numbers[::-1][:2]
    assert 'rel="next"' in page.headers["Link"]
    oldest_first = await sandbox.call("alice", "GET", "/repos/acme/app/pulls?sort=created&direction=asc")
    assert [p["number"] for p in oldest_first.body] == numbers


async def test_deleting_the_base_branch_closes_its_prs(sandbox: World, receiver: seed.WebhookReceiver) -> None:
    await feature_repo(sandbox)
    await seed.create_branch(sandbox, "alice", REPO, "rc/1.5", "main")
    await seed.create_branch(sandbox, "alice", REPO, "fix", "main")
    await seed.commit(sandbox, "alice", REPO, "fix", {"fix.txt": "f\n"}, "fix")
    into_rc = await seed.open_pr(sandbox, "alice", REPO, head="fix", base="rc/1.5", title="Fix for 1.5")
    into_main = await seed.open_pr(sandbox, "alice", REPO, head="fix", base="main", title="Fix")
    assert (await sandbox.call("alice", "DELETE", "/repos/acme/app/git/refs/heads/rc/1.5")).status == 204
    states = {
        n: (await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{n}")).body["state"]
        for n in (into_rc["number"], into_main["number"])
    }
    assert states == {into_rc["number"]: "closed", into_main["number"]: "open"}
    await sandbox.settle()
    closed = [p["number"] for p in receiver.of("pull_request") if p["action"] == "closed"]
    assert closed == [into_rc["number"]]


async def test_squash_of_one_commit_takes_its_message(sandbox: World) -> None:
    await seed.create_org_repo(sandbox, "acme", "app", admin="alice")
    await seed.create_branch(sandbox, "alice", REPO, "fix", "main")
    await seed.commit(sandbox, "alice", REPO, "fix", {"f.txt": "f\n"}, "Fix the login\n\nIt broke on Sundays.")
    pr = await seed.open_pr(sandbox, "alice", REPO, head="fix", base="main", title="A different PR title")
    merged = await seed.merge_pr(sandbox, "alice", REPO, pr["number"], "squash")
    commit = await repos_of(sandbox).read_commit(REPO, merged["sha"])
    assert (
        commit is not None and commit.message.rstrip("\n") == f"Fix the login (#{pr['number']})\n\nIt broke on Sundays."
    )


async def test_update_branch_merges_the_base_into_the_head_as_github_does(sandbox: World) -> None:
    shas = await feature_repo(sandbox)
    pr = await seed.open_pr(sandbox, "alice", REPO, head="fr/FR-1", base="main", title="FR-1 login")
    path = f"/repos/acme/app/pulls/{pr['number']}/update-branch"
    stale = await sandbox.call("alice", "PUT", path, {"expected_head_sha": shas["f1"]})
    assert stale.status == 422 and stale.body["message"] == "expected head sha didn't match current head ref."
    await seed.grant(sandbox, REPO, "rex", "read")
    assert (await sandbox.call("rex", "PUT", path, {})).status == 403
    done = await sandbox.call("alice", "PUT", path, {"expected_head_sha": shas["f2"]})
    assert done.status == 202 and done.body["message"] == "Updating pull request branch."
    head = (await sandbox.call("alice", "GET", f"/repos/acme/app/pulls/{pr['number']}")).body["head"]["sha"]
    commit = (await sandbox.call("alice", "GET", f"/repos/acme/app/git/commits/{head}")).body
    # GitHub's merge commit: the PR's head first, the base's head second, committed by GitHub itself.
    assert [p["sha"] for p in commit["parents"]] == [shas["f2"], shas["m1"]]
    assert commit["committer"]["name"] == "GitHub" and commit["author"]["name"] == "alice"
    assert commit["message"] == "Merge branch 'main' into fr/FR-1"
    assert await repos_of(sandbox).is_ancestor(REPO, shas["m1"], head)
    again = await sandbox.call("alice", "PUT", path, {})
    assert again.status == 422 and again.body["message"] == "There are no new commits on the base branch."
