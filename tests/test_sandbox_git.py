"""GitRepos against git itself: trees, refs, merges, and cherry-picks that match `git cherry-pick` exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sandbox.git import EMPTY_TREE, NULL_SHA, GitRepos, Person, TreeEntry, valid_ref_name
from git_cli import real_git

ALICE = Person("alice", "alice@example.com", "2024-05-01T10:00:00Z")
BOB = Person("bob", "bob@example.com", "2024-05-02T11:30:00Z")
REPO = "acme/app"


async def commit_files(
    repos: GitRepos, parent: str | None, files: dict[str, str | None], message: str, who: Person = ALICE
) -> str:
    base_tree = await repos.tree_of(REPO, parent) if parent else None
    changes: dict[str, TreeEntry | None] = {}
    for path, text in files.items():
        changes[path] = (
            None if text is None else TreeEntry("100644", "blob", await repos.write_blob(REPO, text.encode()), path)
        )
    tree = await repos.write_tree(REPO, base_tree, changes)
    return await repos.commit_tree(REPO, tree, [parent] if parent else [], message, author=who, committer=who)


@pytest.fixture
async def repos(tmp_path: Path) -> GitRepos:
    repos = GitRepos(tmp_path / "git")
    await repos.init(REPO)
    return repos


async def test_nested_tree_writes_and_deletes(repos: GitRepos) -> None:
    first = await commit_files(repos, None, {"a/b/c.txt": "c\n", "a/d.txt": "d\n", "top.txt": "t\n"}, "first")
    second = await commit_files(repos, first, {"a/b/c.txt": None, "a/e/f.txt": "f\n"}, "second")
    paths = {e.path for e in await repos.ls_tree(REPO, second, recursive=True) if e.type == "blob"}
    assert paths == {"a/d.txt", "a/e/f.txt", "top.txt"}
    assert await repos.entry_at(REPO, second, "a/b") is None  # an emptied directory disappears, as in git
    only_file = await commit_files(repos, second, {"a/d.txt": None, "a/e/f.txt": None, "top.txt": None}, "empty")
    assert await repos.tree_of(REPO, only_file) == EMPTY_TREE


async def test_commit_keeps_author_committer_dates_and_message(repos: GitRepos) -> None:
    sha = await commit_files(repos, None, {"x": "1\n"}, "Subject\n\nBody line\n", who=BOB)
    commit = await repos.read_commit(REPO, sha)
    assert commit is not None
    assert commit.author == BOB and commit.committer == BOB
    assert commit.message == "Subject\n\nBody line\n"
    assert commit.parents == ()


async def test_update_ref_is_compare_and_swap(repos: GitRepos) -> None:
    first = await commit_files(repos, None, {"x": "1\n"}, "one")
    second = await commit_files(repos, first, {"x": "2\n"}, "two")
    assert await repos.update_ref(REPO, "refs/heads/main", first, NULL_SHA)
    assert not await repos.update_ref(REPO, "refs/heads/main", second, NULL_SHA)  # exists already
    assert not await repos.update_ref(REPO, "refs/heads/main", second, second)  # stale old value
    assert await repos.update_ref(REPO, "refs/heads/main", second, first)
    assert await repos.ref(REPO, "refs/heads/main") == second
    assert not await repos.delete_ref(REPO, "refs/heads/main", first)
    assert await repos.delete_ref(REPO, "refs/heads/main", second)
    assert await repos.ref(REPO, "refs/heads/main") is None


async def test_user_text_never_becomes_an_option_or_a_path(repos: GitRepos) -> None:
    assert await repos.resolve(REPO, "--output=/tmp/x") is None
    assert await repos.resolve_commit(REPO, "-h") is None
    assert not valid_ref_name("refs/heads/../x")
    assert not valid_ref_name("refs/heads/a b")
    assert valid_ref_name("refs/heads/rc/1.5")
    with pytest.raises(ValueError):
        repos.path("../etc/passwd")


async def test_merge_trees_reports_conflicts(repos: GitRepos) -> None:
    base = await commit_files(repos, None, {"f.txt": "a\nb\nc\n", "g.txt": "g\n"}, "base")
    ours = await commit_files(repos, base, {"f.txt": "A\nb\nc\n"}, "ours")
    theirs_clean = await commit_files(repos, base, {"f.txt": "a\nb\nC\n"}, "theirs clean")
    theirs_conflict = await commit_files(repos, base, {"f.txt": "X\nb\nc\n"}, "theirs conflict")
    clean = await repos.merge_trees(REPO, ours, theirs_clean)
    assert clean.clean
    merged_blob = next(e for e in await repos.ls_tree(REPO, clean.tree) if e.path == "f.txt")
    assert await repos.read_blob(REPO, merged_blob.sha) == b"A\nb\nC\n"
    conflict = await repos.merge_trees(REPO, ours, theirs_conflict)
    assert not conflict.clean
    assert "f.txt" in conflict.conflicts


async def test_cherry_pick_tree_matches_git_cherry_pick(repos: GitRepos, tmp_path: Path) -> None:
    # devel has moved on since rc/1.5 was cut; the fix touches lines both branches share.
    root = await commit_files(repos, None, {"app.py": "one\ntwo\nthree\nfour\nfive\n", "lib/util.py": "u\n"}, "root")
    rc = await commit_files(
        repos, root, {"app.py": "one\ntwo\nthree\nfour\nfive\nrc-only\n", "rc.txt": "rc\n"}, "rc work"
    )
    devel = await commit_files(repos, root, {"app.py": "ONE\ntwo\nthree\nfour\nfive\n", "new.txt": "n\n"}, "devel work")
    fix = await commit_files(
        repos,
        devel,
        {"app.py": "ONE\ntwo\nTHREE\nfour\nfive\n", "lib/util.py": None, "lib/x.py": "x\n"},
        "fix: three",
        who=BOB,
    )
    await repos.update_ref(REPO, "refs/heads/rc/1.5", rc, NULL_SHA)
    await repos.update_ref(REPO, "refs/heads/devel", fix, NULL_SHA)

    picked = await repos.cherry_pick_tree(REPO, rc, fix, committer=ALICE)
    assert picked.clean

    work = tmp_path / "work"
    real_git(tmp_path, "clone", "--quiet", str(repos.path(REPO)), str(work))
    real_git(work, "checkout", "--quiet", "rc/1.5")
    real_git(work, "cherry-pick", "-x", fix)
    assert picked.tree == real_git(work, "rev-parse", "HEAD^{tree}")


async def test_cherry_pick_conflict_matches_git(repos: GitRepos, tmp_path: Path) -> None:
    root = await commit_files(repos, None, {"app.py": "v1\n"}, "root")
    rc = await commit_files(repos, root, {"app.py": "rc\n"}, "rc")
    fix = await commit_files(repos, root, {"app.py": "fix\n"}, "fix")
    await repos.update_ref(REPO, "refs/heads/rc", rc, NULL_SHA)
    await repos.update_ref(REPO, "refs/heads/fix", fix, NULL_SHA)
    picked = await repos.cherry_pick_tree(REPO, rc, fix, committer=ALICE)
    assert not picked.clean and picked.conflicts == ("app.py",)
    work = tmp_path / "work"
    real_git(tmp_path, "clone", "--quiet", str(repos.path(REPO)), str(work))
    real_git(work, "checkout", "--quiet", "rc")
    with pytest.raises(AssertionError):
        real_git(work, "cherry-pick", fix)


async def test_diff_lists_files_like_github(repos: GitRepos) -> None:
    first = await commit_files(repos, None, {"a.txt": "1\n2\n", "b.txt": "b\n"}, "one")
    second = await commit_files(repos, first, {"a.txt": "1\nTWO\n3\n", "b.txt": None, "c.txt": "c\n"}, "two")
    files = {f.filename: f for f in await repos.diff(REPO, first, second)}
    assert {name: f.status for name, f in files.items()} == {"a.txt": "modified", "b.txt": "removed", "c.txt": "added"}
    assert (files["a.txt"].additions, files["a.txt"].deletions) == (2, 1)
    assert files["a.txt"].patch is not None and files["a.txt"].patch.startswith("@@ -1,2 +1,3 @@")
    assert files["b.txt"].sha is None
    body = "".join(f"line {n}\n" for n in range(20))
    third = await commit_files(
        repos, second, {"c.txt": None, "docs/moved.txt": body, "a.txt": None, "kept.txt": body}, "three"
    )
    fourth = await commit_files(
        repos, third, {"kept.txt": None, "docs/kept.txt": body + "one more\n"}, "rename with an edit"
    )
    renamed = {f.filename: f for f in await repos.diff(REPO, third, fourth)}
    assert list(renamed) == ["docs/kept.txt"]
    assert (renamed["docs/kept.txt"].status, renamed["docs/kept.txt"].previous_filename) == ("renamed", "kept.txt")
    assert (renamed["docs/kept.txt"].additions, renamed["docs/kept.txt"].deletions) == (1, 0)
    assert renamed["docs/kept.txt"].patch is not None and renamed["docs/kept.txt"].patch.endswith("+one more")


async def test_history_counts(repos: GitRepos) -> None:
    root = await commit_files(repos, None, {"x": "0\n"}, "root")
    a1 = await commit_files(repos, root, {"x": "a1\n"}, "a1")
    a2 = await commit_files(repos, a1, {"x": "a2\n"}, "a2")
    b1 = await commit_files(repos, root, {"y": "b1\n"}, "b1")
    assert await repos.merge_base(REPO, a2, b1) == root
    assert await repos.rev_list(REPO, a2, b1, reverse=True) == [a1, a2]
    assert await repos.count(REPO, b1, a2) == 1
    assert await repos.is_ancestor(REPO, root, a2) and not await repos.is_ancestor(REPO, b1, a2)
    commits = await repos.read_commits(REPO, [a2, a1, root])
    assert [c.message for c in commits] == ["a2", "a1", "root"]


async def test_caches_never_leak_objects_or_refs_between_repositories(repos: GitRepos) -> None:
    sha = await commit_files(repos, None, {"x": "1\n"}, "only in acme/app")
    await repos.update_ref(REPO, "refs/heads/main", sha, NULL_SHA)
    await repos.init("acme/other")
    assert await repos.read_commit(REPO, sha) is not None
    assert await repos.read_commit("acme/other", sha) is None
    assert await repos.object_type("acme/other", sha) is None
    assert await repos.read_commits("acme/other", [sha, "f" * 40]) == []
    assert await repos.resolve_commit("acme/other", "main") is None
    # A ref written behind the cache's back by update_ref is seen at once.
    second = await commit_files(repos, sha, {"x": "2\n"}, "two")
    assert await repos.resolve_commit(REPO, "main") == sha
    assert await repos.update_ref(REPO, "refs/heads/main", second, sha)
    assert await repos.resolve_commit(REPO, "main") == second


async def test_unrelated_histories_do_not_merge(repos: GitRepos) -> None:
    one = await commit_files(repos, None, {"a": "1\n"}, "one")
    other = await commit_files(repos, None, {"b": "2\n"}, "other root")
    outcome = await repos.merge_trees(REPO, one, other)
    assert not outcome.clean and outcome.tree == ""


async def test_a_ref_read_that_raced_a_write_is_not_cached(tmp_path: Path) -> None:
    import asyncio

    class SlowReader(GitRepos):
        """for-each-ref reads the refs, then is held until a write has finished."""

        held: asyncio.Event | None = None
        has_read = asyncio.Event()

        async def out(self, full_name: str, *args: str, **kwargs: object) -> str:
            answer = await super().out(full_name, *args, **kwargs)  # type: ignore[arg-type]
            if args[0] == "for-each-ref" and self.held is not None:
                self.has_read.set()
                await self.held.wait()
            return answer

    repos = SlowReader(tmp_path / "git")
    await repos.init(REPO)
    first = await commit_files(repos, None, {"x": "1\n"}, "one")
    second = await commit_files(repos, first, {"x": "2\n"}, "two")
    await repos.update_ref(REPO, "refs/heads/main", first, NULL_SHA)
    repos.held = asyncio.Event()
    reader = asyncio.ensure_future(repos.ref(REPO, "refs/heads/main"))
    await repos.has_read.wait()  # the reader has read "first" from disk and is held
    assert await repos.update_ref(REPO, "refs/heads/main", second, first)
    repos.held.set()
    assert await reader == first  # it answered what it read...
    repos.held = None
    assert await repos.ref(REPO, "refs/heads/main") == second  # ...but did not keep it
