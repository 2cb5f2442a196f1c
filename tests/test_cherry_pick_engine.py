"""The API cherry-pick engine held to real git: for each history, the bot's tree equals `git cherry-pick -x`'s."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.github.auth import GitHubApp
from bot.github.cherry_pick import Picker, SourceCommit
from bot.sandbox.common import GIT, STORE
from bot.sandbox.harness import World

OWNER, NAME = "acme", "app"
FULL = f"{OWNER}/{NAME}"
TEXT = "".join(f"line {i}\n" for i in range(1, 21))
BINARY = bytes(range(256)) * 8


class Work:
    """A working clone where histories are made with real git and pushed to the sandbox's bare repository."""

    def __init__(self, root: Path, bare: Path) -> None:
        self.root, self.bare = root, bare
        root.mkdir(parents=True)
        self.git("init", "-q", "-b", "devel")
        self.git("config", "user.name", "Dana Dev")
        self.git("config", "user.email", "dana@example.com")
        self.git("config", "commit.gpgsign", "false")

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=self.root, capture_output=True, text=True, check=check)

    def rev(self, rev: str) -> str:
        return self.git("rev-parse", rev).stdout.strip()

    def write(self, files: dict[str, str | bytes | None]) -> None:
        for path, content in files.items():
            target = self.root / path
            if content is None:
                self.git("rm", "-q", path)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
            self.git("add", path)

    def commit(self, message: str, files: dict[str, str | bytes | None], *, author: str | None = None) -> str:
        self.write(files)
        args = ["commit", "-q", "-m", message]
        if author:
            args += ["--author", author]
        self.git(*args)
        return self.rev("HEAD")

    def push(self) -> None:
        self.git("push", "-q", "--force", str(self.bare), "refs/heads/*:refs/heads/*")

    def expected(self, shas: list[str], mainline: bool) -> tuple[str, str | None]:
        """What `git cherry-pick -x` does on rc/1.5: ("picked", tree) | ("conflict", None) | ("empty", None)."""
        self.git("switch", "-q", "-c", "expected", "rc/1.5")
        args = ["cherry-pick", "-x", *(["-m", "1"] if mainline else []), *shas]
        result = self.git(*args, check=False)
        if result.returncode == 0:
            return "picked", self.rev("HEAD^{tree}")
        if self.git("diff", "--name-only", "--diff-filter=U").stdout.strip():
            return "conflict", None
        if "is now empty" in (result.stdout + result.stderr):
            if len(shas) > 1:
                # git stops at an empty pick; skipping it is what the bot does.
                while True:
                    step = self.git("cherry-pick", "--skip", check=False)
                    if step.returncode == 0:
                        break
                    if self.git("diff", "--name-only", "--diff-filter=U").stdout.strip():
                        return "conflict", None
                if self.rev("HEAD") == self.rev("rc/1.5"):
                    return "empty", None
                return "picked", self.rev("HEAD^{tree}")
            return "empty", None
        raise AssertionError(f"git cherry-pick failed unexpectedly: {result.stdout}{result.stderr}")


@dataclass
class History:
    shas: list[str]
    mainline: bool


def base(work: Work) -> None:
    work.commit("Base", {"a.txt": TEXT, "b.txt": "b\n" * 5, "old.txt": TEXT.replace("line", "old"), "bin.dat": BINARY})
    work.git("branch", "rc/1.5")


def squash_clean(w: Work) -> History:
    w.commit("Devel moves on", {"b.txt": "b2\n" * 5})
    return History([w.commit("Fix line 3 (#7)", {"a.txt": TEXT.replace("line 3\n", "line three\n")})], False)


def rebase_three(w: Work) -> History:
    shas = [
        w.commit("Fix one", {"a.txt": TEXT.replace("line 1\n", "line one\n")}),
        w.commit("Fix two", {"c.txt": "new file\n"}, author="Ann Author <ann@example.com>"),
        w.commit("Fix three", {"a.txt": TEXT.replace("line 1\n", "line one\n").replace("line 20\n", "line twenty\n")}),
    ]
    return History(shas, False)


def merge_commit(w: Work) -> History:
    w.git("switch", "-q", "-c", "feature")
    w.commit("Feature part 1", {"a.txt": TEXT.replace("line 5\n", "line five\n")})
    w.commit("Feature part 2", {"d.txt": "d\n"})
    w.git("switch", "-q", "devel")
    w.commit("Devel moves on", {"b.txt": "b3\n" * 5})
    w.git("merge", "-q", "--no-ff", "-m", "Merge pull request #9 from feature", "feature")
    return History([w.rev("HEAD")], True)


def rename_onto_edited(w: Work) -> History:
    w.git("switch", "-q", "rc/1.5")
    w.commit("RC edits old.txt", {"old.txt": TEXT.replace("line", "old").replace("old 2\n", "old two\n")})
    w.git("switch", "-q", "devel")
    w.git("mv", "old.txt", "new.txt")
    return History(
        [
            w.commit(
                "Rename old.txt to new.txt and edit",
                {"new.txt": TEXT.replace("line", "old").replace("old 19\n", "old nineteen\n")},
            )
        ],
        False,
    )


def deletion(w: Work) -> History:
    return History([w.commit("Remove b.txt", {"b.txt": None})], False)


def binary_clean(w: Work) -> History:
    return History(
        [w.commit("New icon", {"bin.dat": BINARY[::-1], "img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(100)})], False
    )


def binary_conflict(w: Work) -> History:
    w.git("switch", "-q", "rc/1.5")
    w.commit("RC icon", {"bin.dat": BINARY + b"rc"})
    w.git("switch", "-q", "devel")
    return History([w.commit("Devel icon", {"bin.dat": BINARY + b"devel"})], False)


def text_conflict(w: Work) -> History:
    w.git("switch", "-q", "rc/1.5")
    w.commit("RC hotfix", {"a.txt": TEXT.replace("line 3\n", "line 3 (rc)\n")})
    w.git("switch", "-q", "devel")
    return History([w.commit("Fix line 3", {"a.txt": TEXT.replace("line 3\n", "line three\n")})], False)


def already_applied(w: Work) -> History:
    fix = {"a.txt": TEXT.replace("line 8\n", "line eight\n")}
    w.git("switch", "-q", "rc/1.5")
    w.commit("Fix line 8 (picked by hand)", fix)
    w.git("switch", "-q", "devel")
    return History([w.commit("Fix line 8", fix)], False)


def rebase_second_conflicts(w: Work) -> History:
    w.git("switch", "-q", "rc/1.5")
    w.commit("RC hotfix", {"a.txt": TEXT.replace("line 10\n", "line 10 (rc)\n")})
    w.git("switch", "-q", "devel")
    shas = [
        w.commit("Fix one", {"e.txt": "e\n"}),
        w.commit("Fix two", {"a.txt": TEXT.replace("line 10\n", "line ten\n")}),
    ]
    return History(shas, False)


def merge_commit_conflict(w: Work) -> History:
    w.git("switch", "-q", "rc/1.5")
    w.commit("RC hotfix", {"a.txt": TEXT.replace("line 5\n", "line 5 (rc)\n")})
    w.git("switch", "-q", "devel")
    w.git("switch", "-q", "-c", "feature")
    w.commit("Feature", {"a.txt": TEXT.replace("line 5\n", "line five\n")})
    w.git("switch", "-q", "devel")
    w.commit("Devel moves on", {"b.txt": "b4\n" * 5})
    w.git("merge", "-q", "--no-ff", "-m", "Merge pull request #11 from feature", "feature")
    return History([w.rev("HEAD")], True)


def rebase_partly_applied(w: Work) -> History:
    first = {"a.txt": TEXT.replace("line 12\n", "line twelve\n")}
    w.git("switch", "-q", "rc/1.5")
    w.commit("Fix twelve (picked earlier)", first)
    w.git("switch", "-q", "devel")
    shas = [w.commit("Fix twelve", first), w.commit("Fix more", {"f.txt": "f\n"})]
    return History(shas, False)


CORPUS: dict[str, tuple[Callable[[Work], History], str]] = {
    "squash-clean": (squash_clean, "picked"),
    "rebase-three-commits": (rebase_three, "picked"),
    "merge-commit-m1": (merge_commit, "picked"),
    "rename-onto-edited-file": (rename_onto_edited, "picked"),
    "deletion": (deletion, "picked"),
    "binary-clean": (binary_clean, "picked"),
    "binary-conflict": (binary_conflict, "conflict"),
    "text-conflict": (text_conflict, "conflict"),
    "already-applied": (already_applied, "empty"),
    "rebase-second-conflicts": (rebase_second_conflicts, "conflict"),
    "merge-commit-conflict": (merge_commit_conflict, "conflict"),
    "rebase-partly-applied": (rebase_partly_applied, "picked"),
}


async def installation_gh(sandbox: World):
    installation = sandbox.app[STORE].installation_for(OWNER)
    key = sandbox.private_key()
    github = GitHubApp(sandbox.session, app_id=sandbox.sandbox.config.app_id, private_key=key, base_url=sandbox.api_url)
    return await github.installation_client(installation["id"])


@pytest.mark.parametrize("case", sorted(CORPUS))
async def test_engine_matches_git_cherry_pick(sandbox: World, tmp_path: Path, case: str) -> None:
    answer = await sandbox.call("alice", "POST", f"/orgs/{OWNER}/repos", {"name": NAME})
    assert answer.status == 201, answer.body
    repos = sandbox.app[GIT]
    work = Work(tmp_path / "work", repos.path(FULL))
    base(work)
    build, expected_outcome = CORPUS[case]
    history = build(work)
    work.git("switch", "-q", "devel")
    work.push()
    outcome_git, tree_git = work.expected(history.shas, history.mainline)
    assert outcome_git == expected_outcome, "the corpus case no longer builds the history it names"

    gh = await installation_gh(sandbox)
    listing = [
        await gh.getitem("/repos/{owner}/{repo}/commits/{ref}", {"owner": OWNER, "repo": NAME, "ref": sha})
        for sha in history.shas
    ]
    rc = await gh.getitem(
        "/repos/{owner}/{repo}/branches/{+branch}", {"owner": OWNER, "repo": NAME, "branch": "rc/1.5"}
    )
    picker = Picker(
        gh,
        OWNER,
        NAME,
        committer={"name": "release-train[bot]", "email": "1+release-train[bot]@users.noreply.github.com"},
    )
    outcome = await picker.pick(
        [SourceCommit.from_listing(c) for c in listing],
        onto_sha=rc["commit"]["sha"],
        onto_tree=rc["commit"]["commit"]["tree"]["sha"],
        branch="cherry-pick/7-to-rc-1.5",
        mainline=history.mainline,
    )

    assert outcome.outcome == outcome_git
    refs = sorted(work.git("ls-remote", "--heads", str(work.bare)).stdout.split()[1::2])
    if outcome_git == "picked":
        assert outcome.tree_sha == tree_git
        assert refs == sorted(
            ["refs/heads/devel", "refs/heads/rc/1.5", "refs/heads/cherry-pick/7-to-rc-1.5"]
            + (["refs/heads/feature"] if "merge" in case else [])
        )
        work.git("fetch", "-q", str(work.bare), "cherry-pick/7-to-rc-1.5")
        assert work.rev("FETCH_HEAD^{tree}") == tree_git
        # Every picked commit sits on the RC head, keeps its author and says where it came from.
        picked_count = len(outcome.picked)
        assert work.rev(f"FETCH_HEAD~{picked_count}") == work.rev("rc/1.5")
        for source_sha, new_sha in outcome.picked:
            source_author = work.git("log", "-1", "--format=%an <%ae> %ad", source_sha).stdout
            assert work.git("log", "-1", "--format=%an <%ae> %ad", new_sha).stdout == source_author
            body = work.git("log", "-1", "--format=%B", new_sha).stdout.rstrip("\n")
            assert body.endswith(f"\n\n(cherry picked from commit {source_sha})")
            assert work.git("log", "-1", "--format=%cn", new_sha).stdout.strip() == "release-train[bot]"
    else:
        # No PR material and no temporary refs left behind.
        assert refs == sorted(
            ["refs/heads/devel", "refs/heads/rc/1.5"] + (["refs/heads/feature"] if "merge" in case else [])
        )
    if outcome_git == "conflict":
        assert outcome.conflict_sha in history.shas


async def test_existing_branch_is_refused_then_reused_on_request(sandbox: World, tmp_path: Path) -> None:
    answer = await sandbox.call("alice", "POST", f"/orgs/{OWNER}/repos", {"name": NAME})
    assert answer.status == 201, answer.body
    work = Work(tmp_path / "work", sandbox.app[GIT].path(FULL))
    base(work)
    history = squash_clean(work)
    work.git("branch", "cherry-pick/7-to-rc-1.5", "rc/1.5")
    work.push()
    gh = await installation_gh(sandbox)
    listing = await gh.getitem(
        "/repos/{owner}/{repo}/commits/{ref}", {"owner": OWNER, "repo": NAME, "ref": history.shas[0]}
    )
    rc_sha, rc_tree = work.rev("rc/1.5"), work.rev("rc/1.5^{tree}")
    picker = Picker(gh, OWNER, NAME)
    from bot.github.cherry_pick import BranchExists

    with pytest.raises(BranchExists):
        await picker.pick(
            [SourceCommit.from_listing(listing)], onto_sha=rc_sha, onto_tree=rc_tree, branch="cherry-pick/7-to-rc-1.5"
        )
    outcome = await picker.pick(
        [SourceCommit.from_listing(listing)],
        onto_sha=rc_sha,
        onto_tree=rc_tree,
        branch="cherry-pick/7-to-rc-1.5",
        reuse_branch=True,
    )
    assert outcome.outcome == "picked"
    assert work.expected(history.shas, False) == ("picked", outcome.tree_sha)
